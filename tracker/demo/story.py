"""The May 2025 story as a timeline of what the four sources served, step by step.

Each step changes what the loopback server answers; the demo then runs one
check of every source, exactly as the service would. Documents dated after May
2025 (the replacement rule 2026-24110, its OIRA review and its correction) are
realistic stand-ins: no such rule had appeared when this was written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from spiders.base import now
from tracker.demo.server import FixtureServer
from tracker.kinds.federal_register.spider import SEARCH_FIELDS
from tracker.kinds.reginfo.spider import REPORT_PATH, editions

FILES = Path(__file__).parent / "files"
REAL_FR = "https://www.federalregister.gov"
JSON = "application/json; charset=utf-8"
PDF = "application/pdf"
XML = "application/xml"

LISTING = "/news-updates"
PRESS_RELEASE = "/press-release/department-commerce-announces-rescission-biden-era-artificial-intelligence-diffusion-rule-strengthens"
OTHER_RELEASES = (
    "/press-release/commerce-adds-entities-entity-list-advancing-chinas-quantum-and-military-modernization",
    "/press-release/bis-imposes-penalty-unlicensed-exports-advanced-computing-items",
)
GUIDANCE = {
    "/media/documents/general-prohibition-10-guidance-may-13-2025.pdf": "general-prohibition-10-guidance-may-13-2025.pdf",
    "/media/documents/ai-policy-statement-training-ai-models-may-13-2025": "ai-policy-statement-training-ai-models-may-13-2025.pdf",
    "/media/documents/ai-counter-diversion-industry-guidance-may-13-2025.pdf": "ai-counter-diversion-industry-guidance-may-13-2025.pdf",
}
OTHER_RELEASE_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><title>Press release | Bureau of Industry and Security</title></head>"
    "<body><main><h1>Press release</h1><p>An earlier announcement of the Bureau of Industry and Security.</p>"
    "</main></body></html>"
)


class Sources:
    """Sets the loopback server's routes the way bis.gov, the FR API and the eCFR answer."""

    def __init__(self, server: FixtureServer):
        self.server = server

    def file(self, folder: str, name: str) -> bytes:
        body = (FILES / folder / name).read_bytes()
        return body.replace(REAL_FR.encode(), self.server.base_url.encode()) if folder == "federal_register" else body

    def press_release(self, variant: str, guidance_online: bool = False) -> None:
        self.server.set(LISTING, self.file("bis", "news-updates.html"))
        self.server.set(PRESS_RELEASE, self.file("bis", f"press-release-ai-diffusion-rescission-{variant}.html"))
        for path in OTHER_RELEASES:
            self.server.set(path, OTHER_RELEASE_PAGE)
        for path, name in GUIDANCE.items():
            if guidance_online:
                self.server.set(path, self.file("bis", name), content_type=PDF)

    def federal_register(
        self, published: list[str], on_inspection: tuple[str, ...] = (), saved: dict | None = None
    ) -> None:
        """The search lists `published` (newest first); `saved` picks another file for a document's JSON."""
        saved = saved or {}
        search = json.loads(self.file("federal_register", "documents_page1.json"))
        records = {n: json.loads(self.file("federal_register", saved.get(n, f"{n}.json"))) for n in published}
        search.update(
            count=len(published),
            total_pages=1,
            next_page_url=None,
            results=[{field: records[n][field] for field in SEARCH_FIELDS} for n in published],
        )
        self.server.set("/api/v1/documents.json", json.dumps(search), content_type=JSON, ignore_query=True)
        for number, record in records.items():
            self.server.set(f"/api/v1/documents/{number}.json", json.dumps(record), content_type=JSON)
            text_path = urlsplit(record["body_html_url"]).path
            self.server.set(text_path, self.file("federal_register", f"{number}.html"))
        listing = json.loads(self.file("federal_register", "public_inspection_current.json"))
        listing["results"] = [r for r in listing["results"] if r["document_number"] in on_inspection]
        listing["count"] = len(listing["results"])
        self.server.set("/api/v1/public-inspection-documents/current.json", json.dumps(listing), content_type=JSON)
        for record in listing["results"]:
            self.server.set(
                urlsplit(record["raw_text_url"]).path,
                self.file("federal_register", f"{record['document_number']}.pi.txt"),
                content_type="text/plain; charset=utf-8",
            )

    def outage(self) -> None:
        """Every source fails: bis.gov answers 503, the FR API its HTML 'Request Access' page,
        the eCFR 503 with Retry-After while it reprocesses the title."""
        blocked = self.file("federal_register", "request_access.html")
        for path in list(self.server.routes):
            if path.startswith("/api/v1/"):
                self.server.set(path, blocked, ignore_query=path in self.server.any_query)
            elif path.startswith("/api/versioner/"):
                self.server.set(
                    path,
                    '{"message": "Title 15 currently unavailable"}',
                    status=503,
                    content_type=JSON,
                    headers={"Retry-After": "1"},
                )
            else:
                self.server.set(path, "Service Unavailable", status=503, content_type="text/plain")

    def reginfo(self, review: str) -> None:
        """The Unified Agenda entry of RIN 0694-AJ90, and OIRA's review of it: "none",
        "received" (under review) or "concluded"."""
        under_review = "under_review_0694-AJ90.xml" if review == "received" else "under_review_none.xml"
        completed = "completed_0694-AJ90.xml" if review == "concluded" else "completed_none.xml"
        self.server.set(
            f"{REPORT_PATH}?f=EO_RULES_UNDER_REVIEW.xml", self.file("reginfo", under_review), content_type=XML
        )
        self.server.set(f"{REPORT_PATH}?f=EO_RULE_COMPLETED_YTD.xml", self.file("reginfo", completed), content_type=XML)
        for edition in editions(now().date()):  # whichever edition the spider asks for first, today
            self.server.set(
                f"{REPORT_PATH}?f=REGINFO_RIN_DATA_{edition}.xml", self.file("reginfo", "agenda.xml"), content_type=XML
            )

    def ecfr(self, amended_on: str) -> None:
        self.server.set(
            "/api/versioner/v1/versions/title-15.json?part=744",
            self.file("ecfr", f"versions_744_{amended_on}.json"),
            content_type=JSON,
        )
        self.server.set(
            f"/api/versioner/v1/full/{amended_on}/title-15.xml?part=744",
            self.file("ecfr", f"part_744_{amended_on}.xml"),
            content_type="application/xml",
        )


@dataclass(frozen=True)
class Step:
    when: str
    what: str
    serve: Callable[[Sources], None]


def serving(
    *,
    bis: str,
    fr: list[str],
    ecfr: str,
    guidance_online: bool = False,
    on_inspection: tuple[str, ...] = (),
    saved: dict | None = None,
    review: str = "none",
) -> Callable[[Sources], None]:
    """A step's `serve` when all four sources answer: this press release variant, FR documents,
    eCFR date and OIRA review of RIN 0694-AJ90."""

    def serve(sources: Sources) -> None:
        sources.press_release(bis, guidance_online)
        sources.federal_register(fr, on_inspection, saved)
        sources.ecfr(ecfr)
        sources.reginfo(review)

    return serve


PUBLISHED = ["2025-00637", "2025-00636"]

TIMELINE = (
    Step(
        "13 May 2025, 09:00",
        "Rulewatch starts watching: the press release is out, the AI Diffusion rule "
        "(2025-00636) is in force, the EAR as of January, and the Unified Agenda lists RIN "
        "0694-AJ90. This first check is the baseline.",
        serving(bis="v1", fr=PUBLISHED, ecfr="2025-01-16"),
    ),
    Step(
        "13 May 2025, 10:00",
        "bis.gov re-renders the press release with a new theme; the FR counts page views.",
        serving(
            bis="v1-rerender",
            fr=PUBLISHED,
            saved={"2025-00636": "2025-00636.page_views.json"},
            ecfr="2025-01-16",
        ),
    ),
    Step(
        "13 May 2025, 16:00",
        "The three promised guidance documents go up as PDFs, linked from the press release.",
        serving(bis="v1-guidance-linked", guidance_online=True, fr=PUBLISHED, ecfr="2025-01-16"),
    ),
    Step(
        "20 May 2025",
        "BIS silently edits its press release.",
        serving(bis="v2-edited", guidance_online=True, fr=PUBLISHED, ecfr="2025-01-16"),
    ),
    Step(
        "21 May 2025",
        "An outage: bis.gov answers 503, the FR API its 'Request Access' page, the eCFR 503 "
        "with Retry-After. Failures are recorded, never versions, never 'removed'.",
        Sources.outage,
    ),
    Step(
        "2 Nov 2026",
        "OIRA receives the replacement rule (RIN 0694-AJ90) for EO 12866 review: its first "
        "public trace, weeks before the Federal Register. The expectation is met here, once.",
        serving(bis="v2-edited", guidance_online=True, fr=PUBLISHED, ecfr="2025-01-16", review="received"),
    ),
    Step(
        "24 Nov 2026",
        "OIRA has concluded its review; the replacement rule is filed for public inspection, a day before publication.",
        serving(
            bis="v2-edited",
            guidance_online=True,
            fr=PUBLISHED,
            on_inspection=("2026-24110",),
            ecfr="2025-01-16",
            review="concluded",
        ),
    ),
    Step(
        "25 Nov 2026",
        "The replacement rule is published in the Federal Register.",
        serving(
            bis="v2-edited", guidance_online=True, fr=["2026-24110", *PUBLISHED], ecfr="2025-01-16", review="concluded"
        ),
    ),
    Step(
        "27 Nov 2026",
        "The eCFR catches up: 15 CFR part 744 is amended by the replacement rule (91 FR 82417), which joins it to the rule's thread.",
        serving(
            bis="v2-edited", guidance_online=True, fr=["2026-24110", *PUBLISHED], ecfr="2026-11-25", review="concluded"
        ),
    ),
    Step(
        "1 Dec 2026",
        "A correction to the replacement rule is published.",
        serving(
            bis="v2-edited",
            guidance_online=True,
            fr=["C1-2026-24110", "2026-24110", *PUBLISHED],
            saved={"2026-24110": "2026-24110.corrected.json"},
            ecfr="2026-11-25",
            review="concluded",
        ),
    ),
)

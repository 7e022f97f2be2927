"""Golden files: every genuine recorded answer Rulewatch can read, parsed and compared with its review.

Each file under tests/files/genuine/<kind>/, for every kind of the registry (tracker.kinds),
is handed to that kind's reader in the Snapshot its spider would build (the same `extra`,
the full text as an attachment), and the parse is compared with `<file>.compare.json`
beside it. A missing compare file is written and
the test fails, so a person reviews the parse before it becomes the reference (juriscraper
style). To accept a reviewed change of parse, delete the compare file and run again.

Files that are no document of their own (a full text attached to its record, a search or
public-inspection listing) are read by tests/tracker/kinds/federal_register/test_spider.py instead;
`test_every_genuine_file_is_accounted_for` makes sure a new file is never silently skipped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FILES
from tracker.items import Snapshot
from tracker.kinds import KINDS
from tracker.reading.content import Content

GENUINE = FILES / "genuine"
FETCHED_AT = datetime(2026, 9, 30, tzinfo=UTC)
JSON = "application/json; charset=utf-8"
# Full texts attached to the record of the same name, with the media type the FR served them as.
FULL_TEXTS = {".body.html": "text/html", ".raw.txt": "text/plain"}
BINARY_OR_NOTES = {".md"}


def _record(path: Path) -> dict:
    data = json.loads(path.read_bytes())
    return data if isinstance(data, dict) else {}


def _full_text(record_path: Path) -> dict | None:
    stem = record_path.name.removesuffix(".json")
    for suffix, content_type in FULL_TEXTS.items():
        text = record_path.with_name(stem + suffix)
        if text.exists():
            return {
                "role": "full_text",
                "url": f"https://www.federalregister.gov/{text.name}",
                "status": 200,
                "content_type": content_type,
                "body": text.read_bytes(),
            }
    return None


def federal_register_snapshot(path: Path) -> Snapshot:
    """A document's JSON (or one public-inspection record) with its full text, as tracker.kinds.federal_register.spider yields it."""
    record = _record(path)
    stage = "public_inspection" if "filing_type" in record else "published"
    attachments = [text] if (text := _full_text(path)) else []
    return Snapshot(
        source="federal-register",
        key=record["document_number"],
        url=record.get("html_url") or "",
        final_url=f"https://www.federalregister.gov/api/v1/documents/{record['document_number']}.json",
        status=200,
        headers={"Content-Type": JSON},
        body=path.read_bytes(),
        fetched_at=FETCHED_AT,
        extra={"format": "federal_register", "stage": stage, "attachments": attachments},
    )


def ecfr_snapshot(path: Path) -> Snapshot:
    """A part's XML as tracker.kinds.ecfr.spider yields it; the key comes from the name, 'title-1-part-51.xml' is '1 CFR 51'."""
    _, title, _, part = path.stem.split("-", 3)
    return Snapshot(
        source="ecfr",
        key=f"{title} CFR {part}",
        url=f"https://www.ecfr.gov/current/title-{title}/part-{part}",
        final_url=f"https://www.govinfo.gov/bulkdata/ECFR/title-{title}/ECFR-title{title}.xml",
        status=200,
        headers={"Content-Type": "application/xml"},
        body=path.read_bytes(),
        fetched_at=FETCHED_AT,
        extra={"format": "ecfr", "amendment_date": None, "issue_date": None},
    )


def reginfo_snapshot(path: Path) -> Snapshot:
    """The last RIN of an agenda report as tracker.kinds.reginfo.spider yields it (its entry, no review)."""
    from tracker.kinds.reginfo.spider import read_agenda, rin_document

    body = path.read_bytes()
    *_, (rin, entry) = read_agenda(body, lambda rin: True).items()
    edition = entry.findtext("PUBLICATION/PUBLICATION_ID")
    report = f"https://www.reginfo.gov/public/do/XMLViewFileAction?f=REGINFO_RIN_DATA_{edition}.xml"
    return Snapshot(
        source="reginfo",
        key=f"RIN {rin}",
        url=f"https://www.reginfo.gov/public/do/eAgendaViewRule?pubId={edition}&RIN={rin}",
        final_url=report,
        status=200,
        headers={"Content-Type": "application/xml"},
        body=rin_document(rin, edition, entry, []),
        fetched_at=FETCHED_AT,
        extra={"format": "reginfo", "edition": edition, "agenda_entry": True, "reviews": [], "reviews_received": []},
    )


def page_snapshot(path: Path) -> Snapshot | None:
    """A page or PDF as a page or site spider yields it, read by its media type."""
    types = {".pdf": "application/pdf", ".html": "text/html; charset=utf-8"}
    if path.suffix not in types:
        return None
    url = f"https://example.gov/{path.name}"
    return Snapshot("site", url, url, url, 200, {"Content-Type": types[path.suffix]}, path.read_bytes(), FETCHED_AT)


# Per kind: the Snapshot its spider would build from a saved file, or None when the file is
# no document of its own. A kind added to the registry needs its builder and its files here.
SNAPSHOT_BUILDERS = {
    "federal_register": lambda p: (
        federal_register_snapshot(p) if p.suffix == ".json" and "document_number" in _record(p) else None
    ),
    "ecfr": lambda p: ecfr_snapshot(p) if p.suffix == ".xml" else None,
    "reginfo": lambda p: reginfo_snapshot(p) if p.suffix == ".xml" else None,
    "site": page_snapshot,
    "page": page_snapshot,
}


def snapshot_for(path: Path) -> Snapshot | None:
    build = SNAPSHOT_BUILDERS.get(path.parent.name)
    return build(path) if build else None


def genuine_files() -> list[Path]:
    return sorted(
        p
        for p in GENUINE.rglob("*")
        if p.is_file() and not p.name.endswith(".compare.json") and p.suffix not in BINARY_OR_NOTES
    )


READABLE = [p for p in genuine_files() if snapshot_for(p) is not None]


@pytest.mark.parametrize("path", READABLE, ids=[str(p.relative_to(GENUINE)) for p in READABLE])
def test_genuine_file_matches_its_reviewed_parse(path):
    content = KINDS[path.parent.name].read(snapshot_for(path), source=None)
    compare = path.with_name(path.name + ".compare.json")
    if not compare.exists():
        compare.write_text(json.dumps(content.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(
            f"wrote {compare.relative_to(FILES)}: review it (and note known issues in the README), then run again"
        )
    assert content == Content.from_json(json.loads(compare.read_text(encoding="utf-8")))


def test_every_genuine_file_is_accounted_for():
    """Each file is read above, attached to a record that is, or a listing the spider tests read."""
    unread = []
    for path in genuine_files():
        if snapshot_for(path) is not None:
            continue
        attached = any(path.name.endswith(suffix) for suffix in FULL_TEXTS) and any(
            path.name == r.name.removesuffix(".json") + s for r in READABLE for s in FULL_TEXTS
        )
        listing = path.suffix == ".json" and "results" in _record(path)
        if not (attached or listing):
            unread.append(str(path.relative_to(GENUINE)))
    assert unread == [], "genuine files nothing reads: teach snapshot_for to read them, or say why not"
    assert READABLE, "no genuine file found"


def test_every_kind_has_genuine_files_or_says_why():
    """Adding a kind to the registry means saving its genuine answers here (or naming the kind
    whose files it reads alike: a page reads as a site's pages do)."""
    reads_alike = {"page": "site"}
    for kind in KINDS:
        folder = GENUINE / reads_alike.get(kind, kind)
        assert kind in SNAPSHOT_BUILDERS and any(folder.glob("*")), f"no genuine files for the {kind!r} kind"

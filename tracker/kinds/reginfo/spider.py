"""The `reginfo` source: reginfo.gov's XML reports, one document per followed RIN.

One check, in this order:

1. OIRA's EO 12866 review reports (REVIEW_REPORTS: the rules under review and those
   concluded this year), each read whole; the reviews of followed RINs are kept. A
   report that cannot be read ends the check with a failure: a RIN's reviews missing
   would read as reviews withdrawn.
2. The Unified Agenda: the newest edition's XML report (`REGINFO_RIN_DATA_{YYYYMM}.xml`,
   Spring 04 and Fall 10). Editions are tried newest first from today's date (the
   Fall edition comes out months after its name), an edition not yet out (404/410, or
   another document than an agenda) gives way to the one before, never to one older
   than the newest edition stored; a malformed agenda is a failure. The report is streamed through once;
   the entries of followed RINs (configured, or of a configured agency code) are kept.
3. One Snapshot per followed RIN that has an entry or a review: key "RIN 0694-AJ90",
   url its page on reginfo.gov, body a small XML document (RULEWATCH_RIN) holding its
   agenda entry and its reviews as received, which tracker.kinds.reginfo.content reads.
   A configured RIN found nowhere is a failure (gone: it may have left the agenda).

Not fetching an unchanged agenda twice: the report is asked for with the validators of
a stored RIN version of the same edition (each version keeps the report's headers).
A 304 stands for every followed RIN when no followed RIN is under review or reviewed
this year; otherwise the report is asked for again in full, since the spider cannot
read the entry it stored. (The one thing a 304 so hides: a review leaving both lists
while the agenda stands still, as at the turn of the year; the next edition shows it.)

Every request goes to base_url's host (with its port): a redirect elsewhere is refused
(spiders.policy). XML is parsed without DTDs, entities or network access.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from lxml import etree

from spiders.base import TrackingSpider, now
from spiders.policy import host_entry
from tracker.items import FailureReason, FetchFailed, NotModified, Snapshot
from tracker.kinds.reginfo.config import ReginfoConfig
from tracker.printable import printable
from tracker.safexml import safe_xml_options, safe_xml_parser

REPORT_PATH = "/public/do/XMLViewFileAction"
RIN_PAGE_PATH = "/public/do/eAgendaViewRule"
REVIEW_REPORTS = ("EO_RULES_UNDER_REVIEW.xml", "EO_RULE_COMPLETED_YTD.xml")
EDITIONS_TRIED = 3  # the newest editions asked for before giving up
MAX_RINS = 500  # documents one check may yield; more is a failure, not a flood
MAX_TITLE_CHARS = 500
_RIN = re.compile(r"^\d{4}-[A-Z]{2}\d{2}$")
NOT_OUT = {404, 410}


class ReportError(ValueError):
    """A report that cannot be read; the message says why."""


class NotAReport(ReportError):
    """An answer that is some other document (an HTML page where an edition is not out)."""


def editions(today: date, count: int = EDITIONS_TRIED) -> list[str]:
    """The Unified Agenda edition ids up to `today`, newest first: 2026-12-06 gives 202610, 202604, 202510."""
    year = today.year
    found: list[str] = []
    month = 10 if today.month >= 10 else 4 if today.month >= 4 else None
    if month is None:
        year, month = year - 1, 10
    while len(found) < count:
        found.append(f"{year}{month:02d}")
        year, month = (year, 4) if month == 10 else (year - 1, 10)
    return found


def editions_to_try(today: date, stored: set[str]) -> list[str]:
    """The editions to ask for, newest first, none older than the newest one stored: an
    edition answering 404 for a while must not bring back the entries of the one before."""
    candidates = editions(today)
    newest_stored = max(stored, default="")
    return [edition for edition in candidates if edition >= newest_stored] or candidates[:1]


def read_reviews(body: bytes, follows) -> list[etree._Element]:
    """The REGACT records of a review report whose RIN `follows` accepts."""
    try:
        root = etree.fromstring(body, safe_xml_parser(recover=False))
    except etree.XMLSyntaxError as exc:
        raise ReportError(f"malformed review XML: {exc}") from None
    if root.tag != "OIRA_DATA":
        raise ReportError(f"expected an EO 12866 review report (OIRA_DATA), got <{root.tag}>")
    return [regact for regact in root.iter("REGACT") if follows(_text(regact.find("RIN")))]


def read_agenda(body: bytes, follows) -> dict[str, etree._Element]:
    """The RIN_INFO entries of an agenda report whose RIN `follows` accepts, by RIN (the first of each)."""
    entries: dict[str, etree._Element] = {}
    events = etree.iterparse(io.BytesIO(body), events=("start", "end"), **safe_xml_options())
    try:
        _, root = next(events)
        if root.tag != "REGINFO_RIN_DATA":
            raise NotAReport(f"expected a Unified Agenda report (REGINFO_RIN_DATA), got <{root.tag}>")
        for event, element in events:
            if event != "end" or element.tag != "RIN_INFO":
                continue
            rin = _text(element.find("RIN"))
            if follows(rin) and rin not in entries:
                entries[rin] = copy.deepcopy(element)
            element.clear()  # the report is some 17 MB: keep only what is followed
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise ReportError(f"malformed Unified Agenda XML: {exc}") from None
    except StopIteration:
        raise ReportError("empty Unified Agenda report") from None
    return entries


def rin_document(rin: str, edition: str, entry: etree._Element | None, reviews: list[etree._Element]) -> bytes:
    """The body of one RIN's Snapshot: its agenda entry and its reviews, oldest review first."""
    root = etree.Element("RULEWATCH_RIN", RIN=rin, EDITION=edition)
    if entry is not None:
        root.append(copy.deepcopy(entry))
    listed = etree.SubElement(root, "EO_REVIEWS")
    for review in distinct_reviews(reviews):
        listed.append(copy.deepcopy(review))
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def distinct_reviews(reviews: list[etree._Element]) -> list[etree._Element]:
    """One record per review (received date and stage), the concluded one when both lists have it."""
    chosen: dict[tuple[str, str], etree._Element] = {}
    for review in reviews:
        identity = (_text(review.find("DATE_RECEIVED")), _text(review.find("STAGE")))
        if identity not in chosen or _text(review.find("DATE_COMPLETED")):
            chosen[identity] = review
    return [chosen[identity] for identity in sorted(chosen)]


def _text(element: etree._Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


class ReginfoSpider(TrackingSpider[ReginfoConfig]):
    kind = "reginfo"
    # Typed as Scrapy declares it; Scrapy reads it from the class before any instance exists.
    custom_settings: dict[str, Any] | None = {"CONCURRENT_REQUESTS_PER_DOMAIN": 1}  # noqa: RUF012

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reviews: dict[str, list[etree._Element]] = {}
        self.editions = editions_to_try(now().date(), self.stored_editions())

    def allowed_hosts(self, source: ReginfoConfig) -> list[str]:
        return [host_entry(source.base_url)]

    def follows(self, rin: str) -> bool:
        return bool(_RIN.match(rin)) and self.source.follows(rin)

    # --- URLs -------------------------------------------------------------------

    def report_url(self, name: str) -> str:
        return f"{self.source.base_url}{REPORT_PATH}?{urlencode({'f': name})}"

    def agenda_url(self, edition: str) -> str:
        return self.report_url(f"REGINFO_RIN_DATA_{edition}.xml")

    def rin_url(self, edition: str, rin: str) -> str:
        return f"{self.source.base_url}{RIN_PAGE_PATH}?{urlencode({'pubId': edition, 'RIN': rin})}"

    def stored_editions(self) -> set[str]:
        return {edition for url in self.known_urls for edition in parse_qs(urlsplit(url).query).get("pubId", [])}

    def known_rins(self) -> set[str]:
        """The RINs of this source's live documents, from their stored urls."""
        found = set()
        for url in self.known_urls:
            for rin in parse_qs(urlsplit(url).query).get("RIN", []):
                if self.follows(rin):
                    found.add(rin)
        return found

    # --- 1. reviews -----------------------------------------------------------------

    async def start(self):
        yield self.review_request(0)

    def review_request(self, index: int):
        name = REVIEW_REPORTS[index]
        return self.tracked_request(
            self.report_url(name),
            key=f"EO 12866 reviews ({name})",
            callback=self.parse_reviews,
            conditional=False,
            report=index,
        )

    def parse_reviews(self, response):
        outcome = self.outcome(response)
        if not isinstance(outcome, Snapshot):
            yield outcome  # without every review list, no RIN can be told right
            return
        try:
            found = read_reviews(response.body, self.follows)
        except ReportError as exc:
            yield self.failed(outcome, f"{exc} ({response.url})", response.status)
            return
        for review in found:
            self.reviews.setdefault(_text(review.find("RIN")), []).append(review)
        index = response.meta["report"] + 1
        if index < len(REVIEW_REPORTS):
            yield self.review_request(index)
        else:
            yield self.agenda_request(0, conditional=True)

    # --- 2. the agenda ------------------------------------------------------------------

    def agenda_request(self, tried: int, conditional: bool):
        edition = self.editions[tried]
        request = self.tracked_request(
            self.agenda_url(edition),
            key=f"Unified Agenda {edition}",
            callback=self.parse_agenda,
            conditional=False,
            edition=edition,
            tried=tried,
        )
        known = self.stored_validators(edition) if conditional else {}
        if known.get("etag"):
            request.headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            request.headers["If-Modified-Since"] = known["last_modified"]
        return request

    def stored_validators(self, edition: str) -> dict:
        """The report's validators as a stored RIN version of this edition kept them."""
        prefix = f"{self.source.base_url}{RIN_PAGE_PATH}?{urlencode({'pubId': edition})}&"
        for url, known in sorted(self.validators.items()):
            if url.startswith(prefix):
                return known
        return {}

    def parse_agenda(self, response):
        edition, tried = response.meta["edition"], response.meta["tried"]
        outcome = self.outcome(response)
        if isinstance(outcome, NotModified):
            yield from self.not_modified(edition)
            return
        if isinstance(outcome, FetchFailed) and not (outcome.status in NOT_OUT and tried + 1 < len(self.editions)):
            yield outcome
            return
        if isinstance(outcome, Snapshot):
            try:
                entries = read_agenda(response.body, self.follows)
            except ReportError as exc:  # only another document gives way to the edition before
                if not isinstance(exc, NotAReport) or tried + 1 >= len(self.editions):
                    yield self.failed(outcome, f"{exc} ({response.url})", response.status)
                    return
            else:
                yield from self.documents(outcome, edition, entries)
                return
        # Not out yet, or not an agenda: the edition before.
        yield self.agenda_request(tried + 1, conditional=True)

    def not_modified(self, edition: str):
        """The agenda as stored: each followed RIN is unchanged, unless one has a review to show."""
        if self.reviews:
            yield self.agenda_request(self.editions.index(edition), conditional=False)
            return
        for rin in sorted(self.known_rins()):
            url = self.rin_url(edition, rin)
            yield NotModified(self.source.name, f"RIN {rin}", url, now())

    # --- 3. one document per RIN -------------------------------------------------------

    def documents(self, report: Snapshot, edition: str, entries: dict[str, etree._Element]):
        rins = sorted(set(entries) | set(self.reviews) | set(self.source.rins))
        if len(rins) > MAX_RINS:
            yield self.failed(report, f"{len(rins)} RINs followed, more than {MAX_RINS}: narrow rins or agencies")
            rins = rins[:MAX_RINS]
        for rin in rins:
            entry, reviews = entries.get(rin), self.reviews.get(rin, [])
            key, url = f"RIN {rin}", self.rin_url(edition, rin)
            if entry is None and not reviews:
                error = f"RIN {rin} is neither in the Unified Agenda {edition} nor in OIRA's review lists"
                yield FetchFailed(
                    self.source.name, key, url, now(), error=error, reason=FailureReason.NOT_LISTED, gone=True
                )
                continue
            title = _text(entry.find("RULE_TITLE")) if entry is not None else _text(reviews[-1].find("TITLE"))
            yield replace(
                report,
                key=key,
                url=url,
                body=rin_document(rin, edition, entry, reviews),
                composed=True,
                title_hint=printable(title[:MAX_TITLE_CHARS]),
                extra={
                    "format": "reginfo",
                    "edition": edition,
                    "agenda_entry": entry is not None,
                    # When each review was received: what tells a review new to this RIN.
                    "reviews_received": sorted({_text(review.find("DATE_RECEIVED")) for review in reviews}),
                    "reviews": [self.report_url(name) for name in REVIEW_REPORTS],
                },
            )

    def failed(self, outcome: Snapshot, error: str, status: int | None = None) -> FetchFailed:
        """What was fetched cannot be read as the report it should be."""
        return FetchFailed(
            self.source.name,
            outcome.key,
            outcome.url,
            now(),
            error=error,
            reason=FailureReason.UNREADABLE,
            status=status,
        )

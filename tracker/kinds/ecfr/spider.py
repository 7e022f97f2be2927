"""The `ecfr` source: parts of one CFR title, read through the eCFR versioner API.

For each configured part:

1. `versions/title-{title}.json?part={part}` lists the part's amendments; the
   latest `amendment_date` says which text is current.
2. `full/{date}/title-{title}.xml?part={part}` is the part as of that date. It
   becomes a Snapshot that tracker.kinds.ecfr.content reads.

A document is one part: key "15 CFR 744", url the eCFR reader page
(https://www.ecfr.gov/current/title-15/part-744). The dated XML URL is each
version's `final_url`; the amendment and issue dates are its evidence.

Not fetching an unchanged part twice: the spider cannot read the database, but
it is given the validators (ETag, Last-Modified) of each part's stored XML,
filed under the part's url, and sends them with the XML request. Every new
amendment date is a new XML URL with new text, so a 304 means the server holds
the text we have. A server that sends no validators gets the same XML again,
which stores nothing, since its content has not changed.

Every request goes to the API's host (base_url's, with its port): a redirect
elsewhere is refused (spiders.policy).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from spiders.base import TrackingSpider, now
from spiders.policy import host_entry
from tracker.items import FailureReason, FetchFailed, NotModified, Snapshot, media_type, sniff
from tracker.kinds.ecfr.config import EcfrConfig
from tracker.printable import printable

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
API_MESSAGE_CHARS = 200  # of an error body's "error" / "message", added to the failure


class VersionsError(ValueError):
    """A versions response that does not tell us the part's latest amendment."""

    def __init__(self, message: str, reason: FailureReason = FailureReason.UNREADABLE):
        super().__init__(message)
        self.reason = reason


class EcfrSpider(TrackingSpider[EcfrConfig]):
    kind = "ecfr"
    # Typed as Scrapy declares it; Scrapy reads it from the class before any instance exists.
    custom_settings: dict[str, Any] | None = {"CONCURRENT_REQUESTS_PER_DOMAIN": 1}  # noqa: RUF012

    def allowed_hosts(self, source: EcfrConfig) -> list[str]:
        return [host_entry(source.base_url)]

    async def start(self):
        for part in self.source.parts:
            yield self.tracked_request(
                self.versions_url(part), key=self.key(part), callback=self.parse_versions, conditional=False, part=part
            )

    # --- identity and URLs ---------------------------------------------------

    def key(self, part: str) -> str:
        return f"{self.source.title} CFR {part}"

    def page_url(self, part: str) -> str:
        return f"{self.source.base_url}/current/title-{self.source.title}/part-{quote(part, safe='')}"

    def versions_url(self, part: str) -> str:
        path = f"/api/versioner/v1/versions/title-{self.source.title}.json"
        return f"{self.source.base_url}{path}?{urlencode({'part': part})}"

    def xml_url(self, part: str, amendment_date: str) -> str:
        path = f"/api/versioner/v1/full/{amendment_date}/title-{self.source.title}.xml"
        return f"{self.source.base_url}{path}?{urlencode({'part': part})}"

    # --- responses -----------------------------------------------------------

    def parse_versions(self, response):
        outcome = self.outcome(response)
        if not isinstance(outcome, Snapshot):
            yield explained(outcome, response)
            return
        part = response.meta["part"]
        try:
            amendment_date, issue_date = latest_amendment(read_json(response))
        except VersionsError as exc:
            yield FetchFailed(
                self.source.name,
                self.key(part),
                outcome.url,
                now(),
                error=f"{exc} ({response.url})",
                reason=exc.reason,
                status=response.status,
            )
            return
        yield self.xml_request(part, amendment_date, issue_date)

    def xml_request(self, part: str, amendment_date: str, issue_date: str | None):
        request = self.tracked_request(
            self.xml_url(part, amendment_date),
            key=self.key(part),
            callback=self.parse_xml,
            conditional=False,
            part=part,
            amendment_date=amendment_date,
            issue_date=issue_date,
        )
        known = self.validators.get(self.page_url(part), {})  # the stored XML's, see the module docstring
        if known.get("etag"):
            request.headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            request.headers["If-Modified-Since"] = known["last_modified"]
        return request

    def parse_xml(self, response):
        outcome = self.outcome(response)
        if isinstance(outcome, Snapshot):
            part = response.meta["part"]
            outcome = replace(
                outcome,
                url=self.page_url(part),
                title_hint=f"{self.source.title} CFR Part {part}",
                extra={
                    "format": "ecfr",
                    "amendment_date": response.meta["amendment_date"],
                    "issue_date": response.meta["issue_date"],
                },
            )
        yield explained(outcome, response)


def latest_amendment(data: Any) -> tuple[str, str | None]:
    """(latest amendment_date, its issue_date) of a versions response; entries without a date are ignored."""
    versions = data.get("content_versions") if isinstance(data, dict) else None
    if not isinstance(versions, list):
        raise VersionsError("unexpected versions JSON: no content_versions list")
    dated = [v for v in versions if isinstance(v, dict) and is_date(v.get("amendment_date"))]
    if not dated:
        raise VersionsError("the versions JSON lists no amendment dates for this part")
    latest = max(v["amendment_date"] for v in dated)
    issued = [v["issue_date"] for v in dated if v["amendment_date"] == latest and is_date(v.get("issue_date"))]
    return latest, max(issued, default=None)


def is_date(value: Any) -> bool:
    """A YYYY-MM-DD date: it goes into a URL, so nothing else passes."""
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def read_json(response) -> Any:
    content_type = response.headers.get("Content-Type", b"").decode("latin-1")
    if media_type(content_type)[0] == "text/html" or sniff(response.body) == "text/html":
        raise VersionsError(
            f"expected JSON, got an HTML page ({content_type or 'no Content-Type'})", FailureReason.ACCESS_PAGE
        )
    try:
        return json.loads(response.body)
    except ValueError as exc:
        raise VersionsError(f"malformed JSON: {exc}") from None


def explained(outcome: Snapshot | NotModified | FetchFailed, response):
    """A failure with the API's own words added: 'HTTP 400 from …: Bad date: 2026-01-15'."""
    if not isinstance(outcome, FetchFailed):
        return outcome
    try:
        body = json.loads(response.body)
    except ValueError:
        return outcome
    message = (body.get("error") or body.get("message")) if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return outcome
    return replace(outcome, error=f"{outcome.error}: {printable(message.strip()[:API_MESSAGE_CHARS])}")

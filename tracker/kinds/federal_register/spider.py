"""The `federal_register` source: the Federal Register API v1.

One check runs, in this order:

1. The searches of `documents.json`, one after another, newest first: one for the
   configured agencies (one per term when terms are given, narrowed to the
   agencies), one per RIN and one per CFR part, each narrowed to the configured
   types. A search follows `next_page_url` for at most MAX_PAGES pages of
   PER_PAGE results: we track what is published from now on, so the newest
   documents are all we need, and a check stays a few dozen requests.
2. Each document a search found, once: its JSON (`documents/{number}.json`, a
   conditional request), then its full text (`body_html_url`; `raw_text_url`
   when there is none or it answers 404/410, as for most documents before
   2000). Together they are one Snapshot keyed by the document number: the
   body is the JSON as received, the full text an attachment. A document
   stored by earlier checks is asked for again only while a search lists it; a
   304 then stands for it, and a correction shows in its `corrections`.
3. With `public_inspection = true`, `public-inspection-documents/current.json`
   after the searches: each record of a configured agency (or term) that the
   searches did not find published becomes a Snapshot of the same document
   number with stage "public_inspection", its raw text attached when it has one
   (a filing whose text is not out yet, none or a 404, is a version of its record).
   Public inspection and publication are so one document's history.

An HTML page where JSON was expected (the API's "Request Access" page), malformed
JSON, or a full text that could not be fetched is a FetchFailed, never a version.
A result or record that cannot be read (a `document_number` that is neither a
string nor a whole number, a list where a slug belongs) is a FetchFailed naming its
position in the answer; it costs only itself, the others are read.
A 429 or 503 (with Retry-After or not), or the Request Access page, ends the
check: the server asked us to back off. At most 5 requests per second, whatever
the [fetch] delay says.

URLs read from the API's answers (`next_page_url`, `body_html_url`,
`raw_text_url`) are fetched only when they are http(s) on the API's host (the
base_url's, with its port) or on the Federal Register's own document hosts
(FR_DOCUMENT_HOSTS, default ports); any other is a failure naming the field and
the URL, never a request (spiders.policy).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import quote, urlencode, urlsplit

from scrapy.exceptions import CloseSpider

from spiders.base import TrackingSpider, decode_headers, now
from spiders.exchange import exchanges_of
from spiders.policy import host_entry, shown_url
from tracker.items import FailureReason, FetchFailed, ListingRead, NotModified, Snapshot
from tracker.kinds.federal_register.config import FederalRegisterConfig
from tracker.printable import printable

PER_PAGE = 20  # results per search page
MAX_PAGES = 2  # pages followed per search: the 40 newest documents of each search
MIN_DELAY = 0.2  # seconds between two requests: the API's stated limit is 5 per second
SEARCH_FIELDS = ("document_number", "html_url", "publication_date", "title", "type")
BACK_OFF_STATUSES = {429, 503}
# Where the API's answers send us for full texts, besides the API's own host.
FR_DOCUMENT_HOSTS = ("www.federalregister.gov", "federalregister.gov", "public-inspection.federalregister.gov")
# `conditions[type][]` codes and the names records carry in `type`.
TYPE_NAMES = {"RULE": "Rule", "PRORULE": "Proposed Rule", "NOTICE": "Notice", "PRESDOCU": "Presidential Document"}
_REQUEST_ACCESS = re.compile(rb"<title>[^<]*request access", re.I)
_CFR_PART = re.compile(r"^\s*(?:(\d+)\s*CFR\s*)?(?:parts?\s*)?(\d+)\s*$", re.I)
SHOWN_VALUE_CHARS = 60  # of a malformed value, in the failure that names it


class BadRecord(ValueError):
    """A result or record of an API answer that cannot be read; the message says what is wrong."""


class FederalRegisterSpider(TrackingSpider[FederalRegisterConfig]):
    kind = "federal_register"

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        delay = max(settings.getfloat("DOWNLOAD_DELAY"), MIN_DELAY)
        jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER")
        if delay * (1 - jitter) < MIN_DELAY:  # a randomly shorter wait must not go under the floor
            jitter = 0.0
        settings.set("DOWNLOAD_DELAY", delay, priority="spider")
        settings.set("DOWNLOAD_DELAY_JITTER", jitter, priority="spider")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 1, priority="spider")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api = f"{self.source.base_url}/api/v1"
        self.searches = search_urls(self.source, self.api)
        self.published: set[str] = set()  # document numbers this check's searches found

    def allowed_hosts(self, source: FederalRegisterConfig) -> list[str]:
        return [host_entry(source.base_url), *FR_DOCUMENT_HOSTS]

    async def start(self):
        yield self.search_request(0, self.searches[0], page=1)  # there is always at least one search

    # --- searches ---------------------------------------------------------

    def search_request(self, index: int, url: str, page: int):
        request = self.tracked_request(
            url, key=url, callback=self.parse_search, conditional=False, fr_search=index, fr_page=page
        )
        return request.replace(errback=self.search_failed)

    def parse_search(self, response):
        index, page = response.meta["fr_search"], response.meta["fr_page"]
        read = self.read_json(response)
        if not isinstance(read, tuple):
            yield read
            self.back_off_if_asked(read)
            yield from self.after_search(index)
            return
        data, _ = read
        yield ListingRead(self.source.name, response.url, now())
        for position, result in enumerate(results(data), 1):
            try:
                number = document_number(result)
            except BadRecord as exc:
                yield self.bad_record(response, position, exc)
                continue
            if number not in self.published:
                self.published.add(number)
                yield self.document_request(number)
        next_url = data.get("next_page_url")
        if next_url and page < MAX_PAGES:
            refused = self.refused_url(next_url, "next_page_url", response.url)
            if refused is None:
                yield self.search_request(index, next_url, page + 1)
                return
            yield refused
        yield from self.after_search(index)

    def search_failed(self, failure):
        yield from self.on_error(failure)
        yield from self.after_search(failure.request.meta["fr_search"])

    def after_search(self, index: int):
        """The next search, or public inspection once the searches are done."""
        if index + 1 < len(self.searches):
            yield self.search_request(index + 1, self.searches[index + 1], page=1)
        elif self.source.public_inspection:
            url = f"{self.api}/public-inspection-documents/current.json"
            yield self.tracked_request(url, key=url, callback=self.parse_public_inspection, conditional=False)

    # --- documents --------------------------------------------------------

    def document_request(self, number: str):
        url = f"{self.api}/documents/{quote(number, safe='')}.json"  # one path segment, whatever the number holds
        # Stored versions are filed under the document's page URL; their validators came from this JSON.
        known = self.stored_validators(number)
        if known:
            self.validators[url] = known
        return self.tracked_request(url, key=number, callback=self.parse_document)

    def stored_validators(self, number: str) -> dict:
        for url, validators in self.validators.items():
            if number in urlsplit(url).path.split("/"):
                return validators
        return {}

    def parse_document(self, response):
        read = self.read_json(response)
        if not isinstance(read, tuple):
            yield read
            self.back_off_if_asked(read)
            return
        data, outcome = read
        snapshot = replace(
            outcome,
            url=text_field(data, "html_url") or outcome.url,
            title_hint=text_field(data, "title"),
            extra={"format": "federal_register", "stage": "published"},
        )
        texts = [(field, data[field]) for field in ("body_html_url", "raw_text_url") if data.get(field)]
        yield from self.with_full_text(snapshot, texts)

    # --- public inspection -------------------------------------------------

    def parse_public_inspection(self, response):
        read = self.read_json(response)
        if not isinstance(read, tuple):
            yield read
            self.back_off_if_asked(read)
            return
        data, outcome = read
        yield ListingRead(self.source.name, response.url, now())
        listing = attachment(response, "listing")
        # current.json holds every filing of the day in one response, so a record's own
        # bytes are its JSON re-serialized with sorted keys; the raw response is kept too.
        # Its validators belong to the whole list, not to this record: they are left out.
        headers = {k: v for k, v in outcome.headers.items() if k.lower() not in ("etag", "last-modified")}
        for position, record in enumerate(results(data), 1):
            try:
                if not self.wanted(record):
                    continue
                number = document_number(record)
            except BadRecord as exc:
                yield self.bad_record(response, position, exc)
                continue
            if number in self.published:
                continue
            snapshot = replace(
                outcome,
                key=number,
                url=text_field(record, "html_url") or outcome.url,
                headers=headers,
                body=json.dumps(record, sort_keys=True, ensure_ascii=False).encode(),
                composed=True,  # the listing's own response is the `listing` attachment
                title_hint=text_field(record, "title"),
                extra={"format": "federal_register", "stage": "public_inspection", "attachments": [listing]},
            )
            texts = [("raw_text_url", record["raw_text_url"])] if record.get("raw_text_url") else []
            yield from self.with_full_text(snapshot, texts, optional=True)

    def wanted(self, record: object) -> bool:
        """Public-inspection records carry no RIN or CFR part: they are matched by agency, term and type.

        A record whose fields cannot say (a list where a slug belongs) is a BadRecord."""
        agencies, terms, types = self.source.agencies, self.source.terms, self.source.types
        if not (agencies or terms):
            return False
        if not isinstance(record, dict):
            raise BadRecord(f"not an object: {shown_value(record)}")
        if agencies and not agency_slugs(record).intersection(agencies):
            return False
        if terms:
            fields = ("title", "toc_subject", "toc_doc", "subject_1", "subject_2", "subject_3")
            text = " ".join(str(record.get(name) or "") for name in fields).lower()
            if not any(term.strip('"').lower() in text for term in terms):
                return False
        return not (
            types and text_field(record, "type", required=True) not in {TYPE_NAMES.get(t.upper(), t) for t in types}
        )

    # --- full text ---------------------------------------------------------

    def with_full_text(self, snapshot: Snapshot, texts: list[tuple[str, object]], optional: bool = False):
        """Fetch the full text, then yield the snapshot with it attached.

        `texts`: (field, URL) read from the record, in order of preference; the next is
        asked for when one answers 404 or 410 (older documents have no HTML). Without any,
        the snapshot is yielded as it is; and so it is when none answered and the text is
        `optional` (a public-inspection filing's, which may not be out yet)."""
        if not texts:
            yield snapshot
            return
        (field, url), rest = texts[0], texts[1:]
        refused = self.refused_url(url, field, snapshot.key)
        if refused:
            yield refused
            return
        yield self.tracked_request(
            str(url),  # allowed by the URL policy, so a str already
            key=snapshot.key,
            callback=self.parse_full_text,
            conditional=False,
            fr_snapshot=snapshot,
            fr_texts=rest,
            fr_text_optional=optional,
        )

    def parse_full_text(self, response):
        snapshot = response.meta["fr_snapshot"]
        outcome = self.outcome(response)
        if isinstance(outcome, FetchFailed) and outcome.gone:
            if response.meta["fr_texts"]:
                yield from self.with_full_text(snapshot, response.meta["fr_texts"], response.meta["fr_text_optional"])
                return
            if response.meta["fr_text_optional"]:
                yield snapshot
                return
        error, reason = None, None
        if isinstance(outcome, FetchFailed):
            error, reason = outcome.error, outcome.reason
        elif _REQUEST_ACCESS.search(response.body[:4096]):
            error = f"the Federal Register answered with its 'Request Access' page instead of the text: {response.url}"
            reason = FailureReason.ACCESS_PAGE
        if error and reason:
            # A version without its text would read as the whole text removed: no version at all.
            failure = FetchFailed(
                self.source.name,
                snapshot.key,
                snapshot.url,
                outcome.fetched_at,
                error=f"full text of {snapshot.key} could not be fetched: {error}",
                reason=reason,
                status=response.status,
                retry_after=getattr(outcome, "retry_after", None),
            )
            yield failure
            self.back_off_if_asked(failure)
            return
        attachments = [*snapshot.extra.get("attachments", []), attachment(response, "full_text")]
        yield replace(snapshot, extra={**snapshot.extra, "attachments": attachments})

    # --- shared ------------------------------------------------------------

    def read_json(self, response) -> tuple[dict, Snapshot] | NotModified | FetchFailed:
        """The response's JSON object and its Snapshot; or what to yield instead."""
        outcome = self.outcome(response)
        if not isinstance(outcome, Snapshot):
            return outcome
        body = response.body.lstrip()
        content_type = outcome.content_type.lower()
        error, reason = None, FailureReason.UNREADABLE
        if not body.startswith(b"{"):
            if "html" in content_type or body.startswith(b"<"):
                error, reason = request_access_error(response.url), FailureReason.ACCESS_PAGE
            else:
                error = f"malformed JSON from {response.url}: it does not start with '{{'"
        else:
            try:
                data = json.loads(body)
            except ValueError as exc:
                error = f"malformed JSON from {response.url}: {exc}"
            else:
                if not isinstance(data, dict):
                    error = f"malformed JSON from {response.url}: expected an object"
        if error:
            return FetchFailed(
                self.source.name,
                outcome.key,
                outcome.url,
                outcome.fetched_at,
                error=error,
                reason=reason,
                status=response.status,
            )
        return data, outcome

    def bad_record(self, response, position: int, problem: BadRecord) -> FetchFailed:
        """The failure of one result of `response` that could not be read (position from 1)."""
        error = f"result {position} of {shown_url(response.url)} skipped: {problem}"
        return FetchFailed(
            self.source.name,
            response.meta["rulewatch_key"],
            response.url,
            now(),
            error=error,
            reason=FailureReason.UNREADABLE,
        )

    def back_off_if_asked(self, outcome) -> None:
        """After a 429, a 503 or the Request Access page, ask nothing more of the server in this check."""
        if not isinstance(outcome, FetchFailed):
            return
        if outcome.status in BACK_OFF_STATUSES or outcome.reason is FailureReason.ACCESS_PAGE:
            raise CloseSpider(f"the Federal Register asked us to back off: {outcome.error}")


def results(data: dict) -> list:
    """The `results` of a search or of public inspection; anything but a list is read as one record."""
    found = data.get("results")
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def document_number(record: object) -> str:
    """A record's document number as text: a string, or a whole number's digits; else a BadRecord."""
    if not isinstance(record, dict):
        raise BadRecord(f"not an object: {shown_value(record)}")
    number = record.get("document_number")
    if isinstance(number, int) and not isinstance(number, bool):
        return str(number)
    if isinstance(number, str) and number.strip():
        return number
    raise BadRecord(f"document_number is not a document number: {shown_value(number)}")


def agency_slugs(record: dict) -> set[str]:
    agencies = record.get("agencies")
    if agencies is None:
        return set()
    if not isinstance(agencies, list):
        raise BadRecord(f"agencies is not a list: {shown_value(agencies)}")
    slugs = set()
    for index, agency in enumerate(agencies):
        slug = agency.get("slug") if isinstance(agency, dict) else None
        if slug is None:
            continue
        if not isinstance(slug, str):
            raise BadRecord(f"agencies[{index}].slug is not a name: {shown_value(slug)}")
        slugs.add(slug)
    return slugs


def text_field(record: dict, name: str, required: bool = False) -> str:
    """A string field of a record, "" when absent; a value of another kind is "" too, or a
    BadRecord when the field is `required` to decide about the record."""
    value = record.get(name)
    if isinstance(value, str):
        return value
    if required and value is not None:
        raise BadRecord(f"{name} is not a string: {shown_value(value)}")
    return ""


def shown_value(value: object) -> str:
    """A value read from JSON, as JSON, short and with its control characters escaped."""
    text = json.dumps(value)
    return printable(text[:SHOWN_VALUE_CHARS] + ("…" if len(text) > SHOWN_VALUE_CHARS else ""))


def search_urls(source, api: str) -> list[str]:
    """The `documents.json` searches of a source, in the order they run."""
    agencies = [("conditions[agencies][]", agency) for agency in source.agencies]
    types = [("conditions[type][]", kind.upper()) for kind in source.types]
    searches = []
    if source.terms:
        searches += [agencies + types + [("conditions[term]", term)] for term in source.terms]
    elif source.agencies or not (source.rins or source.cfr_parts):
        searches.append(agencies + types)
    searches += [[*types, ("conditions[regulation_id_number]", rin)] for rin in source.rins]
    for value in source.cfr_parts:
        title, part = cfr_part(value)
        searches.append([*types, ("conditions[cfr][title]", title), ("conditions[cfr][part]", part)])
    common = [("fields[]", name) for name in SEARCH_FIELDS] + [("order", "newest"), ("per_page", PER_PAGE)]
    return [f"{api}/documents.json?{urlencode(search + common)}" for search in searches]


def cfr_part(value: str) -> tuple[str, str]:
    """'744', 'part 744' or '15 CFR 744' -> ('15', '744'); the title defaults to 15, the EAR's."""
    match = _CFR_PART.match(value)
    if not match:
        return "15", value.strip()
    return match.group(1) or "15", match.group(2)


def attachment(response, role: str) -> dict:
    """A fetched body kept with a version's evidence (tracker.ingest stores `body` as a blob)."""
    return {
        "role": role,
        "url": response.url,
        "status": response.status,
        "content_type": response.headers.get("Content-Type", b"").decode("latin-1"),
        "headers": decode_headers(response.headers),
        "body": response.body,
        "fetched_at": now().isoformat(),
        "http": {"exchanges": [exchange.to_json() for exchange in exchanges_of(response)]},
    }


def request_access_error(url: str) -> str:
    return f"the Federal Register answered with an HTML page instead of JSON (its 'Request Access' page?): {url}"

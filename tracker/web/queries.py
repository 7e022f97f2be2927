"""What the pages and the JSON API both show: source health, expectations, change filters, evidence.

Source and expectation rows are plain dicts in the contract's JSON style (times
as ISO 8601 strings), so a page and its API twin cannot drift apart.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from storage.db import utcnow
from storage.models import Document, Event, Version
from storage.repository import get_source, list_sources
from tracker.alerts.event_summary import diff_url
from tracker.config import SEVERITIES
from tracker.health import failure_reason, is_failing, is_stale, next_due
from tracker.settings import Config
from tracker.shapes import FilterError, iso, parse_moment

ERROR_PREVIEW = 300  # characters of an error on public pages; admins see all of it
EVENT_KINDS = ("new", "changed", "removed", "expectation_met")


def preview(error: str | None) -> str | None:
    if not error:
        return error
    line = error.strip().splitlines()[0] if error.strip() else error
    return line if len(line) <= ERROR_PREVIEW else line[: ERROR_PREVIEW - 1] + "…"


def source_health(session: Session, config: Config, full_errors: bool = False) -> list[dict]:
    """Every configured or stored source: last success, last failure and why, stale or not, next check.

    `status`: "failing" as tracker.health.is_failing means it (what admins are mailed about);
    "retrying" when its last checks failed, but not yet that often."""
    configured = {source.name: source for source in config.sources}
    stored = {source.name: source for source in list_sources(session)}
    now = utcnow()
    rows = []
    for name in sorted(set(configured) | set(stored)):
        row, wanted = stored.get(name), configured.get(name)
        checked = row is not None and row.last_checked_at is not None
        stale = checked and row is not None and wanted is not None and is_stale(row, wanted, now)
        failures = row.consecutive_failures if row else 0
        if wanted is None:
            status = "not configured"
        elif not checked:
            status = "not checked yet"
        elif stale:
            status = "stale"
        elif row is not None and is_failing(row):
            status = "failing"
        elif failures:
            status = "retrying"
        else:
            status = "ok"
        error = row.last_error if row else None
        rows.append(
            {
                "name": name,
                "kind": wanted.kind if wanted else stored[name].kind,
                "interval": wanted.interval if wanted else None,
                "status": status,
                "stale": stale,
                "last_checked_at": iso(row.last_checked_at) if row else None,
                "last_success_at": iso(row.last_success_at) if row else None,
                "last_failure_at": iso(row.last_failure_at) if row else None,
                "last_status": row.last_status if row else None,
                "last_error": error if full_errors else preview(error),
                "last_failure_reason": failure_reason(row) if row else None,
                "consecutive_failures": failures,
                "next_check_at": iso(next_due(row, wanted.interval, config.fetch.retry_after_max, now))
                if wanted
                else None,
            }
        )
    return rows


# -- change filters --------------------------------------------------------------------


def change_filters(
    session: Session, source: str = "", severity: str = "", event: str = "", since: str = "", until: str = ""
) -> dict:
    """Query-string filters as keyword arguments of storage.repository.list_events.

    As with `rulewatch changes --severity`, a severity keeps changes at least that
    severe and every other kind of event. A bare `until` date includes that whole day.
    """
    filters: dict = {}
    if source:
        row = get_source(session, source)
        if row is None:
            raise FilterError(f"source: no source named {source!r} has been checked yet")
        filters["source_id"] = row.id
    if severity:
        if severity not in SEVERITIES:
            raise FilterError(f"severity: expected one of {', '.join(SEVERITIES)}, got {severity!r}")
        filters["severities"] = list(SEVERITIES[SEVERITIES.index(severity) :])
    if event:
        if event not in EVENT_KINDS:
            raise FilterError(f"event: expected one of {', '.join(EVENT_KINDS)}, got {event!r}")
        filters["kinds"] = [event]
    if since:
        filters["since"] = parse_moment("since", since)
    if until:
        filters["until"] = parse_moment("until", until, end_of_day=True)
    if "since" in filters and "until" in filters and filters["since"] > filters["until"]:
        raise FilterError("since: must not be later than until")
    return filters


# -- evidence ----------------------------------------------------------------------------


def version_evidence(version: Version) -> dict:
    """A version's fetch evidence, ready for a template: headers, source facts, attachments."""
    evidence = dict(version.evidence)  # a copy: the attachments and HTTP exchanges are taken out of it
    attachments = evidence.pop("attachments", [])
    exchanges = (evidence.pop("http", None) or {}).get("exchanges") or []
    return {
        "version": version,
        "request": exchanges[-1] if exchanges else None,  # the request the body answered, as sent
        "headers": sorted(version.headers.items(), key=lambda item: item[0].lower()),
        "facts": sorted((key, _plain(value)) for key, value in evidence.items()),
        "attachments": [
            {**attachment, "headers": sorted((attachment.get("headers") or {}).items())} for attachment in attachments
        ],
    }


def _plain(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def event_rows(session: Session, events: list[Event]) -> list[dict]:
    """Events with what a page shows beside each: its source's name, its document, its redline link."""
    names = {source.id: source.name for source in list_sources(session)}
    return [
        {
            "event": event,
            "source": names.get(event.source_id, ""),
            "document": session.get(Document, event.document_id),
            "link": diff_url("", event),
        }
        for event in events
    ]

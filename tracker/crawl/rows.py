"""What a check reads for all its sources at once: a few statements, not a few per source.

A pass may cover hundreds of sources; reading each one's row, validators and event counts
one statement at a time was most of what a pass of unchanged pages cost.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.db import in_chunks
from storage.models import Document, Event, Source, Version
from tracker.settings import Config


def source_rows(session: Session, config: Config, names: list[str]) -> dict[str, Source]:
    """The row of each named source by name, as storage.repository.ensure_source gives it: created
    when new (all new ones in one flush), its kind kept as configured."""
    rows: dict[str, Source] = {}
    for part in in_chunks(sorted(set(names))):
        rows.update((row.name, row) for row in session.exec(select(Source).where(col(Source.name).in_(part))))
    new = []
    for name in dict.fromkeys(names):
        kind = config.source(name).kind
        row = rows.get(name)
        if row is None:
            rows[name] = row = Source(name=name, kind=kind)
            new.append(row)
        elif row.kind != kind:
            row.kind = kind
    if new:
        session.add_all(new)
        session.flush()
    return rows


def validators_by_source(session: Session, source_ids: list[int]) -> dict[int, dict[str, dict[str, str]]]:
    """For each source, what storage.repository.latest_validators gives for it: {url: {"etag",
    "last_modified"}} of each live document's latest version."""
    found: dict[int, dict[str, dict[str, str]]] = {source_id: {} for source_id in source_ids}
    for part in in_chunks(sorted(set(source_ids))):
        rows = session.exec(
            select(Document.source_id, Document.url, Version.headers)
            .join(Version, (col(Version.document_id) == Document.id) & (col(Version.number) == Document.latest_version))
            .where(col(Document.source_id).in_(part), col(Document.removed_at).is_(None))
        )
        for source_id, url, stored_headers in rows:
            headers = {name.lower(): value for name, value in stored_headers.items()}
            validators = {
                name: headers[header]
                for name, header in (("etag", "etag"), ("last_modified", "last-modified"))
                if headers.get(header)
            }
            if validators:
                found[source_id][url] = validators
    return found


def events_since(session: Session, after_id: int) -> dict[int, dict[str, int]]:
    """Events with id > after_id, by source, counted as storage.repository.count_events counts them."""
    rows = session.exec(
        select(Event.source_id, Event.kind, Event.severity, func.count())
        .where(col(Event.id) > after_id)
        .group_by(col(Event.source_id), col(Event.kind), col(Event.severity))
    )
    counts: dict[int, dict[str, int]] = {}
    for source_id, kind, severity, n in rows:
        label = f"{kind}:{severity}" if severity else kind
        of_source = counts.setdefault(source_id, {})
        of_source[label] = of_source.get(label, 0) + n
    return counts

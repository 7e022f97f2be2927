"""What a stored version holds, read back: its content, and the fetch it was read from."""

from __future__ import annotations

import json

from sqlmodel import Session

from storage.blobs import get_blob
from storage.models import Version
from tracker.items import Exchange, Snapshot
from tracker.reading.content import Content


def stored_snapshot(session: Session, version: Version, source: str, key: str) -> Snapshot:
    """The fetch a version was read from, rebuilt from its evidence: to read it again."""
    evidence = dict(version.evidence)  # a copy: the attachments are taken out of it
    attachments = [{**kept, "body": get_blob(session, kept["sha256"])} for kept in evidence.pop("attachments", [])]
    http = evidence.pop("http", {})
    return Snapshot(
        source=source,
        key=key,
        url=version.url,
        final_url=version.final_url,
        status=version.status,
        headers=dict(version.headers),
        body=get_blob(session, version.sha256),
        fetched_at=version.fetched_at,
        extra={**evidence, "attachments": attachments} if attachments else evidence,
        exchanges=tuple(Exchange.from_json(exchange) for exchange in http.get("exchanges", [])),
        composed=bool(http.get("composed")),
    )


def load_content(session: Session, version: Version) -> Content:
    return Content.from_json(json.loads(get_blob(session, version.content_sha256)))

"""The JSON shapes of the contract, shared by the CLI, the web API and feeds."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import Document, Event, Source, Version


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document_json(document: Document) -> dict:
    return {"id": document.id, "key": document.key, "url": document.url, "title": document.title}


def event_json(event: Event, source: Source, document: Document) -> dict:
    return {
        "id": event.id,
        "event": event.kind,
        "severity": event.severity if event.kind == "changed" else None,
        "reasons": list(event.reasons),
        "source": source.name,
        "document": document_json(document),
        "from_version": event.from_version,
        "to_version": event.to_version,
        "detected_at": iso(event.detected_at),
        "expectations": list(event.expectations),
        "baseline": event.baseline,
        "summary": event.summary,
    }


def version_json(version: Version) -> dict:
    return {
        "version": version.number,
        "fetched_at": iso(version.fetched_at),
        "url": version.url,
        "final_url": version.final_url,
        "status": version.status,
        "sha256": version.sha256,
        "content_type": version.content_type,
        "title": version.title,
        "headers": dict(version.headers),
    }


def document_summary_json(document: Document, source: Source) -> dict:
    return {
        **document_json(document),
        "source": source.name,
        "versions": document.latest_version,
        "first_seen_at": iso(document.first_seen_at),
        "last_seen_at": iso(document.last_seen_at),
        "removed_at": iso(document.removed_at),
    }

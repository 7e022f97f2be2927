"""What a single-source crawl test left in the database, read in one session."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import Document, Event, Source, Version


def stored_state(engine: Engine) -> tuple[Source, list[Document], list[Version], list[Event]]:
    """The one source, its documents by key, and every version and event in order."""
    with session_scope(engine) as session:
        source = session.exec(select(Source)).one()
        documents = list(session.exec(select(Document).order_by(Document.key)).all())
        versions = list(session.exec(select(Version).order_by(Version.id)).all())
        events = list(session.exec(select(Event).order_by(Event.id)).all())
        return source, documents, versions, events

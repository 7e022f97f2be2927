"""Rows a caller holds the id of: read them or get an error naming what is missing."""

import pytest

from storage.db import open_database, session_scope, utcnow
from storage.models import Source, Subscriber
from storage.repository import ensure_source, require_row, stored_id


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def test_require_row_returns_the_row_or_names_the_missing_one(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "bis", "bis")
        assert require_row(session, Source, source.id) is source
        with pytest.raises(LookupError, match="no Source row with id 999"):
            require_row(session, Source, 999)
        with pytest.raises(LookupError, match="no Subscriber row with id None"):
            require_row(session, Subscriber, None)


def test_stored_id_only_for_rows_written_to_the_database(engine):
    with session_scope(engine) as session:
        subscriber = Subscriber(email="a@example.org", created_at=utcnow())
        with pytest.raises(LookupError, match="Subscriber has no id"):
            stored_id(subscriber)
        session.add(subscriber)
        session.flush()
        assert stored_id(subscriber) == subscriber.id
        assert isinstance(subscriber.id, int)

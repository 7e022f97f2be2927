"""The full-text index (storage.search) on SQLite and PostgreSQL alike: the same words found the same way."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import select

from storage.blobs import put_blob
from storage.db import SCHEMA_REVISION, open_database, session_scope, utcnow
from storage.models import Blob, Document, Version
from storage.repository import ensure_source
from storage.search import (
    MAX_WORD,
    PART_WORDS,
    fold,
    index_version,
    matching_versions,
    readable_text,
    texts,
    versions_of,
    words,
)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def content(*paragraphs: str, title: str = "A title") -> dict:
    return {"title": title, "blocks": [{"text": p, "kind": "paragraph"} for p in paragraphs], "links": []}


def store(session, source: str, key: str, *versions: dict) -> list[int]:
    """A document with these contents as its versions 1, 2, …, each indexed as ingest does; their ids."""
    source_row = ensure_source(session, source, "page")
    now = utcnow()
    document = Document(source_id=source_row.id, key=key, url=key, title=key, first_seen_at=now, last_seen_at=now)
    session.add(document)
    session.flush()
    ids = []
    for number, stored in enumerate(versions, 1):
        sha = put_blob(session, json.dumps(stored, sort_keys=True).encode())
        version = Version(
            document_id=document.id,
            number=number,
            fetched_at=now,
            url=key,
            final_url=key,
            status=200,
            headers={},
            sha256=sha,
            content_hash=f"{key}-{number}",
            content_sha256=sha,
        )
        session.add(version)
        session.flush()
        index_version(session, version.id, stored)
        document.latest_version = number
        ids.append(version.id)
    return ids


def found(engine, *wanted: str, source_id: int | None = None) -> list[int]:
    with session_scope(engine) as session:
        return sorted(matching_versions(session, set(wanted), source_id))


def test_fold_keeps_every_position():
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    assert len(fold(every)) == len(every)
    assert fold("İSTANBUL ΟΔΟΣ Straße") == "istanbul οδοσ straße"


def test_words_are_runs_of_letters_and_digits_folded():
    assert words("U.S. export-control § 744.23(a)(2); snake_case Ünïcode 中文") == [
        "u",
        "s",
        "export",
        "control",
        "744",
        "23",
        "a",
        "2",
        "snake",
        "case",
        "ünïcode",
        "中文",
    ]
    assert words("x" * 100) == ["x" * MAX_WORD]


def test_the_readable_text_is_the_title_then_each_paragraph_on_its_line():
    assert readable_text(content("One.", "Two.", title="T")) == "T\nOne.\nTwo."
    assert readable_text({}) == ""


def test_a_version_is_found_by_all_its_words_exactly(engine):
    with session_scope(engine) as session:
        first, second = store(
            session,
            "bis",
            "guidance",
            content("Exporters must obtain a license.", "Huawei Ascend chips"),
            content("An Exporter need not obtain a LICENSE for AND or NEAR."),
        )
        (other,) = store(session, "fr", "notice", content("Exports of chips need a license."))
    assert found(engine, "license") == [first, second, other]
    assert found(engine, "license", "chips") == [first, other]
    assert found(engine, "exporter") == [second]  # no stemming: "exporters" is another word
    assert found(engine, "exporters") == [first]
    assert found(engine, "and", "or", "near") == [second]  # FTS5's operators are words here
    assert found(engine, "huawei", "nowhere") == []
    with session_scope(engine) as session:
        fr = ensure_source(session, "fr", "page").id
    assert found(engine, "license", source_id=fr) == [other]


def test_the_index_holds_every_word_of_a_long_text(engine):
    """More distinct words than one tsvector holds on PostgreSQL: each found, and all together."""
    many = [f"w{n}x" for n in range(PART_WORDS * 2 + 10)]
    with session_scope(engine) as session:
        (version,) = store(session, "bis", "long", content(" ".join(many), "y" * 500))
    assert found(engine, many[0]) == found(engine, many[-1]) == [version]
    assert found(engine, many[0], many[PART_WORDS + 3], many[-1]) == [version]
    assert found(engine, "y" * MAX_WORD) == [version]  # a word longer than the index keeps: its start


def test_texts_and_versions_read_back(engine):
    with session_scope(engine) as session:
        ids = store(session, "bis", "doc", content("First."), content("Second ünïcode\u00a0text."))
        document_id = session.get(Version, ids[0]).document_id
    with session_scope(engine) as session:
        assert dict(texts(session, ids)) == {ids[0]: "A title\nFirst.", ids[1]: "A title\nSecond ünïcode\u00a0text."}
        [(document, versions)] = versions_of(session, {document_id}).items()
        assert document == document_id and [(v.id, v.number) for v in versions] == [(ids[0], 1), (ids[1], 2)]
        assert versions[0].fetched_at.tzinfo is not None


def test_a_rolled_back_transaction_leaves_no_index_row(engine):
    def store_then_fail():
        with session_scope(engine) as session:
            store(session, "bis", "doc", content("Rolled back words."))
            raise RuntimeError("the transaction fails after the version was indexed")

    with pytest.raises(RuntimeError):
        store_then_fail()
    assert found(engine, "rolled") == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM version_text")).scalar() == 0


def test_0013_indexes_the_versions_a_0011_database_holds(engine, database_url, caplog):
    """A database written by the previous release, with versions (one of them with its content
    blob damaged): upgrading indexes every readable one, and says which it left out."""
    from alembic import command

    with session_scope(engine) as session:
        kept = store(session, "bis", "doc", content("Huawei Ascend chips."), content("Gone now."))
        (damaged,) = store(session, "fr", "other", content("Huawei damaged."))
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    assert not {"version_text", "version_words"} & set(inspect(engine).get_table_names())
    with session_scope(engine) as session:
        blob = session.get(Blob, session.get(Version, damaged).content_sha256)
        blob.data = b"not zstd"

    with caplog.at_level(logging.WARNING, logger="storage.search"):
        open_database(database_url).dispose()  # upgrades to the newest, indexing as it goes
    assert f"version {damaged} is left out of the search index" in caplog.text
    assert found(engine, "huawei") == [kept[0]]
    assert found(engine, "gone") == [kept[1]]
    with session_scope(engine) as session:
        assert dict(texts(session, kept)) == {kept[0]: "A title\nHuawei Ascend chips.", kept[1]: "A title\nGone now."}
        assert session.exec(select(Version.id)).all()  # nothing else touched
    with engine.connect() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert current == SCHEMA_REVISION == ScriptDirectory.from_config(config).get_current_head()


def _alembic_config():
    from alembic.config import Config

    from storage.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config

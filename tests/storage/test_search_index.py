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
    WORD,
    fetched_at,
    fold,
    index_version,
    index_versions,
    matching_passage_lists,
    matching_passages,
    matching_versions,
    passage_lists,
    passage_texts,
    passages_with,
    readable_text,
    version_passages,
    versions_with,
    words,
)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def content(*paragraphs: str, title: str = "A title") -> dict:
    return {"title": title, "blocks": [{"text": p, "kind": "paragraph"} for p in paragraphs], "links": []}


def store(session, source: str, key: str, *versions: dict, indexed: bool = True) -> list[int]:
    """A document with these contents as its versions 1, 2, …, each indexed as ingest does
    (unless not `indexed`); their ids."""
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
        if indexed:
            index_version(session, version.id, stored)
        document.latest_version = number
        ids.append(version.id)
    return ids


def found(engine, *wanted: str, source_id: int | None = None) -> list[int]:
    """The versions with these words; their passage lists are read for the same ones."""
    with session_scope(engine) as session:
        ids = sorted(matching_versions(session, set(wanted), source_id))
        assert sorted(matching_passage_lists(session, set(wanted), source_id)) == ids
    return ids


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


def test_ascii_text_has_the_words_the_pattern_finds():
    every_ascii = "".join(map(chr, range(128)))
    text = f"U.S. export-control 744.23(a)(2); snake_case\tCAPS{every_ascii}tail " + "y" * 70
    assert text.isascii()
    assert words(text) == [word[:MAX_WORD] for word in WORD.findall(text.lower())]
    assert words(text + " é") == [*words(text), "é"]  # the same words, found by the pattern


def test_the_readable_text_is_the_title_then_each_paragraph_on_its_line():
    assert readable_text(content("One.", "Two.", title="T")) == "T\nOne.\nTwo."
    assert readable_text({}) == ""


def test_versions_indexed_together_are_found_as_each_alone(engine):
    shared = "Exports of chips need a license."
    contents = [content(shared, "Huawei Ascend chips"), content(shared, title="Other"), content("Only here.")]
    with session_scope(engine) as session:
        ids = store(session, "bis", "guidance", *contents[:2], indexed=False)
        ids += store(session, "fr", "notice", contents[2], indexed=False)
        index_versions(session, list(zip(ids, contents, strict=True)))
    assert found(engine, "license") == ids[:2]
    assert found(engine, "huawei", "license") == ids[:1]
    assert found(engine, "other") == ids[1:2] and found(engine, "only", "here") == ids[2:]
    with session_scope(engine) as session:
        stored = session.connection().execute(text("SELECT text FROM passage")).scalars().all()
        assert sorted(stored) == sorted({"A title", "Other", shared, "Huawei Ascend chips", "Only here."})
        for version_id, stored_content in zip(ids, contents, strict=True):  # each in its own order
            [(_, passage_ids)] = version_passages(session, [version_id])
            texts = dict(passage_texts(session, passage_ids))
            assert "\n".join(texts[id_] for id_ in passage_ids) == readable_text(stored_content)


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
    with session_scope(engine) as session:  # the passage: found once, though in one tsvector and in all of them
        [(passage, body)] = passages_with(session, {many[0]})
        assert body == " ".join(many) and matching_passages(session, {many[0]}) == [passage]
        assert passages_with(session, {many[0], many[-1]}) == [(passage, body)]


def text_of(engine, version_id: int) -> str:
    """A version's readable text, rebuilt from its passages."""
    with session_scope(engine) as session:
        [(_, passages)] = version_passages(session, [version_id])
        bodies = dict(passage_texts(session, passages))
    return "\n".join(bodies[passage] for passage in passages)


def test_each_passage_is_stored_once_and_versions_keep_their_order(engine):
    with session_scope(engine) as session:
        ids = store(
            session, "bis", "doc", content("First.", "Shared."), content("Shared.", "Second ünïcode\u00a0text.")
        )
        (other,) = store(session, "fr", "other", content("Shared.", "First."))
        document_id = session.get(Version, ids[0]).document_id
    assert text_of(engine, ids[0]) == "A title\nFirst.\nShared."
    assert text_of(engine, ids[1]) == "A title\nShared.\nSecond ünïcode\u00a0text."
    assert text_of(engine, other) == "A title\nShared.\nFirst."
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM passage")).scalar() == 4
    with session_scope(engine) as session:
        [(_, body)] = passage_texts(session, matching_passages(session, {"shared"}))
        assert body == "Shared."
        assert matching_passages(session, {"first", "shared"}) == []  # in one version, never in one passage
        [shared] = matching_passages(session, {"shared"})
        assert passages_with(session, {"shared"}) == [(shared, "Shared.")]  # the ids and texts in one query
        assert passages_with(session, {"first", "shared"}) == []
        [title], [first], [second] = (matching_passages(session, {word}) for word in ("title", "first", "second"))
        lists = passage_lists(session, [*ids, other, 10**6])  # an id of no version is left out
        assert sorted(lists) == sorted([*ids, other]) and 10**6 not in lists
        assert [list(lists.ids(version)) for version in (*ids, other)] == [
            [title, first, shared],
            [title, shared, second],
            [title, shared, first],
        ]
        assert lists.first_in(other, {first, shared}) == shared and lists.first_in(ids[1], {first}) is None
        # A version is held when it has a passage of each place.
        assert sorted(lists.holding([{first}])) == sorted([ids[0], other])
        assert sorted(lists.holding([{first, second}, {shared}])) == sorted([*ids, other])
        assert lists.holding([{first}, {second}]) == []
        assert sorted(matching_versions(session, {"first", "shared"})) == sorted([ids[0], other])
        [(document, versions)] = versions_with(session, {ids[0]}).items()  # all of the document's
        assert document == document_id and versions == [(ids[0], 1), (ids[1], 2)]
        assert all(moment.tzinfo is not None for moment in fetched_at(session, ids).values())


def test_a_rolled_back_transaction_leaves_no_index_row(engine):
    def store_then_fail():
        with session_scope(engine) as session:
            store(session, "bis", "doc", content("Rolled back words."))
            raise RuntimeError("the transaction fails after the version was indexed")

    with pytest.raises(RuntimeError):
        store_then_fail()
    assert found(engine, "rolled") == []
    with engine.connect() as connection:
        for table in ("version_passages", "passage"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_0015_indexes_the_versions_a_0014_database_holds(engine, database_url, caplog):
    """A database written by the previous release, with versions (one of them with its content
    blob damaged): upgrading indexes every readable one, and says which it left out."""
    from alembic import command

    with session_scope(engine) as session:
        kept = store(session, "bis", "doc", content("Huawei Ascend chips."), content("Gone now."))
        (damaged,) = store(session, "fr", "other", content("Huawei damaged."))
        (older,) = store(session, "fr", "older", content("Stored by a release\x00 that kept NUL."))
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    assert not {"passage", "version_passages", "version_words", "passage_words"} & set(
        inspect(engine).get_table_names()
    )
    with session_scope(engine) as session:
        blob = session.get(Blob, session.get(Version, damaged).content_sha256)
        blob.data = b"not zstd"

    with caplog.at_level(logging.WARNING, logger="storage.search"):
        open_database(database_url).dispose()  # upgrades to the newest, indexing as it goes
    assert f"version {damaged} is left out of the search index" in caplog.text
    assert found(engine, "huawei") == [kept[0]]
    assert found(engine, "gone") == [kept[1]]
    assert found(engine, "release", "kept") == [older] and text_of(engine, older).endswith("release that kept NUL.")
    assert (text_of(engine, kept[0]), text_of(engine, kept[1])) == (
        "A title\nHuawei Ascend chips.",
        "A title\nGone now.",
    )
    with session_scope(engine) as session:
        assert sorted(session.exec(select(Version.id)).all()) == sorted([*kept, damaged, older])  # nothing else touched
    with engine.connect() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert current == SCHEMA_REVISION == ScriptDirectory.from_config(config).get_current_head()


def _alembic_config():
    from alembic.config import Config

    from storage.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@pytest.mark.postgres
def test_two_transactions_storing_the_same_passage_share_one_row(postgres_url):
    """The second waits for the first, then takes its passage: one row, indexed once, no failure."""
    import threading
    import uuid

    name = f"rulewatch-test-{uuid.uuid4().hex[:8]}"
    first = open_database(postgres_url)
    second = open_database(f"{postgres_url}&application_name={name}")
    shared = content("A passage both documents carry.")
    done: list[int] = []
    with session_scope(first) as session:
        (kept,) = store(session, "bis", "one", shared)

        def other() -> None:
            with session_scope(second) as other_session:
                done.extend(store(other_session, "fr", "two", shared))

        thread = threading.Thread(target=other)
        thread.start()
        with first.connect() as watcher:  # until the other transaction waits for this one's passages
            while (
                thread.is_alive()
                and not watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND wait_event_type = 'Lock'"
                    ),
                    {"name": name},
                ).scalar()
            ):
                thread.join(0.05)
    thread.join()
    assert found(first, "carry") == sorted([kept, *done])
    with first.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM passage")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM passage_words")).scalar() == 2
    assert text_of(first, done[0]) == text_of(first, kept) == "A title\nA passage both documents carry."

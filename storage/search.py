"""The full-text index of every version's readable text, and the reads a search makes of it.

A version's readable text is its passages: its title, then each block's text, one per line.
Each distinct passage is stored once (`passage`, by its SHA-256), whichever versions and
documents share it; a version keeps the list of its passages (`version_passages`). The
words of each version and of each passage are in the database's own full-text index
(`version_words`, `passage_words`): FTS5 tables on SQLite, tsvector columns with GIN
indexes on PostgreSQL. Ingest writes all of it in the transaction that stores the version.

The index holds distinct words as `words()` finds them: runs of letters and digits of the
text lowercased by `fold()`. Queries are made of the same words, quoted, so the index
answers "which versions (or passages) have all these words" exactly, and the same way on
both databases: no stemmer, stop list, parser or tokenizer of the database decides it (the
FTS5 tables use the `ascii` tokenizer, which leaves such words whole; PostgreSQL gets them
as lexemes through array_to_tsvector). Whether a phrase occurs as written is decided by
reading the passages that have its words (tracker.search): each distinct passage once,
however many versions share it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from array import array
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from itertools import accumulate, pairwise

import zstandard
from sqlalchemy import Integer, bindparam, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from storage.blobs import BlobError, get_blob
from storage.models import Document
from storage.text import storable_text

log = logging.getLogger(__name__)

WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" separates words as punctuation does
_ASCII_SEPARATORS = str.maketrans({chr(code): " " for code in range(128) if not chr(code).isalnum()})
MAX_WORD = 64  # characters of a word the index keeps (PostgreSQL refuses lexemes over 2,047 bytes)
PART_WORDS = 5_000  # words in one tsvector (PostgreSQL refuses a tsvector of 1 MB or more)
FILL_BATCH = 200
_CHUNK = 500  # values bound in one IN (…)
_ROWS_PER_INSERT = 400  # rows of one multi-row INSERT: 800 values, far below SQLite's limit


def fold(value: str) -> str:
    """`value` lowercased with one character for each character, so that a position in the
    folded text is the same position in the text. Capital dotted I is the one character
    whose lowercase is two; final sigma counts as sigma."""
    return value.replace("\u0130", "i").lower().replace("\u03c2", "\u03c3")


def words(value: str) -> list[str]:
    """The words of `value` as the index keeps them, in order: folded, at most MAX_WORD long."""
    folded = fold(value)
    # ASCII text (most of it) is split at its other characters in two C passes, twice as fast as WORD.
    found = folded.translate(_ASCII_SEPARATORS).split() if folded.isascii() else WORD.findall(folded)
    return found if max(map(len, found), default=0) <= MAX_WORD else [word[:MAX_WORD] for word in found]


def passages_of(content: dict) -> list[str]:
    """A version's passages from its stored content (tracker.reading.content.Content.to_json):
    the title, then each block's text; what expectations read and redlines compare."""
    return [content.get("title", ""), *(block.get("text", "") for block in content.get("blocks", []))]


def readable_text(content: dict) -> str:
    """A version's readable text: its passages, one per line."""
    return "\n".join(passages_of(content))


def index_version(session: Session, version_id: int, content: dict) -> None:
    """Index one version, given its content as stored; in the caller's transaction."""
    index_versions(session, [(version_id, content)])


def index_versions(session: Session, versions: list[tuple[int, dict]]) -> None:
    """Index many versions ((id, content as stored) each) in a few statements for all; in the
    caller's transaction. SQLite's full-text index writes what it was given at each savepoint,
    so a caller storing documents in savepoints indexes them after, together."""
    _index(session.connection(), versions)


def _index(connection: Connection, versions: list[tuple[int, dict]]) -> None:
    if not versions:
        return
    # Content ingest stored is storable already; content stored by an older release may not be.
    passages_of_version = [[storable_text(passage) for passage in passages_of(content)] for _, content in versions]
    words_of: dict[str, set[str]] = {}  # each distinct passage read once
    for passages in passages_of_version:
        for passage in passages:
            if passage not in words_of:
                words_of[passage] = set(words(passage))
    ids_of = _passage_ids(connection, list(words_of), words_of)
    compressor = zstandard.ZstdCompressor()
    rows, version_words = [], {}
    for (version_id, _), passages in zip(versions, passages_of_version, strict=True):
        ids = [ids_of[passage] for passage in passages]
        deltas = [ids[0], *(b - a for a, b in pairwise(ids))]  # small numbers compress well
        rows.append({"id": version_id, "passages": compressor.compress(array("q", deltas).tobytes())})
        version_words[version_id] = set().union(*(words_of[passage] for passage in passages))
    connection.execute(text("INSERT INTO version_passages (version_id, passages) VALUES (:id, :passages)"), rows)
    _add_words(connection, "version_words", version_words)


def _passage_ids(connection: Connection, passages: list[str], words_of: dict[str, set[str]]) -> dict[str, int]:
    """The id of each distinct passage, storing (and indexing, with its words from `words_of`) those not stored yet."""
    digests = [hashlib.sha256(passage.encode("utf-8")).hexdigest() for passage in passages]
    known: dict[str, int] = {}
    for chunk in _chunks(sorted(set(digests))):
        known.update(_rows(connection, "SELECT sha256, id FROM passage WHERE sha256 IN :values", chunk))
    new = {digest: passage for digest, passage in zip(digests, passages, strict=True) if digest not in known}
    if new:
        # Another process may store the same passage at the same moment: the first one wins,
        # and indexes it; the other reads its id.
        written = dict(_insert_passages(connection, new))
        _add_words(connection, "passage_words", {id_: words_of[new[digest]] for digest, id_ in written.items()})
        known.update(written)
        for chunk in _chunks(sorted(set(new) - set(written))):
            known.update(_rows(connection, "SELECT sha256, id FROM passage WHERE sha256 IN :values", chunk))
    return {passage: known[digest] for digest, passage in zip(digests, passages, strict=True)}


def _insert_passages(connection: Connection, new: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(SHA-256, id) of each passage of `new` ({sha256: text}) this transaction stored."""
    insert = "INSERT INTO passage (sha256, text) {} ON CONFLICT (sha256) DO NOTHING RETURNING sha256, id"
    if connection.dialect.name == "postgresql":  # one statement, one round trip
        rows = "SELECT * FROM unnest(CAST(:digests AS text[]), CAST(:texts AS text[]))"
        yield from connection.execute(text(insert.format(rows)), {"digests": list(new), "texts": list(new.values())})
        return
    # SQLite: many rows to a statement, with the driver's own parameter markers (SQLAlchemy adds nothing here)
    pairs = list(new.items())
    for chunk in _chunks(pairs, _ROWS_PER_INSERT):
        statement = insert.format("VALUES " + ", ".join(["(?, ?)"] * len(chunk)))
        yield from connection.exec_driver_sql(statement, tuple(value for pair in chunk for value in pair))


def _add_words(connection: Connection, table: str, rows: dict[int, set[str]]) -> None:
    """Each row's distinct words into the full-text index `table`, by the row's id."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        ids, parts, lists = [], [], []
        for row_id, distinct in rows.items():
            ordered = sorted(distinct)
            for part, start in enumerate(range(0, max(len(ordered), 1), PART_WORDS)):
                ids.append(row_id)
                parts.append(part)
                lists.append(" ".join(ordered[start : start + PART_WORDS]))  # a word has no space
        connection.execute(
            text(
                f"INSERT INTO {table} (id, part, words) SELECT id, part, array_to_tsvector(string_to_array(words, ' '))"
                " FROM unnest(CAST(:ids AS integer[]), CAST(:parts AS integer[]), CAST(:words AS text[]))"
                " AS row (id, part, words)"
            ),
            {"ids": ids, "parts": parts, "words": lists},
        )
    else:
        connection.exec_driver_sql(
            f"INSERT INTO {table} (rowid, words) VALUES (?, ?)",
            [(row_id, " ".join(sorted(distinct))) for row_id, distinct in rows.items()],
        )


def index_missing(connection: Connection) -> int:
    """Index every version that has no index row yet (what the migration that made the index
    runs); returns how many were indexed. A version whose content cannot be read back (a
    damaged database) is left out with a warning naming it."""
    session = Session(bind=connection)  # to read blobs only; it never commits nor rolls back
    done = 0
    after = 0
    while True:
        batch = connection.execute(
            text(
                "SELECT v.id, v.content_sha256 FROM version v WHERE v.id > :after"
                " AND NOT EXISTS (SELECT 1 FROM version_passages p WHERE p.version_id = v.id)"
                " ORDER BY v.id LIMIT :limit"
            ),
            {"after": after, "limit": FILL_BATCH},
        ).all()
        if not batch:
            break
        for version_id, content_sha256 in batch:
            after = version_id
            try:
                content = json.loads(get_blob(session, content_sha256))
                if not isinstance(content, dict):
                    raise ValueError(f"a JSON {type(content).__name__} where a content's object belongs")
            except (BlobError, ValueError) as exc:
                log.warning(
                    "version %s is left out of the search index: its content cannot be read (%s)", version_id, exc
                )
                continue
            _index(connection, [(version_id, content)])
            done += 1
        session.expunge_all()  # the blobs read so far
    return done


# -- reading ---------------------------------------------------------------------------------


def matching_versions(session: Session, wanted: Collection[str], source_id: int | None = None) -> list[int]:
    """The ids of the versions that have every word in `wanted` (words as `words()` gives
    them) somewhere in their text, of one source's documents or of all."""
    connection = session.connection()
    params: dict = {}
    query = _matching_versions(connection, wanted, source_id, params)
    return list(dict.fromkeys(row[0] for row in _with_index(connection, query, params)))


def matching_passage_lists(session: Session, wanted: Collection[str], source_id: int | None = None) -> PassageLists:
    """The passage lists of the versions matching_versions names, in one query."""
    connection = session.connection()
    params: dict = {}
    found = _matching_versions(connection, wanted, source_id, params)
    if connection.dialect.name == "postgresql":
        query = f"SELECT version_id, passages FROM version_passages WHERE version_id = ANY(ARRAY({found}))"
    else:
        query = f"SELECT version_id, passages FROM version_passages WHERE version_id IN ({found})"
    return PassageLists(_with_index(connection, query, params))


def _matching_versions(connection: Connection, wanted: Collection[str], source_id: int | None, params: dict) -> str:
    if source_id is None:
        return _matching(connection, "version_words", wanted, "", params)
    params["source"] = source_id
    of_source = (
        " AND id IN (SELECT v.id FROM version v JOIN document d ON d.id = v.document_id WHERE d.source_id = :source)"
    )
    return _matching(connection, "version_words", wanted, of_source, params)


def matching_passages(session: Session, wanted: Collection[str]) -> list[int]:
    """The ids of the passages that have every word in `wanted`."""
    connection = session.connection()
    params: dict = {}
    query = _matching(connection, "passage_words", wanted, "", params)
    return list(dict.fromkeys(row[0] for row in _with_index(connection, query, params)))


def passages_with(session: Session, wanted: Collection[str]) -> list[tuple[int, str]]:
    """(id, text) of each passage that has every word in `wanted`: matching_passages and
    passage_texts in one query."""
    connection = session.connection()
    params: dict = {}
    found = _matching(connection, "passage_words", wanted, "", params)
    if connection.dialect.name == "postgresql":
        # The ids as one array (each once): a scan of the primary key rather than a join.
        query = f"SELECT id, text FROM passage WHERE id = ANY(ARRAY({found}))"
    else:
        query = f"SELECT id, text FROM passage WHERE id IN ({found})"
    return _with_index(connection, query, params)


def _matching(connection: Connection, table: str, wanted: Collection[str], narrower: str, params: dict) -> str:
    """The query of the ids of the rows of `table` that have every word in `wanted`; its parameters into `params`."""
    if not wanted:
        raise ValueError("a search of the index needs at least one word")
    if connection.dialect.name == "postgresql":
        # One tsquery of all the words finds a row whose words are in one tsvector (all but the
        # longest texts); a row whose words fill several has each word in one of them. Such a
        # row may be found both ways: the caller drops the second (UNION would hash every id).
        lexemes = [_lexeme(word) for word in sorted(wanted)]
        params["all"] = " & ".join(lexemes)
        params.update({f"w{n}": lexeme for n, lexeme in enumerate(lexemes)})
        each = " AND ".join(f"bool_or(words @@ CAST(:w{n} AS tsquery))" for n in range(len(lexemes)))
        found = (
            f"SELECT id FROM {table} WHERE words @@ CAST(:all AS tsquery) UNION ALL SELECT id FROM {table}"
            f" WHERE id IN (SELECT id FROM {table} WHERE part > 0) GROUP BY id HAVING {each}"
        )
    else:
        params["match"] = " ".join(f'"{word}"' for word in sorted(wanted))  # each word a quoted string
        found = f"SELECT rowid AS id FROM {table} WHERE {table} MATCH :match"
    return f"SELECT id FROM ({found}) AS found WHERE true{narrower}"


def _with_index(connection: Connection, query: str, params: dict) -> list[tuple]:
    """The rows of a query of the full-text index."""
    if connection.dialect.name != "postgresql":
        return _fetch(connection, query, params)
    # When most rows have the words, the planner would rather read every tsvector than the GIN
    # index: it does not count unpacking them, ten times the cost. The index, then, for this query.
    [(before, _)] = _fetch(
        connection, "SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)", {}
    )
    try:
        return _fetch(connection, query, params)
    finally:
        _fetch(connection, "SELECT set_config('enable_seqscan', :before, true)", {"before": before})


def _lexeme(word: str) -> str:
    """A word as a tsquery of that one lexeme: quoted (a word is letters and digits; the quoting holds anyway)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def versions_with(session: Session, version_ids: Collection[int]) -> dict[int, list[tuple[int, int]]]:
    """Every version of each document one of these versions is of, by document: (id, number)
    of each, in version order. Plain tuples, ten thousand at a time: the garbage collector
    stops following those (not a named tuple's) after it first meets them."""
    connection = session.connection()
    where, params = _ids_in(connection, "id", version_ids)
    query = (
        "SELECT id, document_id, number FROM version"
        f" WHERE document_id IN (SELECT document_id FROM version WHERE {where}) ORDER BY document_id, number"
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for version_id, document_id, number in _fetch(connection, query, params):
        found.setdefault(document_id, []).append((version_id, number))
    return found


def fetched_at(session: Session, version_ids: Collection[int]) -> dict[int, datetime]:
    """When each of these versions was fetched."""
    connection = session.connection()
    where, params = _ids_in(connection, "id", version_ids)
    query = text(f"SELECT id, fetched_at FROM version WHERE {where}").columns(id=Integer, fetched_at=UTCDateTime)
    return dict(connection.execute(query, params).all())


def documents(session: Session, document_ids: Collection[int]) -> list[Document]:
    where, params = _ids_in(session.connection(), "id", document_ids)
    return list(session.exec(select(Document).where(text(where)).params(params)))


def version_passages(session: Session, version_ids: Collection[int]) -> Iterator[tuple[int, list[int]]]:
    """(version id, its passages' ids in order) of each of these versions that is indexed."""
    lists = passage_lists(session, version_ids)
    for version_id in lists:
        yield version_id, list(lists.ids(version_id))


def passage_lists(session: Session, version_ids: Collection[int]) -> PassageLists:
    """The passage lists of each of these versions that is indexed, as stored: each decoded when asked."""
    connection = session.connection()
    where, params = _ids_in(connection, "version_id", version_ids)
    return PassageLists(_fetch(connection, f"SELECT version_id, passages FROM version_passages WHERE {where}", params))


class PassageLists:
    """Versions' passage lists as stored (zstd of int64 deltas), by version id. A search may
    hold ten thousand: each is decoded as it is read, into no list unless one is asked for."""

    def __init__(self, rows: Iterable[tuple[int, bytes]]) -> None:
        self._packed = dict(rows)
        self._decompress = zstandard.ZstdDecompressor().decompress  # one for them all: making one takes 10 µs

    def __iter__(self) -> Iterator[int]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __contains__(self, version_id: object) -> bool:
        return version_id in self._packed

    def ids(self, version_id: int) -> Iterator[int]:
        """The version's passages' ids in order, as the caller goes."""
        return accumulate(memoryview(self._decompress(self._packed[version_id])).cast("q"))

    def holding(self, places: Collection[set[int]]) -> list[int]:
        """The versions that have, for each set of passage ids in `places`, a passage in it."""
        if len(places) == 1:  # the usual case, one phrase: read each list only up to a passage in it
            [place] = places
            return [version_id for version_id in self._packed if not place.isdisjoint(self.ids(version_id))]
        found = []
        for version_id in self._packed:
            ids = set(self.ids(version_id))
            if all(not place.isdisjoint(ids) for place in places):
                found.append(version_id)
        return found

    def first_in(self, version_id: int, place: set[int]) -> int | None:
        """The version's first passage that is in `place`, if any."""
        return next((id_ for id_ in self.ids(version_id) if id_ in place), None)


def passage_texts(session: Session, passage_ids: Collection[int]) -> Iterator[tuple[int, str]]:
    """(passage id, its text) of each of these passages, read as the caller goes."""
    connection = session.connection()
    where, params = _ids_in(connection, "id", passage_ids)
    yield from _fetch(connection, f"SELECT id, text FROM passage WHERE {where}", params)


_NAMED = re.compile(r"(?<![:\w]):(\w+)")  # a :name parameter (these queries cast with CAST, never ::)


def _fetch(connection: Connection, query: str, params: dict) -> list[tuple]:
    """Every row of a query, as plain tuples, straight from the driver in the connection's
    transaction: many thousand rows cost a fraction of what SQLAlchemy's rows do."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if connection.dialect.name == "postgresql":  # psycopg's parameters are written %(name)s
            # Rows in PostgreSQL's binary format: bytea as it is, not as hexadecimal text.
            cursor.execute(_NAMED.sub(r"%(\1)s", query), params, binary=True)  # type: ignore[call-arg]
        else:
            cursor.execute(query, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _ids_in(connection: Connection, column: str, ids: Collection[int]) -> tuple[str, dict]:
    """`column IN ids` as SQL of one parameter, however many ids: an array, or JSON on SQLite."""
    if connection.dialect.name == "postgresql":  # as text: the driver is slow to write a long list
        return f"{column} = ANY(CAST(:ids AS integer[]))", {"ids": "{" + ",".join(map(str, ids)) + "}"}
    return f"{column} IN (SELECT value FROM json_each(:ids))", {"ids": json.dumps(list(ids))}


def _rows(connection: Connection, query: str, values: list) -> Iterator[tuple]:
    statement = text(query).bindparams(bindparam("values", expanding=True))
    for row in connection.execute(statement, {"values": values}):
        yield tuple(row)


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]

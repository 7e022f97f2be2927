"""Engines, sessions and schema migrations.

SQLite is the embedded default: the file and its folder are created on first
use, WAL is switched on, and Alembic migrations run automatically on open.
PostgreSQL (postgresql+psycopg://…) behaves the same.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

# The newest migration (tests/storage checks it is Alembic's head). A database already
# there is opened without loading Alembic, which every crawl process would pay for.
from storage.revision import SCHEMA_REVISION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used; the message says what to do next."""


# SQLite result codes (the low byte of an extended code) and PostgreSQL SQLSTATEs for a write refused.
_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_PG_READ_ONLY = {"25006"}  # read_only_sql_transaction: default_transaction_read_only, a hot standby
_PG_FULL = {"53100"}  # disk_full
READ_ONLY_HELP = (
    "make it writable (the file and its folder, the mount, or the server's default_transaction_read_only), "
    "or point [database] url or RULEWATCH_DATABASE_URL at a writable one"
)
FULL_HELP = "free space on its disk (or raise its size limit or quota), then run again"


def database_error(exc: BaseException, url: str | URL) -> DatabaseError:
    """The one-line error for a database that failed: read-only, full, or otherwise unusable."""
    where = _shown(url)
    orig = getattr(exc, "orig", None) or exc
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if (sqlite_code is not None and sqlite_code & 0xFF == _SQLITE_READONLY) or sqlstate in _PG_READ_ONLY:
        return DatabaseError(f"the database {where} is read-only: {READ_ONLY_HELP}")
    if (sqlite_code is not None and sqlite_code & 0xFF == _SQLITE_FULL) or sqlstate in _PG_FULL:
        return DatabaseError(f"the database {where} is full: {FULL_HELP}")
    return DatabaseError(
        f"cannot use the database {where}: {_first_line(exc)}; "
        "check [database] url or RULEWATCH_DATABASE_URL and that the server is up"
    )


def ensure_writable(engine: Engine) -> None:
    """DatabaseError now if the database refuses writes (read-only, or SQLite at its page limit),
    rather than in the middle of a check. A probe row is written and rolled back."""
    try:
        with engine.connect() as connection:
            probe = connection.begin()
            connection.execute(
                text("INSERT INTO setting (key, value) VALUES (:key, '')"), {"key": f"write-probe-{os.getpid()}"}
            )
            probe.rollback()
            if engine.dialect.name == "sqlite":
                pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
                if pages >= connection.exec_driver_sql("PRAGMA max_page_count").scalar_one():
                    raise DatabaseError(f"the database {_shown(engine.url)} is full: {FULL_HELP}")
    except DBAPIError as exc:
        raise database_error(exc, engine.url) from None


def utcnow() -> datetime:
    """Aware UTC to the second: what every stored time is."""
    return datetime.now(UTC).replace(microsecond=0)


def open_database(url: str, migrate: bool = True) -> Engine:
    """Create the engine, make sure the schema is current, and return it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"invalid database URL {url!r}; expected sqlite:///path.db or postgresql+psycopg://user@host/db"
        ) from None
    connect_args = {}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):  # a URI such as file:x.db?mode=ro names no folder to make
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A crawl process and the CLI share the file: wait for a lock rather than fail.
        connect_args["timeout"] = 30
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    try:
        with engine.connect():
            pass
        if migrate:
            upgrade(engine)
    except (OperationalError, SQLAlchemyError) as exc:
        raise database_error(exc, parsed) from None
    return engine


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Transactions are begun by _sqlite_begin_immediate, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take the write lock when a transaction begins. A transaction that read first and
    then wrote would fail at once with "database is locked" when another process wrote
    in between; begun IMMEDIATE, it waits for the lock instead (the busy timeout)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # a new database: no version table yet
            return None


def upgrade(engine: Engine) -> None:
    if schema_revision(engine) == SCHEMA_REVISION:
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic would otherwise reconfigure logging for the whole process.
    config.attributes["configure_logger"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        logging.getLogger("alembic").setLevel(logging.WARNING)
        command.upgrade(config, "head")


IN_CHUNK = 400  # values per IN list: well within SQLite's and PostgreSQL's limits on bound parameters


def in_chunks(values: list, size: int = IN_CHUNK) -> Iterator[list]:
    """`values` in lists short enough for one IN clause each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_if_absent(session: Session, model: type[SQLModel], key: list[str], values: dict[str, Any]) -> bool:
    """Insert a row unless one with the same `key` columns exists; True when this one was written.

    For rows two processes may write at the same moment: the first wins, and the
    other carries on rather than fail. SQLite and PostgreSQL both say ON CONFLICT DO NOTHING.
    """
    statement = _insert_unless_present(session.get_bind().dialect.name, model, tuple(key))
    # Core, with the values as parameters: compiled once per table and set of columns.
    return session.connection().execute(statement, values).first() is not None


@functools.cache
def _insert_unless_present(dialect_name: str, model: type[SQLModel], key: tuple[str, ...]) -> Any:
    # The dialect's own INSERT, imported here: PostgreSQL's module alone takes ~60 ms to load.
    dialect = importlib.import_module(f"sqlalchemy.dialects.{dialect_name}")
    table = model.__table__  # type: ignore[attr-defined]
    # RETURNING tells: the row count of such an INSERT is -1 on PostgreSQL (SQLAlchemy 2.1, psycopg 3).
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*(table.c[name] for name in key))
    )


def insert_row(session: Session, row: SQLModel) -> int:
    """Write a new row in one INSERT of its own and give it its id: about a third of the cost
    of the ORM's flush. The row stays out of `session`, so set every value before."""
    table = row.__table__  # type: ignore[attr-defined]
    values = {}
    for column in table.columns:
        value = getattr(row, column.name)
        if value is not None or not (column.primary_key or column.default is not None or column.server_default):
            values[column.name] = value
    row_id = session.connection().execute(_insert_returning_id(table), values).scalar_one()
    row.id = row_id
    return row_id


@functools.cache
def _insert_returning_id(table: Any) -> Any:
    return insert(table).returning(table.c.id)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _shown(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__

"""One active scheduler per database: others stand by until the lock is free.

PostgreSQL: a session-level advisory lock, held by a connection kept open for as
long as this process schedules; it is released by the server if the process dies.
SQLite: an exclusive `flock` on a file beside the database, released by the
kernel if the process dies.

A PostgreSQL restart ends the session holding the lock, and with it the lock,
while this process still believes it holds it; `still_held` finds that out, so
the scheduler can step down before a standby starts polling too.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError


def lock_key(schema: str) -> int:
    """The advisory lock's id: the same in every process of one deployment. Advisory locks
    are per database, so the schema is part of it: deployments in two schemas of one
    database do not block each other."""
    return zlib.crc32(f"rulewatch-scheduler:{schema}".encode())


class SchedulerLock:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None
        self._key = 0
        self._file: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            self._key = lock_key(connection.execute(text("SELECT current_schema()")).scalar_one())
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar():
                connection.commit()
                self._connection = connection
                return True
            connection.close()
            return False
        path = Path(f"{self.engine.url.database}.scheduler.lock")
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """Whether the lock is ours still; when it is not, this object no longer claims it."""
        if self._connection is None:
            return self._file is not None
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid::bigint = :key"
                    " AND pid = pg_backend_pid() AND granted"
                ),
                {"key": self._key},
            ).scalar()
            self._connection.commit()
        except SQLAlchemyError:  # the session, and the lock with it, is gone
            held = 0
        if not held:
            self._forget_connection()
        return bool(held)

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                self._connection.commit()
            except SQLAlchemyError:
                pass  # the session ended (a server restart): the server has already let go
            finally:
                self._forget_connection()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None

    def _forget_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except SQLAlchemyError:
            pass

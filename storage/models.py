"""The tables. Times are aware UTC datetimes throughout (see storage.db.utcnow)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from storage.text import storable_text


# Default factories as plain functions: pydantic reads a factory's signature each time it
# builds a row, and a builtin's (list, dict) is parsed from text, ~50 µs a field.
def no_items() -> list:
    return []


def no_fields() -> dict:
    return {}


class StoredText(TypeDecorator[str]):
    """TEXT for values that may come from fetched data; written as storable_text()."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return storable_text(value) if isinstance(value, str) else value


class StoredString(StoredText):
    """VARCHAR(n) for values that may come from fetched data (see storage.repository.stored_key)."""

    impl = String  # type: ignore[assignment]  # a VARCHAR where the parent has TEXT
    cache_ok = True


class StoredJSON(TypeDecorator[Any]):
    """A JSON object or array kept in a TEXT column, as these columns always were.

    Written as json.dumps with sorted keys and ASCII escapes, so NUL and lone
    surrogates from fetched data travel as \\u escapes both databases accept;
    read back with json.loads. A plain TEXT column rather than the dialects' JSON
    types: rows written before keep their bytes and no migration is needed.
    Change a value by assigning a new one: changes made in place are not saved.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, str | bytes):
            # A container column handed text is almost surely JSON encoded by hand: refuse to encode it twice.
            raise TypeError(f"a JSON column takes the value itself, not its encoding: {value[:60]!r}")
        return json.dumps(value, sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Source(SQLModel, table=True):
    """A configured source and its health, keyed by its configured name."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    kind: str = Field(max_length=40)
    baseline_at: datetime | None = None  # end of the first successful check
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(StoredText))
    # Why last_error happened, as a tracker.items.FailureReason value: what health decides by.
    last_failure_reason: str | None = Field(default=None, max_length=40)
    consecutive_failures: int = 0
    retry_after: datetime | None = None  # a host asked us to wait until then
    health_alerted: bool = False  # admins were told it is failing, and not yet that it recovered


class Document(SQLModel, table=True):
    """A tracked document: an FR document number, an eCFR part or a canonical URL."""

    __table_args__ = (UniqueConstraint("source_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    key: str = Field(index=True, sa_type=StoredString(2000))  # bounded by storage.repository.stored_key
    url: str = Field(sa_type=StoredText)
    title: str = Field(default="", sa_column=Column(StoredText, nullable=False, default=""))
    first_seen_at: datetime
    last_seen_at: datetime
    latest_version: int = 0
    missing_checks: int = 0  # consecutive checks that found it gone (404/410)
    removed_at: datetime | None = None


class Blob(SQLModel, table=True):
    """Stored bytes, compressed, once per SHA-256 (see storage.blobs).

    With a base, `data` is a zstd delta against the base blob's bytes: the same
    document's previous version. `depth` counts the deltas down to a full copy.
    """

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    compression: str = Field(max_length=10)  # zstd, or zlib in databases written before deltas
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # No foreign key: adding one would make SQLite copy the whole table; reads check every link instead.
    base_sha256: str | None = Field(default=None, max_length=64)
    depth: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Version(SQLModel, table=True):
    """One distinct normalized content of a document, with its fetch evidence."""

    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    number: int
    fetched_at: datetime
    url: str = Field(sa_type=StoredText)
    final_url: str = Field(sa_type=StoredText)
    status: int
    headers: dict[str, str] = Field(sa_column=Column(StoredJSON, nullable=False))
    sha256: str = Field(foreign_key="blob.sha256", max_length=64)
    content_type: str = Field(default="", sa_type=StoredString(200))
    content_hash: str = Field(max_length=64)  # of the normalized content, what decides "changed"
    content_sha256: str = Field(foreign_key="blob.sha256", max_length=64)  # its JSON, as a blob
    title: str = Field(default="", sa_column=Column(StoredText, nullable=False, default=""))
    # Source-specific evidence, e.g. {"stage": "published", "attachments": [{"url", "sha256", …}]}
    evidence: dict[str, Any] = Field(
        default_factory=no_fields, sa_column=Column(StoredJSON, nullable=False, default=dict, server_default="{}")
    )
    reader: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # tracker.reading.body.READER that read it


class RedlineCache(SQLModel, table=True):
    """A redline computed once between two versions, so a view shows it without diffing again.

    `body` is the redline's JSON (tracker.redline.model.Redline.to_json), zstd-compressed;
    `revision` is the redline algorithm's (tracker.redline.compute.REDLINE_REVISION), so rows
    of an older algorithm are never read. Ingest writes one per change, views the pairs they
    are asked for.
    """

    __tablename__ = "redline_cache"
    __table_args__ = (UniqueConstraint("document_id", "from_version", "to_version", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    from_version: int
    to_version: int
    revision: str = Field(max_length=20)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class Event(SQLModel, table=True):
    """Something that happened to a document: new, changed, removed, expectation_met."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=20)
    source_id: int = Field(foreign_key="source.id", index=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    from_version: int | None = None
    to_version: int | None = None
    severity: str | None = Field(default=None, max_length=20)
    reasons: list[str] = Field(default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list))
    expectations: list[str] = Field(
        default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list)
    )
    summary: str = Field(default="", sa_column=Column(StoredText, nullable=False, default=""))
    baseline: bool = False
    detected_at: datetime = Field(index=True)


class Subscriber(SQLModel, table=True):
    """Someone who gets email, and what they follow."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)  # normalized
    # Source and expectation names followed; none of either: everything.
    sources: list[str] = Field(default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list))
    expectations: list[str] = Field(
        default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list)
    )
    min_severity: str = Field(default="substantive", max_length=20)
    digest: str = Field(default="off", max_length=10)  # off | daily | weekly
    active: bool = True
    token_version: int = 1  # raising it revokes every signed link given out so far
    created_at: datetime
    last_digest_at: datetime | None = None  # end of the last digest period sent


class Delivery(SQLModel, table=True):
    """The outbox: one row per event and subscriber, written with the event itself."""

    __table_args__ = (UniqueConstraint("event_id", "subscriber_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    cadence: str = Field(max_length=10)  # immediate | digest
    status: str = Field(default="pending", index=True, max_length=10)  # pending | sending | sent | failed | dropped
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    claimed_at: datetime | None = None  # when claimed, then renewed while its owner lives (tracker.alerts.claims)
    claimed_by: str | None = Field(default=None, max_length=300)  # the sending process, see claims.SenderProcess
    sent_at: datetime | None = None
    message_id: str = Field(default="", max_length=300)
    last_error: str | None = Field(default=None, sa_column=Column(StoredText))
    created_at: datetime


class Channel(SQLModel, table=True):
    """A configured [[channels]] entry and what it follows, kept in step with the configuration.

    Its URL and webhook secret stay in the configuration (or the environment): tokens are never stored."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    scheme: str = Field(max_length=40)  # what an admin is shown of its URL
    # Source and expectation names followed; none of either: everything (as for subscribers).
    sources: list[str] = Field(default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list))
    expectations: list[str] = Field(
        default_factory=no_items, sa_column=Column(StoredJSON, nullable=False, default=list)
    )
    min_severity: str = Field(default="substantive", max_length=20)
    active: bool = True  # false once it is no longer configured
    created_at: datetime


class ChannelDelivery(SQLModel, table=True):
    """The channels' outbox: one row per event and channel, written with the event, sent like a delivery."""

    __tablename__ = "channel_delivery"
    __table_args__ = (UniqueConstraint("event_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    status: str = Field(default="pending", index=True, max_length=10)  # pending | sending | sent | failed | dropped
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    claimed_at: datetime | None = None  # when claimed, then renewed while its owner lives (tracker.alerts.claims)
    claimed_by: str | None = Field(default=None, max_length=300)  # the sending process, see claims.SenderProcess
    sent_at: datetime | None = None
    message_id: str = Field(default="", max_length=300)
    last_error: str | None = Field(default=None, sa_column=Column(StoredText))
    created_at: datetime


class Setting(SQLModel, table=True):
    """Small values the service keeps for itself, such as its generated signing key.

    `value` stays plain text: each key has its own format (a raw key, a heartbeat)."""

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))


class ExpectationMet(SQLModel, table=True):
    """A promised document that appeared: one row per expectation, so it fires once."""

    __tablename__ = "expectation_met"

    name: str = Field(primary_key=True, max_length=200)
    met_at: datetime
    document_id: int = Field(foreign_key="document.id")
    version: int
    event_id: int | None = Field(default=None, foreign_key="event.id")


class AdminNotice(SQLModel, table=True):
    """A message to an admin about a source's health (failing, recovered), sent like a delivery."""

    __tablename__ = "admin_notice"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    source_id: int = Field(foreign_key="source.id", index=True)
    subject: str = Field(sa_column=Column(StoredText, nullable=False))
    body: str = Field(sa_column=Column(StoredText, nullable=False))
    status: str = Field(default="pending", index=True, max_length=10)  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime
    claimed_at: datetime | None = None  # when claimed, then renewed while its owner lives (tracker.alerts.claims)
    claimed_by: str | None = Field(default=None, max_length=300)  # the sending process, see claims.SenderProcess
    sent_at: datetime | None = None
    message_id: str = Field(default="", max_length=300)
    last_error: str | None = Field(default=None, sa_column=Column(StoredText))
    created_at: datetime


class NodeJob(SQLModel, table=True):
    """One batch of sources dispatched to a Scrapyd node (only when a [cluster] is configured).

    The scheduler writes it when it schedules the job; the job writes its results
    when it ends; the scheduler then reviews the sources' health and marks it done.
    A standby scheduler that takes over finds the runs still in flight here.
    """

    __tablename__ = "check_run"

    id: int | None = Field(default=None, primary_key=True)
    sources: list[str] = Field(sa_column=Column(StoredJSON, nullable=False))  # source names
    node: str = Field(max_length=500)  # the Scrapyd node's base URL
    job: str = Field(default="", max_length=100)  # the Scrapyd job id
    status: str = Field(default="running", index=True, max_length=10)  # running | done | lost
    attempt: int = 1  # raised each time a lost run's sources are given to another node
    events_after: int = 0  # the newest event id at dispatch, to count the events this run made
    dispatched_at: datetime
    finished_at: datetime | None = None  # set by the job itself
    results: dict[str, Any] | None = Field(
        default=None, sa_column=Column(StoredJSON)
    )  # {source: tally}, set by the job
    error: str | None = Field(default=None, sa_column=Column(StoredText))


class AdminSession(SQLModel, table=True):
    """An admin signed in through the login form; the cookie carries its random id, signed.
    Logging out deletes the row, so a copy of the cookie stops working at once."""

    __tablename__ = "admin_session"

    id_sha256: str = Field(primary_key=True, max_length=64)  # of the id in the cookie, never the id itself
    token_fingerprint: str = Field(max_length=64)  # of the admin token it was opened with
    created_at: datetime
    expires_at: datetime = Field(index=True)


class AdminAuthFailure(SQLModel, table=True):
    """A wrong admin token from a client address; recent ones hold that address back (tracker.web.security)."""

    __tablename__ = "admin_auth_failure"

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(index=True, max_length=100)
    at: datetime = Field(index=True)


# -- the review desk: accounts, sessions, reviews and their audit log ----------------------------


class UserAccount(SQLModel, table=True):
    """Someone who signs in to the web app: a viewer, a reviewer or an admin.
    Without a password until they follow their one-time sign-in link."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)  # normalized (tracker.config.normalize_email)
    role: str = Field(max_length=20)  # viewer | reviewer | admin
    password_hash: str | None = Field(default=None, max_length=200)  # Argon2id, in its encoded form
    created_at: datetime
    password_set_at: datetime | None = None


class SignInLink(SQLModel, table=True):
    """A one-time link that lets its account set a password; only the SHA-256 of its token is kept."""

    __tablename__ = "sign_in_link"

    token_sha256: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """A signed-in browser; its cookie carries a random id whose SHA-256 is the key.
    Signing out deletes the row, so a copy of the cookie stops working at once."""

    __tablename__ = "user_session"

    id_sha256: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime
    expires_at: datetime = Field(index=True)


class SignInFailure(SQLModel, table=True):
    """A wrong e-mail or password at /login; recent ones hold back that address and that account."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(index=True, max_length=100)
    email: str = Field(index=True, max_length=320)  # as typed, normalized when it could be
    at: datetime = Field(index=True)


class Review(SQLModel, table=True):
    """Where a reviewable event stands: new, in_review, reviewed or not_relevant. An event
    without a row is new. Who and when are those of the latest review action."""

    event_id: int = Field(primary_key=True, foreign_key="event.id")
    status: str = Field(index=True, max_length=20)
    reviewed_by: str | None = Field(default=None, max_length=320)  # an account's e-mail, or "admin token"
    reviewed_at: datetime | None = None


class ReviewNote(SQLModel, table=True):
    """A note written on an event's review; kept whoever wrote it, even once their account is gone."""

    __tablename__ = "review_note"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    author: str = Field(max_length=320)
    written_at: datetime
    text: str = Field(sa_column=Column(StoredText, nullable=False))


class AuditEntry(SQLModel, table=True):
    """One thing someone did: a review action, a sign-in or sign-out, an account added or removed."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=320)  # an account's e-mail, "admin token" or "command line"
    action: str = Field(index=True, max_length=40)
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, sa_column=Column(StoredText))
    subject: str | None = Field(default=None, max_length=320)  # the account acted on
    detail: str | None = Field(default=None, max_length=300)  # a role, a client address

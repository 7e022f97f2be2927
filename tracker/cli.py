"""The `rulewatch` command line."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, overload

import click

from storage.limits import MAX_ROW_ID
from tracker.printable import printable
from tracker.settings import Config, ConfigError, Severity

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from storage.models import Document
    from tracker.compare import Comparison

# Each command imports what it uses when it runs: `rulewatch --help` and the read-only
# commands must not pay for SQLAlchemy, the web app, the sender or Scrapy (issue 12).
# Plain Click rather than Typer: Typer builds pydantic validators for every option of
# the command it runs, which alone cost more than a whole `rulewatch changes`.


class State:
    config_path: str | None = None
    database_url: str = ""  # once a command has loaded its config


class Commands(click.Group):
    """Every command: a database that fails on the way (read-only, full, gone) is one line and exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Only a command that opened the database has loaded storage.db (and SQLAlchemy).
            storage_db = sys.modules.get("storage.db")
            if storage_db is None:
                raise
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                fail(str(storage_db.database_error(exc, State.database_url)))
            if isinstance(exc, storage_db.DatabaseError):
                fail(str(exc))
            raise


@click.group(cls=Commands, no_args_is_help=True)
@click.option(
    "--config", "-c", default=None, help="Configuration file (else $RULEWATCH_CONFIG, else config/rulewatch.toml)."
)
def app(config: str | None) -> None:
    """Rulewatch: tracks pages that carry law, keeps every version, redlines and alerts."""
    State.config_path = config


class Format(StrEnum):
    text = "text"
    html = "html"
    json = "json"
    docx = "docx"


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    raise click.exceptions.Exit(code)


@overload
def whole_number(option: str, text: str, least: int = 0, most: int = MAX_ROW_ID) -> int: ...
@overload
def whole_number(option: str, text: None, least: int = 0, most: int = MAX_ROW_ID) -> None: ...
@overload
def whole_number(option: str, text: str | None, least: int = 0, most: int = MAX_ROW_ID) -> int | None: ...
def whole_number(option: str, text: str | None, least: int = 0, most: int = MAX_ROW_ID) -> int | None:
    """A numeric option, read here rather than by Click, so that a bad one is a one-line error."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and least <= int(text) <= most):
        fail(f"{option}: expected a whole number from {least} to {most}, got {text!r}")
    return int(text)


def say(text: str, err: bool = False) -> None:
    """One line that may carry fetched text (titles, URLs, server errors): its controls shown escaped."""
    click.echo(printable(text), err=err)


def say_lines(text: str) -> None:
    """Text made of lines, such as a redline: each line escaped on its own, so only ours break it."""
    click.echo("\n".join(printable(line) for line in text.split("\n")))


def load() -> tuple[Config, Engine]:
    from storage.db import DatabaseError, open_database
    from tracker.config import load_config

    try:
        config = load_config(State.config_path)
        State.database_url = config.database_url
        return config, open_database(config.database_url)
    except (ConfigError, DatabaseError) as exc:
        fail(str(exc))


@app.command()
@click.option("--source", "-s", multiple=True, help="Check only this source (repeatable).")
def check(source: tuple[str, ...]) -> None:
    """One pass over every (or the named) source: fetch, store, diff, classify."""
    from storage.db import ensure_writable
    from tracker.alerts.sender import Sender
    from tracker.crawl.launch import run_check

    config, engine = load()
    _channels_ready(config)
    try:
        names = [config.source(name).name for name in source] or [s.name for s in config.sources]
    except ConfigError as exc:
        fail(str(exc))
    if not names:
        fail(f"{config.path}: no [[sources]] configured; add one (see README) and run again")
    ensure_writable(engine)  # a check stores what it finds: an unusable database is an error, not a result
    say(f"Checking {len(names)} source(s): {', '.join(names)}", err=True)
    _sync_configuration(config, engine)
    for result in run_check(config, engine, names):
        # A result's line, then an indented line of its first failure, which quotes fetched text.
        summary, newline, failures = result.line().partition("\n")
        click.echo(printable(summary) + newline + printable(failures))
    say(Sender(config, engine).drain().line())


@app.command()
@click.argument("email")
@click.option("--source", multiple=True, help="Follow only this source (repeatable; none: all).")
@click.option("--expectation", multiple=True, help="Follow only this expectation (repeatable; none: all).")
@click.option("--min-severity", default="substantive", help="substantive or minor: the least a change must be.")
@click.option("--digest", default="off", help="off (immediate), daily or weekly.")
def subscribe(
    email: str, source: tuple[str, ...], expectation: tuple[str, ...], min_severity: str, digest: str
) -> None:
    """Add or update a subscriber: EMAIL, the subscriber's address."""
    from storage.db import session_scope
    from tracker.alerts.links import subscriber_feed_url, subscription_url
    from tracker.alerts.subscribers import SubscriberError, upsert_subscriber
    from tracker.settings import SubscriberConfig

    config, engine = load()
    for name in source:
        _known(name, [s.name for s in config.sources], "source")
    for name in expectation:
        _known(name, [e.name for e in config.expectations], "expectation")
    wanted = SubscriberConfig(email, tuple(source), tuple(expectation), min_severity, digest)
    try:
        with session_scope(engine) as session:
            subscriber = upsert_subscriber(session, wanted)
            email, feed_url = subscriber.email, subscriber_feed_url(session, config, subscriber)
            manage_url = subscription_url(session, config, subscriber)
    except SubscriberError as exc:
        fail(str(exc))
    scope = ", ".join(source + expectation) or "everything"
    say(f"{email} follows {scope}: {min_severity} changes and up, digest {digest}")
    say(f"their feed: {feed_url}")
    say(f"their subscription page (valid 30 days): {manage_url}")


@app.command()
@click.argument("email")
def unsubscribe(email: str) -> None:
    """Stop all email to EMAIL, a subscriber (their pending messages are dropped)."""
    from storage.db import session_scope
    from tracker.alerts.subscribers import SubscriberError, deactivate

    _, engine = load()
    try:
        with session_scope(engine) as session:
            subscriber = deactivate(session, email)
    except SubscriberError as exc:
        fail(str(exc))
    if subscriber is None:
        fail(f"{email} is not a subscriber")
    say(f"{subscriber.email} unsubscribed")


@app.command()
def run() -> None:
    """The service: poll every source at its interval until stopped."""
    from storage.db import ensure_writable
    from tracker.service.scheduler import configure_logging, serve_forever

    config, engine = load()
    if not config.sources:
        fail(f"{config.path}: no [[sources]] configured; nothing to poll")
    _channels_ready(config)
    ensure_writable(engine)
    configure_logging()
    _sync_configuration(config, engine)
    serve_forever(config, engine)


@app.command()
@click.option("--forever", is_flag=True, help="Keep sending until stopped: an extra sender.")
def send(forever: bool) -> None:
    """Send what is due: alerts (mail and [[channels]]), digests and admins' notices.

    `rulewatch run` sends too; any number of extra senders may run beside it, on
    any machine sharing the PostgreSQL database: each message is claimed by one.
    """
    import time

    from tracker.alerts.sender import Sender
    from tracker.service.scheduler import OUTBOX_INTERVAL

    config, engine = load()
    _channels_ready(config)
    try:
        while True:
            say(Sender(config, engine).drain().line(), err=True)
            if not forever:
                return
            time.sleep(OUTBOX_INTERVAL)
    except KeyboardInterrupt:
        return


@app.command()
@click.option("--bind", default="127.0.0.1", help="Address to listen on; the scheduler's machine must reach it.")
@click.option("--port", default="6800", metavar="PORT", help="Scrapyd's HTTP port.")
@click.option("--dir", "directory", default="var/scrapyd", help="Where the node keeps its config, logs and queue.")
@click.option("--project", default="rulewatch", help="The project name, as in [cluster] project.")
@click.option("--max-jobs", default="0", metavar="N", help="Crawl jobs at once; 0 means 4 per CPU.")
def node(bind: str, port: str, directory: str, project: str, max_jobs: str) -> None:
    """A crawl node for a [cluster]: Scrapyd, serving Rulewatch's spiders."""

    from tracker.service.node import run_node

    port_number = whole_number("--port", port, 1, 65535)
    jobs = whole_number("--max-jobs", max_jobs, 0, 10000)
    click.echo(f"Scrapyd node on http://{bind}:{port_number}, files in {directory}", err=True)
    run_node(bind, port_number, Path(directory), project, jobs)


@app.command()
def serve() -> None:
    """The web app alone: feeds, redlines, unsubscribe links."""
    from tracker.service.scheduler import configure_logging
    from tracker.web.app import serve as serve_web

    config, engine = load()
    configure_logging()
    serve_web(config, engine)


class FeedFormat(StrEnum):
    atom = "atom"
    rss = "rss"


@app.command()
@click.option("--format", "fmt", type=click.Choice(list(FeedFormat)), default=FeedFormat.atom, help="atom or rss.")
@click.option("--source", default=None, help="Only this source.")
def feed(fmt: str, source: str | None) -> None:
    """A feed of changes on stdout, for static hosting."""
    from storage.db import session_scope
    from tracker.alerts.feeds import build_feed

    config, engine = load()
    try:
        with session_scope(engine) as session:
            body = build_feed(session, config, FeedFormat(fmt).value, source=source)
    except LookupError as exc:
        fail(str(exc).strip("'\""))
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()


@app.command()
@click.option(
    "--dir", "directory", default=None, help="Where to keep its database and mail (default: a new temporary folder)."
)
def demo(directory: str | None) -> None:
    """The offline replay of the May 2025 story, start to finish, on this machine alone."""
    from tracker.demo.run import run_demo

    try:
        run_demo(Path(directory) if directory else None, echo=click.echo)
    except FileExistsError as exc:
        fail(str(exc))


@app.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--since", default=None, help="Only events detected at or after this ISO 8601 time.")
@click.option("--severity", default=None, help="Keep changes at least this severe (and all other events).")
@click.option("--source", default=None, help="Only this source.")
@click.option("--limit", default="0", metavar="N", help="At most this many (0: all).")
def changes(as_json: bool, since: str | None, severity: str | None, source: str | None, limit: str) -> None:
    """Changes and events, newest first."""
    most = whole_number("--limit", limit)
    severities = None
    if severity is not None:
        if severity not in list(Severity):
            fail(f"--severity: expected one of {', '.join(Severity)}, got {severity!r}")
        severities = [s.value for s in Severity if s.rank >= Severity(severity).rank]
    since_time = _parse_time("--since", since) if since else None
    rows = _changes_plain(since_time, severities, source, most)
    if rows is None:
        rows = _changes(since_time, severities, source, most)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No events yet. Run `rulewatch check` first.")
        return
    _table(
        ["id", "detected", "event", "severity", "source", "document", "summary"],
        [
            [
                r["id"],
                r["detected_at"],
                r["event"] + (" (baseline)" if r["baseline"] else ""),
                r["severity"] or "",
                r["source"],
                f"{r['document']['id']} {r['document']['title'] or r['document']['url']}",
                r["summary"],
            ]
            for r in rows
        ],
    )


def _changes(since: datetime | None, severities: list[str] | None, source: str | None, most: int) -> list[dict]:
    from storage.db import session_scope
    from storage.repository import get_source, list_events
    from tracker.schemas import events_json

    _, engine = load()
    with session_scope(engine) as session:
        source_id = None
        if source:
            row = get_source(session, source)
            if row is None:
                fail(f"no source named {source!r} has been checked yet")
            source_id = row.id
        events = list_events(session, since=since, severities=severities, source_id=source_id, limit=most or None)
        return events_json(session, events)


def _changes_plain(
    since: datetime | None, severities: list[str] | None, source: str | None, most: int
) -> list[dict] | None:
    """As _changes, read through storage.plain when the database allows it (None otherwise)."""
    from storage import plain
    from tracker.shapes import event_json, review_json

    connection = _plain_database()
    if connection is None:
        return None
    with closing(connection):
        source_id = None
        if source:
            source_id = plain.source_id(connection, source)
            if source_id is None:
                fail(f"no source named {source!r} has been checked yet")
        events = plain.list_events(connection, since, source_id, severities, most or None)
        sources = plain.source_names(connection)
        documents = plain.documents_by_id(connection, [e.document_id for e in events])
        reviews, notes = plain.review_rows(connection, [e.id for e in events])
    return [
        event_json(
            e, sources[e.source_id], documents[e.document_id], review_json(e, reviews.get(e.id), notes.get(e.id, []))
        )
        for e in events
    ]


def _plain_database() -> sqlite3.Connection | None:
    """A read-only connection for the quick path of read commands, or None to take the full one."""
    from storage.plain import open_plain
    from tracker.config_file import quick_database_url

    url = quick_database_url(State.config_path)
    return open_plain(url) if url else None


@app.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array; each expectation with its thread.")
def expectations(as_json: bool) -> None:
    """Each promised document: still waiting, or met (when, by which document); --json adds each one's thread."""
    from storage.db import session_scope
    from tracker.expectations import expectation_rows

    config, engine = load()
    with session_scope(engine) as session:
        rows = expectation_rows(session, config, with_thread=as_json)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No [[expectations]] in {config.path}.")
        return
    _table(
        ["name", "status", "since", "document", "met by"],
        [
            [
                r["name"],
                r["status"],
                r["met_at"] or "",
                (r["document"]["title"] or r["document"]["url"]) if r["document"] else r["title"],
                r["reason"] or "",
            ]
            for r in rows
        ],
    )


@app.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def documents(as_json: bool) -> None:
    """Every tracked document."""
    from storage.db import session_scope
    from storage.models import Source
    from storage.repository import list_documents, require_row
    from tracker.shapes import document_summary_json

    _, engine = load()
    with session_scope(engine) as session:
        rows = [document_summary_json(d, require_row(session, Source, d.source_id)) for d in list_documents(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No documents yet. Run `rulewatch check` first.")
        return
    _table(
        ["id", "source", "versions", "last seen", "title / url"],
        [
            [
                r["id"],
                r["source"],
                r["versions"],
                r["last_seen_at"],
                (r["title"] or r["url"]) + (" [removed]" if r["removed_at"] else ""),
            ]
            for r in rows
        ],
    )


@app.command()
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def history(doc: str, as_json: bool) -> None:
    """One document's versions, with their evidence. DOC: its id, key or URL."""
    from storage.db import session_scope
    from storage.repository import list_versions, stored_id
    from tracker.shapes import version_json

    _, engine = load()
    with session_scope(engine) as session:
        document = _document(session, doc)
        rows = [version_json(v) for v in list_versions(session, stored_id(document))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    say(document.title or document.url)
    say(document.url)
    click.echo("")
    _table(
        ["version", "fetched", "status", "sha256", "final url"],
        [[r["version"], r["fetched_at"], r["status"], r["sha256"][:16], r["final_url"]] for r in rows],
    )


@app.command()
@click.argument("doc")
@click.option("--from", "from_version", default=None, metavar="N", help="Older version (default: the one before --to).")
@click.option("--to", "to_version", default=None, metavar="N", help="Newer version (default: the latest).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(Format)),
    default=Format.text,
    help="text, html, json, or docx (a Word redline).",
)
@click.option(
    "--context",
    default=None,
    metavar="N|all",
    help="Unchanged paragraphs shown around each change in text; a long redline shows 2 by default.",
)
@click.option("--output", "-o", default=None, metavar="FILE", help="Write the redline to FILE (needed for docx).")
def diff(
    doc: str, from_version: str | None, to_version: str | None, fmt: str, context: str | None, output: str | None
) -> None:
    """A redline between two versions of DOC (its id, key or URL; default: the last two)."""
    older, newer = whole_number("--from", from_version), whole_number("--to", to_version)
    around = None if context in (None, "all") else whole_number("--context", context)
    if fmt == Format.docx and output is None:
        fail("--format docx writes a Word file: name it with --output FILE.docx")
    if fmt == Format.json and output is None and (kept := _kept_diff_json(doc, older, newer)) is not None:
        sys.stdout.write(kept + "\n")
        return

    from storage.db import session_scope
    from tracker.compare import ComparisonError, compare_versions
    from tracker.redline.render import default_context

    _, engine = load()
    with session_scope(engine) as session:
        document = _document(session, doc)
        try:
            comparison = compare_versions(session, document, older, newer)
        except ComparisonError as exc:
            fail(str(exc))
        source = _source_name(session, document)
    shown = default_context(comparison.redline) if context is None else around
    if output is not None:
        _write_output(Path(output), _redline_file(comparison, Format(fmt), shown, source))
        return
    if fmt == Format.json:
        sys.stdout.write(json.dumps(comparison.to_json()) + "\n")  # one line: a redline's JSON is large
        return
    if fmt == Format.html:
        from tracker.web.render import standalone_redline

        say_lines(standalone_redline(comparison))  # HTML-escaped; controls shown escaped too
        return
    say_lines(_redline_text(comparison, shown))


@app.command()
@click.argument("doc")
@click.option("--version", default=None, metavar="N", help="The version (default: the latest).")
@click.option("--output", "-o", required=True, metavar="FILE.warc.gz", help="The WARC file to write.")
def export(doc: str, version: str | None, output: str) -> None:
    """A version's evidence as a WARC 1.1 file: its fetches' requests and responses, with their headers.

    DOC is the document's id, key or URL."""
    import tempfile

    from storage.db import session_scope
    from storage.repository import get_version, stored_id
    from tracker.exports.warc import EvidenceError, write_evidence

    target = Path(output)
    number = whole_number("--version", version, 1)
    _, engine = load()
    with session_scope(engine) as session:
        document = _document(session, doc)
        if document.latest_version == 0:
            fail(f"document {document.id} has no stored version yet")
        number = document.latest_version if number is None else number
        row = get_version(session, stored_id(document), number)
        if row is None:
            fail(f"document {document.id} has no version {number}; it has versions 1 to {document.latest_version}")
        # Written beside the target, then moved there: a failure never leaves half a WARC file.
        part: Path | None = None
        try:
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=".rulewatch-", suffix=".part", delete=False
            ) as f:
                part = Path(f.name)
                write_evidence(session, document, row, _source_name(session, document), f)
            part.replace(target)
            part = None
        except EvidenceError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}; choose another --output")
        finally:
            if part is not None:
                part.unlink(missing_ok=True)
    say(f"wrote {target}: version {number} of document {document.id} as WARC 1.1", err=True)


@app.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--source", default=None, help="Only this source's documents.")
def search(query: tuple[str, ...], as_json: bool, source: str | None) -> None:
    """Words (every one must occur) or a "quoted phrase" (quote it for the shell too) across every
    version of every document: where, since when, gone when."""
    from storage.db import session_scope
    from storage.repository import get_source
    from storage.text import storable_text
    from tracker.search import SearchError, hit_json
    from tracker.search import search as find

    text = storable_text(" ".join(query))  # bytes the locale could not decode arrive as lone surrogates
    _, engine = load()
    with session_scope(engine) as session:
        source_id = None
        if source:
            row = get_source(session, source)
            if row is None:
                fail(f"no source named {source!r} has been checked yet")
            source_id = row.id
        try:
            rows = [hit_json(hit) for hit in find(session, text, source_id)]
        except SearchError as exc:
            fail(str(exc))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        say(f"No version of any document has {text}.")
        return
    _table(
        ["document", "source", "first seen", "last", "gone in", "snippet"],
        [
            [
                f"{r['document']['id']} {r['document']['title'] or r['document']['url']}",
                r["source"],
                f"v{r['first_version']} {r['first_seen']}",
                f"v{r['last_version']}",
                f"v{r['gone_in']}" if r["gone_in"] is not None else "-",
                r["snippet"],
            ]
            for r in rows
        ],
    )


# -- the review desk ------------------------------------------------------------------------------


@app.group(no_args_is_help=True)
def users() -> None:
    """Accounts that sign in to the web app: viewers, reviewers and admins."""


class Role(StrEnum):
    viewer = "viewer"
    reviewer = "reviewer"
    admin = "admin"


class ReviewStatus(StrEnum):
    new = "new"
    in_review = "in_review"
    reviewed = "reviewed"
    not_relevant = "not_relevant"


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice(list(Role)),
    help="viewer (reads), reviewer (also reviews) or admin (also /admin).",
)
def users_add(email: str, role: str) -> None:
    """Add an account for EMAIL (what they sign in with); prints its one-time sign-in link
    (valid 24 hours), where its owner sets a password."""
    from storage.db import session_scope
    from tracker.desk.accounts import AccountError, add_user, link_url
    from tracker.desk.audit import COMMAND_LINE_ACTOR

    config, engine = load()
    try:
        with session_scope(engine) as session:
            user, token = add_user(session, email, role, COMMAND_LINE_ACTOR)
            email = user.email
    except AccountError as exc:
        fail(str(exc))
    say(f"{email} added as {role}. Their one-time sign-in link (valid 24 hours, works once):")
    click.echo(link_url(config.web.base_url, token))


@users.command("link")
@click.argument("email")
def users_link(email: str) -> None:
    """A new one-time sign-in link for the account EMAIL, to set a forgotten password; earlier links stop
    working, and using it signs the account out everywhere else."""
    from storage.db import session_scope
    from storage.repository import get_user
    from tracker.desk.accounts import AccountError, account_email, issue_link, link_url
    from tracker.desk.audit import COMMAND_LINE_ACTOR

    config, engine = load()
    try:
        with session_scope(engine) as session:
            user = get_user(session, account_email(email))
            if user is None:
                fail(f"{email} has no account; add one with `rulewatch users add {email} --role viewer`")
            token = issue_link(session, user, COMMAND_LINE_ACTOR)
            email = user.email
    except AccountError as exc:
        fail(str(exc))
    say(
        f"A one-time sign-in link for {email} (valid 24 hours, works once; earlier links no longer work). "
        "Once it sets a new password, every session the account had ends:"
    )
    click.echo(link_url(config.web.base_url, token))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def users_list(as_json: bool) -> None:
    """Every account: its role, and whether it has set a password."""
    from storage.db import session_scope
    from storage.repository import list_users
    from tracker.shapes import iso

    _, engine = load()
    with session_scope(engine) as session:
        rows = [
            {
                "email": u.email,
                "role": u.role,
                "created_at": iso(u.created_at),
                "password_set_at": iso(u.password_set_at),
            }
            for u in list_users(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            "No accounts: the web app's pages are open to all. Add one with `rulewatch users add EMAIL --role …`."
        )
        return
    _table(
        ["email", "role", "added", "password set"],
        [[r["email"], r["role"], r["created_at"], r["password_set_at"] or "not yet"] for r in rows],
    )


@users.command("remove")
@click.argument("email")
def users_remove(email: str) -> None:
    """Remove the account EMAIL; it is signed out at once. Its reviews, notes and audit entries stay."""
    from storage.db import session_scope
    from tracker.desk.accounts import AccountError, remove_user
    from tracker.desk.audit import COMMAND_LINE_ACTOR

    _, engine = load()
    try:
        with session_scope(engine) as session:
            user = remove_user(session, email, COMMAND_LINE_ACTOR)
            email = user.email
    except AccountError as exc:
        fail(str(exc))
    say(f"{email} removed")


@app.command()
@click.argument("event_id", metavar="EVENT_ID")
@click.option(
    "--status", required=True, type=click.Choice(list(ReviewStatus)), help="new, in_review, reviewed or not_relevant."
)
@click.option("--note", default="", help="A note kept with the review and in the audit log.")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The reviewer's (or admin's) account.")
def review(event_id: str, status: str, note: str, as_email: str) -> None:
    """Review the event EVENT_ID (as `rulewatch changes` shows it): set where its review stands,
    with a note; kept in the audit log."""
    from storage.db import session_scope
    from storage.repository import get_user
    from tracker.desk.accounts import AccountError, account_email
    from tracker.desk.reviews import ReviewError, check_reviewer, review_event

    number = whole_number("EVENT_ID", event_id, 1)
    _, engine = load()
    try:
        with session_scope(engine) as session:
            reviewer = check_reviewer(get_user(session, account_email(as_email)), as_email)
            _, before, after = review_event(session, number, status, note, reviewer.email)
            who = reviewer.email
    except (AccountError, ReviewError) as exc:
        fail(str(exc))
    except LookupError as exc:
        fail(f"{exc} `rulewatch changes` lists events with their ids.")
    noted = ", with a note" if note.strip() else ""
    say(f"event {number}: {before} -> {after}, by {who}{noted}")


def _redline_text(comparison: Comparison, shown: int | None) -> str:
    """The text redline with its heading; `shown`: unchanged paragraphs kept around each change (None: all)."""
    from tracker.redline.render import render_text

    document = comparison.document
    old = comparison.old.number if comparison.old else "nothing"
    # Each heading line escaped whole: a title's or a reason's newline must not start a line of its own.
    lines = [printable(f"{document.title or document.url}: version {old} -> {comparison.new.number}")]
    if comparison.assessment:
        lines.append(f"severity: {comparison.assessment.severity}")
        lines += [printable(f"  - {reason}") for reason in comparison.assessment.reasons]
    return "\n".join([*lines, "", render_text(comparison.redline, shown)])


def _redline_file(comparison: Comparison, fmt: Format, shown: int | None, source: str) -> bytes:
    """The redline as a file's bytes: what stdout would show, or the Word document."""
    if fmt is Format.docx:
        from tracker.exports.word import redline_docx

        return redline_docx(comparison, source)
    if fmt is Format.json:
        text = json.dumps(comparison.to_json())
    elif fmt is Format.html:
        from tracker.web.render import standalone_redline

        text = standalone_redline(comparison)
    else:
        text = _redline_text(comparison, shown)
    return (text + "\n").encode()


def _write_output(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}; choose another --output")
    say(f"wrote {path} ({len(data)} bytes)", err=True)


def _source_name(session: Session, document: Document) -> str:
    from storage.models import Source

    source = session.get(Source, document.source_id)
    return source.name if source else ""


def _kept_diff_json(ref: str, older: int | None, newer: int | None) -> str | None:
    """`diff --format json` of a pair whose redline and judgement are stored, read through
    storage.plain; None sends the caller to the full path (which also words every error)."""
    from storage import plain
    from tracker.redline.compute import REDLINE_REVISION
    from tracker.redline.model import Redline
    from tracker.redline.render import comparison_json
    from tracker.shapes import document_json

    connection = _plain_database()
    if connection is None:
        return None
    with closing(connection):
        document = plain.find_document(connection, ref)
        if document is None or document.latest_version == 0:
            return None
        newer = document.latest_version if newer is None else newer
        older = newer - 1 if older is None else older
        if not (older >= 1 and plain.has_version(connection, document.id, older)):
            return None
        if not plain.has_version(connection, document.id, newer):
            return None
        judged = plain.change_assessment(connection, document.id, older, newer)
        kept = plain.cached_redline(connection, document.id, older, newer, REDLINE_REVISION)
    if judged is None or kept is None or judged[0] not in list(Severity):
        return None
    try:
        redline = Redline.from_json(json.loads(kept))
    except (ValueError, KeyError, TypeError):  # a damaged row: the full path computes it again
        return None
    return json.dumps(comparison_json(document_json(document), older, newer, judged[0], judged[1], redline))


def _sync_configuration(config: Config, engine: Engine) -> None:
    """The configured subscribers and channels into the database, where a check's events find
    them; and the threads of expectations new to it gathered from what is stored."""
    from storage.db import session_scope
    from tracker.alerts.channels import sync_channels
    from tracker.alerts.subscribers import SubscriberError, sync_subscribers
    from tracker.expectations import gather_threads

    try:
        with session_scope(engine) as session:
            sync_subscribers(session, config.subscribers)
            sync_channels(session, config.channels)
    except SubscriberError as exc:
        fail(f"{config.path}: subscribers: {exc}")
    with session_scope(engine) as session:
        gather_threads(session, config.expectations, progress=lambda line: say(line, err=True))


def _channels_ready(config: Config) -> None:
    """Before a command that sends: every channel's variables set and its URL one Apprise can use."""
    if not config.channels:
        return
    from tracker.alerts.channels import channel_targets

    try:
        channel_targets(config)
    except ConfigError as exc:
        fail(str(exc))


def _known(name: str, known: list[str], what: str) -> None:
    if name not in known:
        fail(f"no {what} named {name!r} in the configuration (known: {', '.join(known) or 'none'})")


def _document(session: Session, ref: str) -> Document:
    from storage.repository import find_document

    document = find_document(session, ref)
    if document is None:
        fail(f"no document {ref!r}; `rulewatch documents` lists ids, keys and URLs")
    return document


def _parse_time(option: str, text: str) -> datetime:
    from tracker.shapes import FilterError, parse_moment

    try:
        return parse_moment(option, text)
    except FilterError as exc:
        fail(str(exc))


def _table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in headers]] + [["" if c is None else printable(c) for c in row] for row in rows]
    widths = [min(max(len(row[i]) for row in cells), 60) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            c[:60].ljust(w) if i < len(row) - 1 else c for i, (c, w) in enumerate(zip(row, widths, strict=False))
        )
        click.echo(line.rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(app())

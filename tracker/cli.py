"""The `rulewatch` command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, overload

import typer
from typer.core import TyperGroup

from storage.limits import MAX_ROW_ID
from tracker.printable import printable
from tracker.settings import Config, ConfigError, Severity

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from storage.models import Document

# Each command imports what it uses when it runs: `rulewatch --help` and the read-only
# commands must not pay for SQLAlchemy, the web app, the sender or Scrapy (issue 12).


class State:
    config_path: str | None = None
    database_url: str = ""  # once a command has loaded its config


class Commands(TyperGroup):
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


app = typer.Typer(
    help="Rulewatch: tracks pages that carry law, keeps every version, redlines and alerts.",
    no_args_is_help=True,
    add_completion=False,
    cls=Commands,
    rich_markup_mode=None,  # plain help, as Click prints it: Rich alone costs more than the rest of --help
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    text = "text"
    html = "html"
    json = "json"


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(code)


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
    typer.echo(printable(text), err=err)


def say_lines(text: str) -> None:
    """Text made of lines, such as a redline: each line escaped on its own, so only ours break it."""
    typer.echo("\n".join(printable(line) for line in text.split("\n")))


def load() -> tuple[Config, Engine]:
    from storage.db import DatabaseError, open_database
    from tracker.config import load_config

    try:
        config = load_config(State.config_path)
        State.database_url = config.database_url
        return config, open_database(config.database_url)
    except (ConfigError, DatabaseError) as exc:
        fail(str(exc))


@app.callback()
def main(
    config: str | None = typer.Option(
        None, "--config", "-c", help="Configuration file (else $RULEWATCH_CONFIG, else config/rulewatch.toml)."
    ),
) -> None:
    State.config_path = config


@app.command()
def check(source: list[str] = typer.Option([], "--source", "-s", help="Check only this source (repeatable).")) -> None:
    """One pass over every (or the named) source: fetch, store, diff, classify."""
    from storage.db import ensure_writable
    from tracker.alerts.sender import Sender
    from tracker.crawl.launch import run_check

    config, engine = load()
    try:
        names = [config.source(name).name for name in source] or [s.name for s in config.sources]
    except ConfigError as exc:
        fail(str(exc))
    if not names:
        fail(f"{config.path}: no [[sources]] configured; add one (see README) and run again")
    ensure_writable(engine)  # a check stores what it finds: an unusable database is an error, not a result
    say(f"Checking {len(names)} source(s): {', '.join(names)}", err=True)
    _sync_subscribers(config, engine)
    for result in run_check(config, engine, names):
        # A result's line, then an indented line of its first failure, which quotes fetched text.
        summary, newline, failures = result.line().partition("\n")
        typer.echo(printable(summary) + newline + printable(failures))
    say(Sender(config, engine).drain().line())


@app.command()
def subscribe(
    email: str = typer.Argument(..., help="The subscriber's address."),
    source: list[str] = typer.Option([], "--source", help="Follow only this source (repeatable; none: all)."),
    expectation: list[str] = typer.Option(
        [], "--expectation", help="Follow only this expectation (repeatable; none: all)."
    ),
    min_severity: str = typer.Option("substantive", help="substantive or minor: the least a change must be."),
    digest: str = typer.Option("off", help="off (immediate), daily or weekly."),
) -> None:
    """Add or update a subscriber."""
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
def unsubscribe(email: str = typer.Argument(..., help="The subscriber's address.")) -> None:
    """Stop all email to a subscriber (their pending messages are dropped)."""
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
    ensure_writable(engine)
    configure_logging()
    _sync_subscribers(config, engine)
    serve_forever(config, engine)


@app.command()
def send(
    forever: bool = typer.Option(False, "--forever", help="Keep sending until stopped: an extra sender."),
) -> None:
    """Send the mail that is due: alerts, digests and admins' notices.

    `rulewatch run` sends too; any number of extra senders may run beside it, on
    any machine sharing the PostgreSQL database: each message is claimed by one.
    """
    import time

    from tracker.alerts.sender import Sender
    from tracker.service.scheduler import OUTBOX_INTERVAL

    config, engine = load()
    try:
        while True:
            say(Sender(config, engine).drain().line(), err=True)
            if not forever:
                return
            time.sleep(OUTBOX_INTERVAL)
    except KeyboardInterrupt:
        return


@app.command()
def node(
    bind: str = typer.Option("127.0.0.1", help="Address to listen on; the scheduler's machine must reach it."),
    port: str = typer.Option("6800", metavar="PORT", help="Scrapyd's HTTP port."),
    directory: str = typer.Option("var/scrapyd", "--dir", help="Where the node keeps its config, logs and queue."),
    project: str = typer.Option("rulewatch", help="The project name, as in [cluster] project."),
    max_jobs: str = typer.Option("0", metavar="N", help="Crawl jobs at once; 0 means 4 per CPU."),
) -> None:
    """A crawl node for a [cluster]: Scrapyd, serving Rulewatch's spiders."""

    from tracker.service.node import run_node

    port_number = whole_number("--port", port, 1, 65535)
    jobs = whole_number("--max-jobs", max_jobs, 0, 10000)
    typer.echo(f"Scrapyd node on http://{bind}:{port_number}, files in {directory}", err=True)
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
def feed(
    fmt: FeedFormat = typer.Option(FeedFormat.atom, "--format", help="atom or rss."),
    source: str | None = typer.Option(None, help="Only this source."),
) -> None:
    """A feed of changes on stdout, for static hosting."""
    from storage.db import session_scope
    from tracker.alerts.feeds import build_feed

    config, engine = load()
    try:
        with session_scope(engine) as session:
            body = build_feed(session, config, fmt.value, source=source)
    except LookupError as exc:
        fail(str(exc).strip("'\""))
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()


@app.command()
def demo(
    directory: str | None = typer.Option(
        None, "--dir", help="Where to keep its database and mail (default: a new temporary folder)."
    ),
) -> None:
    """The offline replay of the May 2025 story, start to finish, on this machine alone."""
    from tracker.demo.run import run_demo

    try:
        run_demo(Path(directory) if directory else None, echo=typer.echo)
    except FileExistsError as exc:
        fail(str(exc))


@app.command()
def changes(
    as_json: bool = typer.Option(False, "--json", help="One JSON array."),
    since: str | None = typer.Option(None, help="Only events detected at or after this ISO 8601 time."),
    severity: str | None = typer.Option(None, help="Keep changes at least this severe (and all other events)."),
    source: str | None = typer.Option(None, help="Only this source."),
    limit: str = typer.Option("0", metavar="N", help="At most this many (0: all)."),
) -> None:
    """Changes and events, newest first."""
    from storage.db import session_scope
    from storage.models import Document, Source
    from storage.repository import get_source, list_events, require_row
    from tracker.schemas import event_json

    most = whole_number("--limit", limit)
    severities = None
    if severity is not None:
        if severity not in list(Severity):
            fail(f"--severity: expected one of {', '.join(Severity)}, got {severity!r}")
        severities = [s.value for s in Severity if s.rank >= Severity(severity).rank]
    since_time = _parse_time("--since", since) if since else None
    _, engine = load()
    with session_scope(engine) as session:
        source_id = None
        if source:
            row = get_source(session, source)
            if row is None:
                fail(f"no source named {source!r} has been checked yet")
            source_id = row.id
        events = list_events(session, since=since_time, severities=severities, source_id=source_id, limit=most or None)
        rows = [
            event_json(e, require_row(session, Source, e.source_id), require_row(session, Document, e.document_id))
            for e in events
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No events yet. Run `rulewatch check` first.")
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


@app.command()
def expectations(as_json: bool = typer.Option(False, "--json")) -> None:
    """Each promised document: still waiting, or met (when, by which document)."""
    from storage.db import session_scope
    from tracker.expectations import expectation_rows

    config, engine = load()
    with session_scope(engine) as session:
        rows = expectation_rows(session, config)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"No [[expectations]] in {config.path}.")
        return
    _table(
        ["name", "status", "since", "document"],
        [
            [
                r["name"],
                r["status"],
                r["met_at"] or "",
                (r["document"]["title"] or r["document"]["url"]) if r["document"] else r["title"],
            ]
            for r in rows
        ],
    )


@app.command()
def documents(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every tracked document."""
    from storage.db import session_scope
    from storage.models import Source
    from storage.repository import list_documents, require_row
    from tracker.schemas import document_summary_json

    _, engine = load()
    with session_scope(engine) as session:
        rows = [document_summary_json(d, require_row(session, Source, d.source_id)) for d in list_documents(session)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No documents yet. Run `rulewatch check` first.")
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
def history(
    doc: str = typer.Argument(..., help="Document id, key or URL."), as_json: bool = typer.Option(False, "--json")
) -> None:
    """One document's versions, with their evidence."""
    from storage.db import session_scope
    from storage.repository import list_versions, stored_id
    from tracker.schemas import version_json

    _, engine = load()
    with session_scope(engine) as session:
        document = _document(session, doc)
        rows = [version_json(v) for v in list_versions(session, stored_id(document))]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    say(document.title or document.url)
    say(document.url)
    typer.echo("")
    _table(
        ["version", "fetched", "status", "sha256", "final url"],
        [[r["version"], r["fetched_at"], r["status"], r["sha256"][:16], r["final_url"]] for r in rows],
    )


@app.command()
def diff(
    doc: str = typer.Argument(..., help="Document id, key or URL."),
    from_version: str | None = typer.Option(
        None, "--from", metavar="N", help="Older version (default: the one before --to)."
    ),
    to_version: str | None = typer.Option(None, "--to", metavar="N", help="Newer version (default: the latest)."),
    fmt: Format = typer.Option(Format.text, "--format", help="text, html or json."),
    context: str | None = typer.Option(
        None,
        "--context",
        metavar="N|all",
        help="Unchanged paragraphs shown around each change in text; a long redline shows 2 by default.",
    ),
) -> None:
    """A redline between two versions (default: the last two)."""
    from storage.db import session_scope
    from tracker.compare import ComparisonError, compare_versions
    from tracker.redline.render import default_context, render_text

    older, newer = whole_number("--from", from_version), whole_number("--to", to_version)
    around = None if context in (None, "all") else whole_number("--context", context)
    _, engine = load()
    with session_scope(engine) as session:
        document = _document(session, doc)
        try:
            comparison = compare_versions(session, document, older, newer)
        except ComparisonError as exc:
            fail(str(exc))
    if fmt is Format.json:
        typer.echo(json.dumps(comparison.to_json(), indent=2))
        return
    if fmt is Format.html:
        from tracker.web.render import standalone_redline

        say_lines(standalone_redline(comparison))  # HTML-escaped; controls shown escaped too
        return
    old = comparison.old.number if comparison.old else "nothing"
    say(f"{document.title or document.url}: version {old} -> {comparison.new.number}")
    if comparison.assessment:
        say(f"severity: {comparison.assessment.severity}")
        for reason in comparison.assessment.reasons:
            say(f"  - {reason}")
    typer.echo("")
    shown = default_context(comparison.redline) if context is None else around
    say_lines(render_text(comparison.redline, shown))


@app.command()
def search(
    query: list[str] = typer.Argument(
        ..., help='Words (every one must occur) or a "quoted phrase"; quote the phrase for the shell too.'
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON array."),
    source: str | None = typer.Option(None, help="Only this source's documents."),
) -> None:
    """Words or a "quoted phrase" across every version of every document: where, since when, gone when."""
    from storage.db import session_scope
    from storage.models import storable_text
    from storage.repository import get_source
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
        typer.echo(json.dumps(rows, indent=2))
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


def _sync_subscribers(config: Config, engine: Engine) -> None:
    from storage.db import session_scope
    from tracker.alerts.subscribers import SubscriberError, sync_subscribers

    try:
        with session_scope(engine) as session:
            sync_subscribers(session, config.subscribers)
    except SubscriberError as exc:
        fail(f"{config.path}: subscribers: {exc}")


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
    from tracker.web.queries import FilterError, parse_moment

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
        typer.echo(line.rstrip())
        if n == 0:
            typer.echo("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(app())

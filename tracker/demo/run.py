"""`rulewatch demo`: the May 2025 story replayed on this machine alone.

A loopback server plays bis.gov, the Federal Register API, the eCFR and reginfo.gov
step by step (tracker.demo.story); each step is one real check of every source, with
its own database, and alerts go to a local SMTP server that files them as .eml. It
ends on the promised rule's thread: the OIRA review that met its expectation, the
filing, the publication, as /expectations/replacement-rule shows it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent

from sqlmodel import col, select

from storage.db import open_database, session_scope
from storage.models import Document, Event, Source
from storage.repository import max_event_id, require_row
from tracker.alerts.sender import Sender
from tracker.alerts.subscribers import sync_subscribers
from tracker.config import load_config
from tracker.crawl.launch import run_check
from tracker.demo.mailbox import MailFolder
from tracker.demo.server import FixtureServer
from tracker.demo.story import TIMELINE, Sources
from tracker.expectations import expectation_rows, thread
from tracker.printable import printable

EXPECTATIONS = """
[[expectations]]
name = "gp10-guidance"
title = "Full text of the GP10 guidance on Huawei Ascend chips"
match_any = ["General Prohibition 10", "GP10", "Ascend"]
sources = ["bis", "federal-register"]

[[expectations]]
name = "ai-training-policy-statement"
title = "Policy statement on US AI chips used to train models for Chinese entities"
match_all = ["policy statement", "train"]
match_any = ["AI model", "AI models", "artificial intelligence"]
sources = ["bis", "federal-register"]

[[expectations]]
name = "counter-diversion-guidance"
title = "Guidance on protecting supply chains against diversion"
match_any = ["diversion"]
match_all = ["guidance"]
sources = ["bis", "federal-register"]

[[expectations]]
name = "replacement-rule"
title = "Rule replacing the AI Diffusion rule (2025-00636)"
rin = "0694-AJ90"
sources = ["reginfo", "federal-register"]
"""
THREAD = "replacement-rule"  # the expectation the demo ends on


def write_config(folder: Path, server: FixtureServer, smtp_port: int) -> Path:
    base = server.base_url
    path = folder / "rulewatch.toml"
    path.write_text(
        dedent(
            f"""
            # Written by `rulewatch demo`: the sources point at its loopback replay.
            [database]
            url = "sqlite:///rulewatch.db"

            [fetch]
            delay = 0
            retries = 0
            timeout = 10

            [mail]
            smtp_host = "127.0.0.1"
            smtp_port = {smtp_port}
            sender = "Rulewatch demo <alerts@rulewatch.demo>"

            [web]
            base_url = "http://127.0.0.1:8000"

            [[sources]]
            name = "bis"
            kind = "site"
            start_urls = ["{base}/news-updates"]
            follow = ['^{base.replace(".", "[.]")}/(press-release|media/documents)/']

            [[sources]]
            name = "federal-register"
            kind = "federal_register"
            base_url = "{base}"
            agencies = ["industry-and-security-bureau"]
            public_inspection = true

            [[sources]]
            name = "ear"
            kind = "ecfr"
            base_url = "{base}"
            title = 15
            parts = ["744"]

            [[sources]]
            name = "reginfo"
            kind = "reginfo"
            base_url = "{base}"
            rins = ["0694-AJ90"]

            [[subscribers]]
            email = "legal@example.com"
            """
        )
        + EXPECTATIONS,
        encoding="utf-8",
    )
    return path


def run_demo(folder: Path | None = None, echo: Callable[[str], None] = print, timeline=TIMELINE) -> Path:
    echo = _escaping(echo)
    folder = Path(folder or tempfile.mkdtemp(prefix="rulewatch-demo-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "rulewatch.db").exists():
        raise FileExistsError(f"{folder} already holds a demo database; pass another --dir or remove it")
    started = time.monotonic()
    server = FixtureServer().start()
    try:
        with MailFolder(folder / "mail") as mail:
            config = load_config(write_config(folder, server, mail.port))
            engine = open_database(config.database_url)
            with session_scope(engine) as session:
                sync_subscribers(session, config.subscribers)
            sources = Sources(server)
            names = [s.name for s in config.sources]
            echo(f"Rulewatch demo: the May 2025 story, replayed on 127.0.0.1 (data in {folder})\n")
            for number, step in enumerate(timeline, 1):
                step.serve(sources)
                echo(f"[{number}/{len(timeline)}] {step.when}: {step.what}")
                with session_scope(engine) as session:
                    before = max_event_id(session)
                for result in run_check(config, engine, names):
                    if result.failures:
                        echo(f"    ! {result.name}: {result.failures[0]}")
                mailed = len(mail.files)
                Sender(config, engine).drain()
                _print_new_events(engine, before, echo)
                for path, to, subject in mail.subjects(mail.files[mailed:]):
                    echo(f"    ✉ to {to}: {subject}  ({path.name})")
                echo("")
            _print_expectations(engine, config, echo)
            echo(f"\n{len(mail.files)} emails written to {mail.folder}/ (open the .eml files in any mail client)\n")
            _print_thread(engine, echo)
    finally:
        server.stop()
    config_path = folder / "rulewatch.toml"
    echo(f"\nFinished in {time.monotonic() - started:.0f} s. Explore what Rulewatch saw:")
    echo(f"    rulewatch --config {config_path} changes")
    echo(f"    rulewatch --config {config_path} expectations --json")
    echo(f"    rulewatch --config {config_path} serve")
    echo(f"and open the promised rule's thread: {config.web.base_url}/expectations/{THREAD}")
    return folder


def _escaping(echo: Callable[[str], None]) -> Callable[[str], None]:
    """The demo quotes fetched titles and reasons: each line it prints is escaped."""
    return lambda text: echo("\n".join(printable(line) for line in text.split("\n")))


def _print_new_events(engine, after_id: int, echo) -> None:
    with session_scope(engine) as session:
        events = session.exec(select(Event).where(col(Event.id) > after_id).order_by(col(Event.id))).all()
        if not events:
            echo("    (nothing changed that Rulewatch keeps: no new version, no event)")
        for event in events:
            source = require_row(session, Source, event.source_id).name
            document = require_row(session, Document, event.document_id)
            label = (
                event.kind
                + (f" · {event.severity}" if event.severity else "")
                + (" · baseline" if event.baseline else "")
            )
            title = (document.title or document.url)[:90]
            echo(f"    [{label}] {source}: {title}")
            if event.kind == "expectation_met":
                echo(f"        expectation met: {', '.join(event.expectations)}: {'; '.join(event.reasons)}")
            elif event.kind == "changed":
                for reason in event.reasons[:4]:
                    echo(f"        - {reason}")


def _print_expectations(engine, config, echo) -> None:
    echo("Expectations:")
    with session_scope(engine) as session:
        for row in expectation_rows(session, config):
            if row["document"] is None:
                echo(f"    waiting  {row['name']}")
                continue
            title = (row["document"]["title"] or row["document"]["url"])[:70]
            echo(f"    met      {row['name']}: {title} (version {row['version']})")
            echo(f"             {row['reason']}")


def _print_thread(engine, echo) -> None:
    """The thread of the promised rule, oldest first, as its web page shows it."""
    echo(f"The thread of {THREAD}: every event of the documents naming RIN 0694-AJ90, oldest first")
    with session_scope(engine) as session:
        for row in thread(session, THREAD):
            label = (
                row["event"]
                + (f" · {row['severity']}" if row["severity"] else "")
                + (" · baseline" if row["baseline"] else "")
            )
            what = row["reasons"][0] if row["reasons"] else row["summary"]
            title = (row["document"]["title"] or row["document"]["url"])[:60]
            echo(f"    {row['detected_at']}  [{label}] {row['source']}: {title}")
            echo(f"        {what[:110]}")

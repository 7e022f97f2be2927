"""Email alerts against a real SMTP server on loopback, on SQLite and PostgreSQL.

Versions are produced through the real ingest path (tracker.ingest.Ingestor)
from saved pages, so the outbox rows are written exactly as a check writes them.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from textwrap import dedent
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import AdminNotice, Delivery, Event, Source, Subscriber
from tests.conftest import FILES, PROJECT_ROOT
from tracker.alerts import claims as claims_module
from tracker.alerts.claims import CLAIM_LEASE
from tracker.alerts.sender import Sender
from tracker.alerts.subscribers import sync_subscribers
from tracker.config import load_config
from tracker.ingest import Ingestor
from tracker.items import Snapshot

PAGES = FILES / "pages"


class Newsroom:
    """A page source whose versions are ingested directly, as a check would."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.config = load_config(config_path)
        self.engine = open_database(self.config.database_url)
        self.source = self.config.source("bis")
        with session_scope(self.engine) as session:
            sync_subscribers(session, self.config.subscribers)
        self.checks = 0

    def publish(self, body: bytes) -> None:
        ingestor = Ingestor(self.engine, self.source, progress=lambda line: None)
        ingestor.ingest_snapshot(
            Snapshot(
                source="bis",
                key=self.source.url,
                url=self.source.url,
                final_url=self.source.url,
                status=200,
                headers={"Content-Type": "text/html; charset=utf-8"},
                body=body,
                fetched_at=utcnow(),
            )
        )
        ingestor.finish()
        self.checks += 1

    def drain(self, now=None):
        return Sender(self.config, self.engine).drain(now)

    def deliveries(self):
        with session_scope(self.engine) as session:
            return session.exec(select(Delivery).order_by(Delivery.id)).all()


@pytest.fixture
def newsroom(tmp_path, database_url, smtp):
    def make(subscribers: str) -> Newsroom:
        path = tmp_path / "rulewatch.toml"
        path.write_text(
            dedent(
                f"""
                [database]
                url = "{database_url}"

                [mail]
                smtp_host = "127.0.0.1"
                smtp_port = {smtp.port}
                sender = "Rulewatch <alerts@rulewatch.test>"

                [web]
                base_url = "http://rulewatch.test"
                secret_key = "test-secret"

                [[sources]]
                name = "bis"
                kind = "page"
                url = "https://www.bis.gov/guidance"
                selector = "main"
                """
            )
            + dedent(subscribers),
            encoding="utf-8",
        )
        return Newsroom(path)

    return make


TWO_SUBSCRIBERS = """
[[subscribers]]
email = "Legal@Example.com"

[[subscribers]]
email = "trade@example.org"
sources = ["bis"]
"""


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_one_substantive_change_two_subscribers_two_messages(newsroom, smtp):
    room = newsroom(TWO_SUBSCRIBERS)
    room.publish(page("guidance_v1.html"))  # the baseline: recorded, not alerted
    assert room.drain().sent == 0 and room.deliveries() == []

    room.publish(page("guidance_v2_cosmetic.html"))  # cosmetic: stored, never alerted
    assert room.drain().sent == 0 and room.deliveries() == []

    room.publish(page("guidance_v3_negation.html"))
    report = room.drain()
    assert report.sent == 2 and report.failed == 0
    assert sorted(smtp.by_recipient()) == ["legal@example.com", "trade@example.org"]
    for message in smtp.messages:
        assert message["Subject"].startswith("[Rulewatch] Substantive change: Guidance on Advanced Computing")
        assert message.is_multipart()
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "{+not +}" in text and "negation added in § 744.23(a)(2)" in text
        assert ">not </ins>" in html and "style=" in html
        assert "http://rulewatch.test/documents/1/diff?from=2&to=3" in text
        assert "https://www.bis.gov/guidance" in text  # the evidence: where it was fetched
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].strip().startswith("<http://rulewatch.test/unsubscribe/")
        assert message["Message-ID"].startswith("<rulewatch.event.")
        assert "http://rulewatch.test/feeds/subscribers/" in text
        assert "http://rulewatch.test/subscription/" in text

    assert room.drain().sent == 0  # running again sends nothing
    room.publish(page("guidance_v3_negation.html"))  # nothing changed
    assert room.drain().sent == 0 and len(smtp.messages) == 2


def test_the_unsubscribe_link_works(newsroom, smtp):
    from tracker.web.app import create_app

    room = newsroom(TWO_SUBSCRIBERS)
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    room.drain()
    message = smtp.by_recipient()["legal@example.com"][0]
    link = message["List-Unsubscribe"].strip().strip("<>")
    client = TestClient(create_app(room.config, room.engine))
    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with session_scope(room.engine) as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == "legal@example.com")).one()
        assert subscriber.active is False

    room.publish(page("guidance_v1.html"))  # another substantive change: only the other one hears
    room.drain()
    assert [m["To"] for m in smtp.messages[2:]] == ["trade@example.org"]
    assert client.get(path).status_code == 404  # the old link is revoked once used


def test_temporary_failure_is_retried_with_backoff(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    smtp.reply = lambda attempt, rcpt: "451 4.3.0 try again later" if attempt <= 2 else "250 OK"
    start = utcnow()

    first = room.drain(start)
    assert (first.sent, first.retrying) == (0, 1) and "451" in first.errors[0]
    [delivery] = room.deliveries()
    assert delivery.status == "pending" and delivery.next_attempt_at - start <= timedelta(minutes=1)

    assert room.drain(start + timedelta(seconds=5)).sent == 0  # not due yet: no attempt
    assert smtp.attempts == 1
    second = room.drain(start + timedelta(minutes=1))
    assert second.retrying == 1
    [delivery] = room.deliveries()
    assert delivery.next_attempt_at - (start + timedelta(minutes=1)) == timedelta(seconds=60)  # backing off
    third = room.drain(start + timedelta(minutes=3))
    assert third.sent == 1 and len(smtp.messages) == 1
    assert room.deliveries()[0].status == "sent" and room.deliveries()[0].attempts == 3


def test_a_delivery_whose_event_cannot_be_read_is_retried_and_the_next_one_sent(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    room.publish(page("guidance_v1.html"))
    with session_scope(room.engine) as session:
        broken = session.exec(select(Event.id).where(Event.kind == "changed").order_by(Event.id)).first()
        session.exec(text("UPDATE event SET reasons = '[broken' WHERE id = :id").bindparams(id=broken))
    report = room.drain()
    assert (report.sent, report.retrying, report.failed) == (1, 1, 0) and len(smtp.messages) == 1
    first, second = room.deliveries()
    assert (first.event_id, first.status, second.status) == (broken, "pending", "sent")
    assert first.last_error.startswith("unexpected error: JSONDecodeError: ")


def test_server_down_is_temporary(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    smtp.stop()
    report = room.drain()
    assert report.retrying == 1 and "cannot reach the SMTP server" in report.errors[0]
    assert room.deliveries()[0].status == "pending"


def test_permanent_failure_is_recorded_and_not_retried(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "nobody@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    smtp.reply = lambda attempt, rcpt: "550 5.1.1 no such mailbox"
    report = room.drain()
    assert report.failed == 1
    [delivery] = room.deliveries()
    assert delivery.status == "failed" and "550" in delivery.last_error
    room.drain(utcnow() + timedelta(days=1))
    assert smtp.attempts == 1


def test_killed_mid_drain_sends_nothing_twice(newsroom, smtp):
    room = newsroom("".join(f'[[subscribers]]\nemail = "reader{n}@example.com"\n' for n in range(3)))
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    smtp.reply = lambda attempt, rcpt: "hold" if attempt == 2 else "250 OK"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    script = (
        "import sys; from tracker.config import load_config; from storage.db import open_database;"
        "from tracker.alerts.sender import Sender; c = load_config(sys.argv[1]);"
        "Sender(c, open_database(c.database_url)).drain()"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(room.config_path)], env=env)
    try:
        assert smtp.holding.wait(30), "the drain never reached the second message"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    smtp.release()
    statuses = [d.status for d in room.deliveries()]
    assert statuses == ["sent", "sending", "pending"]

    smtp.reply = lambda attempt, rcpt: "250 OK"
    room.drain()  # at once, not after a timeout: the claim's owner was a process of this machine, and it is gone
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert sorted(m["To"] for m in smtp.messages) == [f"reader{n}@example.com" for n in range(3)]
    assert all(d.status == "sent" for d in room.deliveries())


def test_a_claim_of_another_machine_is_taken_back_only_when_its_lease_runs_out(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    claimed_at = utcnow()
    with session_scope(room.engine) as session:
        [delivery] = session.exec(select(Delivery)).all()
        delivery.status, delivery.claimed_at = "sending", claimed_at
        delivery.claimed_by = "other-machine@4242:123456"  # a sender elsewhere, perhaps still at work
    room.drain(claimed_at + CLAIM_LEASE - timedelta(seconds=1))
    assert smtp.messages == [] and room.deliveries()[0].status == "sending"
    room.drain(claimed_at + CLAIM_LEASE + timedelta(seconds=1))  # no renewal for a whole lease: it died
    assert len(smtp.messages) == 1 and room.deliveries()[0].status == "sent"


def test_admin_notices_are_claimed_and_taken_back_as_deliveries_are(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    claimed_at = utcnow()
    with session_scope(room.engine) as session:
        source_id = session.exec(select(Source.id)).one()
        notices = [
            AdminNotice(
                email=f"admin{n}@example.com",
                source_id=source_id,
                subject=f"notice {n}",
                body="body",
                next_attempt_at=claimed_at + timedelta(seconds=n),
                created_at=claimed_at,
            )
            for n in range(3)
        ]
        notices[0].status, notices[0].claimed_at = "sending", claimed_at
        notices[0].claimed_by = "other-machine@4242:123456"
        notices[2].next_attempt_at = claimed_at + timedelta(days=1)  # not yet due
        session.add_all(notices)
    room.drain(claimed_at + CLAIM_LEASE - timedelta(seconds=1))
    assert [m["To"] for m in smtp.messages] == ["admin1@example.com"]
    room.drain(claimed_at + CLAIM_LEASE + timedelta(seconds=1))  # the other machine's claim ran out
    assert [m["To"] for m in smtp.messages] == ["admin1@example.com", "admin0@example.com"]
    with session_scope(room.engine) as session:
        rows = session.exec(select(AdminNotice).order_by(AdminNotice.id)).all()
        assert [n.status for n in rows] == ["sent", "sent", "pending"]
        assert all(n.claimed_by is None for n in rows)
    assert smtp.messages[1]["Message-ID"] == f"<rulewatch.notice.{rows[0].id}@rulewatch.test>"


def test_a_claim_in_flight_is_renewed_so_no_one_takes_it_back(newsroom, smtp, monkeypatch):
    monkeypatch.setattr(claims_module, "RENEW_EVERY", 0.05)
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    smtp.reply = lambda attempt, rcpt: "hold"
    sender = Sender(room.config, room.engine)
    started = utcnow()
    drain = threading.Thread(target=sender.drain)
    drain.start()
    try:
        assert smtp.holding.wait(30), "the drain never reached the server"
        for _ in range(600):  # the owner renews every 0.05 s; the claim was made at `started`
            [delivery] = room.deliveries()
            if delivery.claimed_at > started:
                break
            time.sleep(0.05)
        renewed = delivery.claimed_at
    finally:
        smtp.release()  # the held message is then refused with 421: a temporary failure
        drain.join(30)
    assert delivery.claimed_by == sender.owner and renewed > started
    [delivery] = room.deliveries()
    assert delivery.status == "pending" and delivery.claimed_by is None and delivery.claimed_at is None


def test_daily_and_weekly_digests_with_a_controlled_clock(newsroom, smtp):
    room = newsroom(
        """
        [[subscribers]]
        email = "daily@example.com"
        digest = "daily"

        [[subscribers]]
        email = "weekly@example.com"
        digest = "weekly"
        min_severity = "minor"
        """
    )
    with session_scope(room.engine) as session:
        created = {s.email: s.created_at for s in session.exec(select(Subscriber))}
    day0 = created["daily@example.com"]
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))  # substantive
    minor = page("guidance_v3_negation.html").replace(b"presumption of denial", b"presumption of denial,")
    room.publish(minor)  # punctuation only: minor, still in digests

    assert room.drain(day0 + timedelta(hours=23)).sent == 0
    report = room.drain(day0 + timedelta(days=1, minutes=1))
    assert report.digests == 1
    [daily] = smtp.messages
    assert daily["To"] == "daily@example.com" and daily["Subject"] == "[Rulewatch] Daily digest: 2 changes"
    text = daily.get_body(("plain",)).get_content()
    assert "Substantive change" in text and "Minor change" in text and "== bis ==" in text
    assert room.drain(day0 + timedelta(days=2)).sent == 0  # nothing new: no empty digest

    assert room.drain(day0 + timedelta(days=6)).sent == 0
    assert room.drain(day0 + timedelta(days=7, minutes=1)).digests == 1
    weekly = smtp.messages[-1]
    assert weekly["To"] == "weekly@example.com" and "2 changes" in weekly["Subject"]
    assert len(smtp.messages) == 2


def test_script_in_a_fetched_page_is_escaped_in_email(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(page("guidance_v1.html"))
    hostile = (
        page("guidance_v1.html")
        .replace(b"<h1>Guidance on", b"<h1>&lt;script&gt;alert(1)&lt;/script&gt; Guidance on")
        .replace(b"presumption of denial.</p>", b"presumption of denial. &lt;img src=x onerror=alert(1)&gt;</p>")
    )
    room.publish(hostile)
    room.drain()
    [message] = smtp.messages
    html = message.get_body(("html",)).get_content()
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\n" not in message["Subject"]


def test_a_title_with_newlines_never_breaks_headers(newsroom, smtp):
    room = newsroom('[[subscribers]]\nemail = "legal@example.com"\n')
    room.publish(
        b"<html><head><title>Line one\r\nBcc: victim@example.com</title></head><body><main><p>a</p></main></body></html>"
    )
    room.publish(
        b"<html><head><title>Line one\r\nBcc: victim@example.com</title></head><body><main><p>b</p></main></body></html>"
    )
    room.drain()
    [message] = smtp.messages
    assert message["Bcc"] is None
    assert "Line one Bcc: victim@example.com" in message["Subject"]


def test_several_senders_share_the_outbox_and_send_each_message_once(newsroom, smtp):
    subscribers = "".join(f'[[subscribers]]\nemail = "analyst{n}@example.com"\n\n' for n in range(12))
    room = newsroom(subscribers)
    room.publish(page("guidance_v1.html"))
    room.publish(page("guidance_v3_negation.html"))
    assert sum(d.status == "pending" for d in room.deliveries()) == 12

    command = [sys.executable, "-m", "tracker.cli", "--config", str(room.config_path), "send"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    senders = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    reports = [sender.communicate(timeout=120)[1] for sender in senders]

    assert all(sender.returncode == 0 for sender in senders), reports
    assert sorted(message["To"] for message in smtp.messages) == sorted(f"analyst{n}@example.com" for n in range(12))
    assert [d.status for d in room.deliveries()] == ["sent"] * 12
    sent = sum(int(report.rsplit("mail: ", 1)[1].split(" sent")[0]) for report in reports)
    assert sent == 12  # the three reports add up: no message was sent by two of them

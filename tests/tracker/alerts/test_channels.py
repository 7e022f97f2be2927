"""[[channels]] against real receivers on loopback, on SQLite and PostgreSQL: signed webhooks, and
Apprise (no mock of it) posting to its own json:// and form:// targets, the shape of a Slack or
Teams incoming webhook. Events come through the real ingest path, so the channel deliveries are
written exactly as a check writes them.
"""

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import AdminNotice, Channel, ChannelDelivery, Event, Source
from tests.conftest import FILES, PROJECT_ROOT
from tests.support.history import snapshot
from tests.support.receiver import Drip
from tests.support.smtp import free_port
from tracker.alerts.channels import sync_channels, without_mentions
from tracker.alerts.claims import GIVE_UP_AFTER
from tracker.alerts.sender import Sender
from tracker.cli import app
from tracker.config import load_config
from tracker.ingest import Ingestor

PAGES = FILES / "pages"
V1 = (PAGES / "guidance_v1.html").read_bytes()
V2_COSMETIC = (PAGES / "guidance_v2_cosmetic.html").read_bytes()
V3 = (PAGES / "guidance_v3_negation.html").read_bytes()
V3_MINOR = V3.replace(b"presumption of denial", b"presumption of denial,")
GP10 = b"""<html><head><title>GP10 guidance</title></head><body><main><h1>GP10 guidance</h1>
<p>General Prohibition 10 applies to Ascend chips anywhere in the world.</p></main></body></html>"""
GUIDANCE = "https://www.bis.gov/guidance"
SECRET = "webhook-signing-secret"
TOKEN = "T0KEN-abc123xyz"  # a token inside channel URLs: never in an error, a page or a log
ADMIN_TOKEN = "admin-token-for-tests"


class Room:
    """A page source whose versions are ingested directly, and channels that hear of them."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.config = load_config(config_path)
        self.engine = open_database(self.config.database_url)
        with session_scope(self.engine) as session:
            sync_channels(session, self.config.channels)

    def publish(self, body: bytes, url: str = GUIDANCE) -> None:
        source = self.config.source("bis")
        ingestor = Ingestor(self.engine, source, progress=lambda line: None, expectations=self.config.expectations)
        ingestor.ingest_snapshot(snapshot("bis", url, body))
        ingestor.finish()

    def drain(self, now=None):
        return Sender(self.config, self.engine).drain(now)

    def deliveries(self) -> list[tuple[str, str, str]]:
        """(channel, event kind, status) of every channel delivery, in the order they were written."""
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(Channel.name, Event.kind, ChannelDelivery.status)
                .join(Channel, Channel.id == ChannelDelivery.channel_id)
                .join(Event, Event.id == ChannelDelivery.event_id)
                .order_by(ChannelDelivery.id)
            )
            return [tuple(row) for row in rows]

    def rows(self) -> list[ChannelDelivery]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(ChannelDelivery).order_by(ChannelDelivery.id)))

    def changes_json(self) -> dict[int, dict]:
        """`rulewatch changes --json`, by event id."""
        result = CliRunner().invoke(app, ["--config", str(self.config_path), "changes", "--json"])
        assert result.exit_code == 0, result.output
        return {element["id"]: element for element in json.loads(result.output)}


@pytest.fixture
def room(tmp_path, database_url, receiver, monkeypatch):
    monkeypatch.setenv("RULEWATCH_TEST_HOOK_SECRET", SECRET)

    def make(channels: str) -> Room:
        path = tmp_path / "rulewatch.toml"
        path.write_text(
            dedent(
                f"""
                [database]
                url = "{database_url}"

                [mail]
                smtp_host = "127.0.0.1"
                smtp_port = {free_port()}

                [web]
                base_url = "http://rulewatch.test"
                secret_key = "test-secret"
                admin_token = "{ADMIN_TOKEN}"

                [[sources]]
                name = "bis"
                kind = "page"
                url = "{GUIDANCE}"
                selector = "main"

                [[sources]]
                name = "other"
                kind = "page"
                url = "https://www.bis.gov/other"

                [[expectations]]
                name = "gp10"
                title = "GP10 guidance"
                match_any = ["General Prohibition 10"]

                [[expectations]]
                name = "never"
                match_any = ["words no page has"]
                """
            )
            + dedent(channels),
            encoding="utf-8",
        )
        return Room(path)

    return make


def webhook(receiver, name: str = "hook", path: str = "/hook", extra: str = "") -> str:
    receiver.secrets[path] = SECRET
    return f"""
    [[channels]]
    name = "{name}"
    url = "{receiver.url(path)}"
    secret_env = "RULEWATCH_TEST_HOOK_SECRET"
    {extra}
    """


def apprise(receiver, name: str, scheme: str, path: str, extra: str = "") -> str:
    return f"""
    [[channels]]
    name = "{name}"
    url = "{receiver.url(path, scheme)}"
    {extra}
    """


def diff_of(text: str) -> str:
    """The diff link an Apprise message carries: which event it tells of."""
    return re.search(r"/documents/\d+/diff\?\S+", text).group(0)


def test_each_channel_hears_what_its_filters_let_through(room, receiver):
    room = room(
        webhook(receiver, "substantive-hook")
        + apprise(receiver, "minor-json", "json", "/minor", 'min_severity = "minor"')
        + apprise(receiver, "gp10-form", "form", "/gp10", 'sources = ["other"]\nexpectations = ["gp10"]')
        + apprise(receiver, "elsewhere", "json", "/elsewhere", 'sources = ["other"]\nexpectations = ["never"]')
    )
    room.publish(V1)  # the baseline: recorded, never alerted
    room.publish(V2_COSMETIC)  # cosmetic: stored, never alerted
    assert room.deliveries() == []
    room.publish(V3)  # substantive
    room.publish(V3_MINOR)  # minor
    room.publish(GP10, url="https://www.bis.gov/gp10")  # new, and meets gp10
    assert room.deliveries() == [
        ("substantive-hook", "changed", "pending"),
        ("minor-json", "changed", "pending"),
        ("minor-json", "changed", "pending"),
        ("substantive-hook", "new", "pending"),
        ("minor-json", "new", "pending"),
        ("substantive-hook", "expectation_met", "pending"),
        ("minor-json", "expectation_met", "pending"),
        ("gp10-form", "expectation_met", "pending"),
    ]

    report = room.drain()
    assert (report.channels.delivered, report.channels.retrying, report.channels.failed) == (8, 0, 0)
    assert "channels: 8 delivered, 0 to retry, 0 failed" in report.line()
    assert [status for _, _, status in room.deliveries()] == ["sent"] * 8
    assert receiver.refused == {}
    assert {path: len(got) for path, got in receiver.accepted.items()} == {"/hook": 3, "/minor": 4, "/gp10": 1}
    assert room.drain().channels.delivered == 0  # nothing twice

    # The webhook's body is the event exactly as `rulewatch changes --json` shows it.
    changes = room.changes_json()
    for got in receiver.accepted["/hook"]:
        element = got.json()
        assert element == changes[element["id"]]
        assert got.headers["x-rulewatch-event"] == str(element["id"])
    assert [got.json()["event"] for got in receiver.accepted["/hook"]] == ["changed", "new", "expectation_met"]

    # Apprise's json:// and form:// carry the e-mail's headline as title and its text as body.
    first = receiver.accepted["/minor"][0].json()
    assert (
        first["title"]
        == "Substantive change: Guidance on Advanced Computing Integrated Circuits | Bureau of Industry and Security"
    )
    assert "negation added in § 744.23(a)(2)" in first["message"]
    assert "{+not +}" in first["message"]
    assert "http://rulewatch.test/documents/1/diff?from=2&to=3" in first["message"]
    assert "Unsubscribe" not in first["message"]
    assert receiver.accepted["/minor"][1].json()["title"].startswith("Minor change: ")
    [met] = receiver.accepted["/gp10"]
    assert met.form()["title"] == "Published: GP10 guidance"
    assert "General Prohibition 10" not in met.form()["title"] and "Source: bis" in met.form()["message"]


def test_fetched_markup_reaches_a_markup_target_escaped(room, receiver):
    room = room(
        apprise(receiver, "html-json", "json", "/html", 'min_severity = "minor"').replace("/html", "/html?format=html")
    )
    room.publish(V1)
    hostile = V1.replace(
        b"presumption of denial.</p>", b"presumption of denial. &lt;img src=x onerror=alert(1)&gt;</p>"
    )
    room.publish(hostile)
    room.drain()
    [got] = receiver.accepted["/html"]
    message = got.json()["message"]  # Apprise made HTML of the text, as the target asked: escaped
    assert "<br/>" in message and "<img" not in message
    assert "{+&nbsp;&lt;img&nbsp;src=x&nbsp;onerror=alert(1)&gt;+}" in message


MENTIONS = "@everyone @here <@&123456> <@987654321> <!channel> <!here> @room @**all** <at>Legal</at> @alice"
RAW_MENTIONS = ("@everyone", "@here", "<@", "<!", "@room", "@**", "<at>", "@alice")


def test_fetched_mentions_reach_an_apprise_target_broken_and_a_webhook_as_they_are(room, receiver):
    room = room(apprise(receiver, "team-json", "json", "/team") + webhook(receiver))
    titled = b"<title>@everyone: Guidance"
    room.publish(V1.replace(b"<title>Guidance", titled))
    said = b"presumption of denial " + html.escape(MENTIONS).encode()
    room.publish(V3.replace(b"<title>Guidance", titled).replace(b"presumption of denial", said))
    assert room.drain().channels.delivered == 2
    [got] = receiver.accepted["/team"]
    title, message = got.json()["title"], got.json()["message"]
    assert title.startswith("Substantive change: @\u200beveryone: Guidance")
    assert without_mentions(MENTIONS) in message  # the fetched words are there, every mention broken
    for raw in RAW_MENTIONS:
        assert raw not in title and raw not in message, raw
    [hooked] = receiver.accepted["/hook"]
    element = hooked.json()
    assert element["document"]["title"].startswith("@everyone: Guidance")  # data for a program: untouched


ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("service", "fetched", "sent"),
    [
        ("Discord", "@everyone and @here", f"@{ZWSP}everyone and @{ZWSP}here"),
        (
            "Discord ids",
            "<@123> <@!123> <@&456> @789",
            f"<{ZWSP}@{ZWSP}123> <{ZWSP}@{ZWSP}!123> <{ZWSP}@{ZWSP}&456> @{ZWSP}789",
        ),
        (
            "Slack",
            "<!channel> <!here|here> <!subteam^S1> <@U024BE7LH>",
            f"<{ZWSP}!channel> <{ZWSP}!here|here> <{ZWSP}!subteam^S1> <{ZWSP}@{ZWSP}U024BE7LH>",
        ),
        ("Slack, Mattermost, Rocket.Chat", "@channel, @ALL, @here:", f"@{ZWSP}channel, @{ZWSP}ALL, @{ZWSP}here:"),
        ("Matrix", "@room @alice:example.org", f"@{ZWSP}room @{ZWSP}alice:example.org"),
        ("Zulip", "@**all** @**stream** @_**topic**", f"@{ZWSP}**all** @{ZWSP}**stream** @{ZWSP}_**topic**"),
        ("Teams", "<at>Legal</at>", f"<{ZWSP}at>Legal</at>"),
        ("Telegram", "(@bis_gov)", f"(@{ZWSP}bis_gov)"),
        ("within a word", "rules@everyone.example", f"rules@{ZWSP}everyone.example"),
        ("none", "rpd2@bis.doc.gov; a < b; <p>; 5 @ 3%", "rpd2@bis.doc.gov; a < b; <p>; 5 @ 3%"),
    ],
)
def test_mentions_of_each_service_are_broken(service, fetched, sent):
    assert without_mentions(fetched) == sent
    assert without_mentions(sent) == sent  # once is enough


@pytest.mark.parametrize("kind", ["webhook", "apprise"])
def test_temporary_failures_are_retried_with_backoff(room, receiver, kind):
    channel = webhook(receiver, path="/target") if kind == "webhook" else apprise(receiver, "j", "json", "/target")
    room = room(channel)
    room.publish(V1)
    room.publish(V3)
    answers = {1: 500, 2: 429, 3: 408, 4: 200}
    receiver.reply = lambda path, attempt: answers[attempt]
    start = utcnow()

    first = room.drain(start)
    assert (first.channels.delivered, first.channels.retrying) == (0, 1)
    [row] = room.rows()
    assert row.status == "pending" and row.next_attempt_at - start == timedelta(seconds=30)
    if kind == "webhook":
        assert row.last_error.startswith("the webhook answered HTTP 500 Internal Server Error")
    else:
        assert row.last_error.startswith("Apprise could not deliver it")
        assert "500" in row.last_error

    assert room.drain(start + timedelta(seconds=5)).channels.retrying == 0  # not due yet: no attempt
    assert receiver.attempts["/target"] == 1
    room.drain(start + timedelta(seconds=30))  # 429
    [row] = room.rows()
    assert row.next_attempt_at - (start + timedelta(seconds=30)) == timedelta(seconds=60)  # backing off
    room.drain(start + timedelta(seconds=90))  # 408
    [row] = room.rows()
    assert row.next_attempt_at - (start + timedelta(seconds=90)) == timedelta(minutes=2)
    last = room.drain(start + timedelta(seconds=210))
    assert last.channels.delivered == 1
    [row] = room.rows()
    assert (row.status, row.attempts, receiver.attempts["/target"]) == ("sent", 4, 4)
    assert len(receiver.accepted["/target"]) == 1


def test_a_receiver_that_is_down_is_retried(room, receiver):
    closed = free_port()
    room = room(
        f"""
        [[channels]]
        name = "down-hook"
        url = "http://127.0.0.1:{closed}/hook"
        secret_env = "RULEWATCH_TEST_HOOK_SECRET"

        [[channels]]
        name = "down-json"
        url = "json://127.0.0.1:{closed}/hook"
        """
    )
    room.publish(V1)
    room.publish(V3)
    report = room.drain()
    assert (report.channels.delivered, report.channels.retrying, report.channels.failed) == (0, 2, 0)
    hook, apprise_row = room.rows()
    assert hook.status == apprise_row.status == "pending"
    assert hook.last_error.startswith("cannot reach the webhook")
    assert apprise_row.last_error.startswith("Apprise could not deliver it")


@pytest.mark.parametrize(
    ("drip", "error"),
    [
        (Drip(503, in_head=True), "the webhook did not finish answering within 1 s"),
        (Drip(503), "the webhook answered HTTP 503 Slow: a"),
        (Drip(200), None),  # delivered: the body of a 2xx is never read
    ],
)
def test_a_receiver_dripping_its_answer_holds_the_drain_no_longer_than_the_deadline(room, receiver, drip, error):
    room = room(webhook(receiver))
    room.publish(V1)
    room.publish(V3)
    receiver.reply = lambda path, attempt: drip  # a byte every 0.1 s: well within each read's 10 s
    sender = Sender(room.config, room.engine)
    sender.channels.webhook_deadline = 1.0
    report = sender.drain()
    [row] = room.rows()
    if error is None:
        assert (report.channels.delivered, row.status) == (1, "sent")
        return
    assert (report.channels.retrying, row.status, row.attempts) == (1, "pending", 1)
    assert row.last_error.startswith(error)
    if not drip.in_head:
        assert row.last_error.endswith("(the rest of its answer not read within 1 s)")
    assert receiver.dripped["/hook"] > 0


def test_a_permanent_failure_is_recorded_shown_to_admins_and_never_retried(room, receiver):
    from tracker.web.app import create_app

    path = f"/hooks/{TOKEN}"
    room = room(webhook(receiver, "grc-webhook", path) + apprise(receiver, "team-json", "json", f"/{TOKEN}/room"))
    room.publish(V1)
    room.publish(V3)
    receiver.reply = lambda path, attempt: 404 if path.startswith("/hooks/") else 500
    start = utcnow()
    report = room.drain(start)
    assert (report.channels.failed, report.channels.retrying) == (1, 1)
    hook, team = room.rows()
    assert hook.status == "failed" and hook.last_error.startswith("the webhook answered HTTP 404 Not Found: no hook at")
    assert team.status == "pending"

    # Apprise failing until the outbox gives up is failed too.
    late = room.drain(start + GIVE_UP_AFTER + timedelta(minutes=1))
    assert late.channels.failed == 1 and late.channels.failed_for_good == 2
    assert "2 failed for good in all, listed on /admin" in late.line()
    assert [row.status for row in room.rows()] == ["failed", "failed"]
    assert receiver.attempts[path] == 1  # never retried after the 404
    room.drain(start + timedelta(days=5))
    assert receiver.attempts[path] == 1

    client = TestClient(create_app(room.config, room.engine))
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listed = client.get("/api/admin/channel-deliveries", headers=bearer).json()
    assert [(d["channel"], d["scheme"], d["status"]) for d in listed] == [
        ("team-json", "json", "failed"),
        ("grc-webhook", "http", "failed"),
    ]
    assert [c["name"] for c in client.get("/api/admin/channels", headers=bearer).json()] == ["grc-webhook", "team-json"]
    page = client.get("/admin", headers=bearer).text
    assert "Failing channel deliveries" in page and "grc-webhook" in page and "HTTP 404" in page
    assert client.get("/healthz").json()["channel_deliveries"] == {"failed": 2, "retrying": 0}
    # The URLs' tokens are in none of it, though the receiver's refusal quoted its path.
    shown = json.dumps(listed) + page + late.line() + "".join(row.last_error for row in room.rows())
    assert TOKEN not in shown and TOKEN.lower() not in shown.lower()
    assert "…" in hook.last_error


def corrupt_reasons(room: Room, event_id: int) -> None:
    """An event row that can no longer be read (its JSON column edited by hand): rendering it raises."""
    with session_scope(room.engine) as session:
        session.exec(text("UPDATE event SET reasons = '[broken' WHERE id = :id").bindparams(id=event_id))


def test_a_delivery_that_raises_is_retried_alone_and_the_drain_goes_on(room, receiver, caplog):
    room = room(webhook(receiver) + apprise(receiver, "team-json", "json", "/team"))
    room.publish(V1)
    room.publish(V3)  # the event that cannot be read
    room.publish(V1)  # one after it, delivered all the same
    with session_scope(room.engine) as session:
        broken, fine = session.exec(select(Event.id).where(Event.kind == "changed").order_by(Event.id)).all()
        source_id = session.exec(select(Source.id).where(Source.name == "bis")).one()
        start = utcnow()
        session.add(
            AdminNotice(
                email="admin@example.com",
                source_id=source_id,
                subject="s",
                body="b",
                next_attempt_at=start,
                created_at=start,
            )
        )
    corrupt_reasons(room, broken)

    report = room.drain(start)
    assert (report.channels.delivered, report.channels.retrying, report.channels.failed) == (2, 2, 0)
    assert [got.json()["id"] for got in receiver.accepted["/hook"]] == [fine]
    assert len(receiver.accepted["/team"]) == 1
    rows = {(row.event_id, row.channel_id): row for row in room.rows()}
    failing = [row for (event_id, _), row in rows.items() if event_id == broken]
    assert [row.status for row in failing] == ["pending", "pending"]
    for row in failing:
        assert row.last_error.startswith("unexpected error: JSONDecodeError: ") and row.attempts == 1
    with session_scope(room.engine) as session:  # the admin notices came after, and were tried
        assert session.exec(select(AdminNotice.attempts)).one() == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "rulewatch.alerts"]
    assert len(logged) == 2 and "failed unexpectedly, to be retried: JSONDecodeError" in logged[0]
    assert "hook (http://…)" in "".join(logged) and "team-json (json://…)" in "".join(logged)

    # Tried again with the others' backoff, then failed for good with the outbox's limit.
    late = room.drain(start + GIVE_UP_AFTER + timedelta(minutes=1))
    assert (late.channels.failed, late.channels.failed_for_good) == (2, 2)
    assert [row.status for row in room.rows() if row.event_id == broken] == ["failed", "failed"]


def test_a_channel_removed_from_the_configuration_drops_what_it_had_pending(room, receiver):
    room = room(webhook(receiver, "hook") + apprise(receiver, "kept", "json", "/kept"))
    room.publish(V1)
    room.publish(V3)
    with session_scope(room.engine) as session:
        sync_channels(session, tuple(c for c in room.config.channels if c.name == "kept"))
    report = room.drain()
    assert report.channels.delivered == 1
    assert room.deliveries() == [("hook", "changed", "dropped"), ("kept", "changed", "sent")]
    assert "/hook" not in receiver.accepted
    room.publish(V1)  # a later event: only the configured channel gets a row
    assert [name for name, _, _ in room.deliveries()] == ["hook", "kept", "kept"]


def _sender(room: Room) -> subprocess.Popen:
    command = [sys.executable, "-m", "tracker.cli", "--config", str(room.config_path), "send"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def _publish_changes(room: Room, count: int) -> None:
    room.publish(V1)
    for n in range(count):
        room.publish(V3 if n % 2 == 0 else V1)  # each a substantive change


def test_two_senders_at_once_deliver_each_event_once(room, receiver):
    room = room(webhook(receiver) + apprise(receiver, "team", "form", "/team"))
    _publish_changes(room, 6)

    def slowly(path, attempt):  # each answer takes a moment, so the two drains overlap
        time.sleep(0.2)
        return 200

    receiver.reply = slowly
    senders = [_sender(room), _sender(room)]
    reports = [sender.communicate(timeout=120)[1] for sender in senders]
    assert all(sender.returncode == 0 for sender in senders), reports

    with session_scope(room.engine) as session:
        alerted = sorted(session.exec(select(Event.id).where(Event.kind == "changed")))
    assert sorted(got.json()["id"] for got in receiver.accepted["/hook"]) == alerted
    diffs = [diff_of(got.form()["message"]) for got in receiver.accepted["/team"]]
    assert len(diffs) == len(set(diffs)) == 6
    assert receiver.attempts == {"/hook": 6, "/team": 6}
    delivered = sum(int(re.search(r"channels: (\d+) delivered", report).group(1)) for report in reports)
    assert delivered == 12  # the two reports add up: nothing went out from both


@pytest.mark.parametrize("held", ["/hook", "/team"])
def test_a_sigkilled_sender_loses_nothing_and_sends_nothing_twice(room, receiver, held):
    """The Done-when: a Slack-style Apprise target (form://) and a signed webhook each receive every
    alert once, through a SIGKILL of the sender in the middle of a delivery."""
    room = room(webhook(receiver) + apprise(receiver, "team", "form", "/team"))
    _publish_changes(room, 3)
    receiver.reply = lambda path, attempt: "hold" if (path, attempt) == (held, 2) else 200
    sender = _sender(room)
    try:
        assert receiver.holding.wait(60), "the drain never reached the second event"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
    receiver.release()  # the held request is answered 503 to no one
    statuses = [status for _, _, status in room.deliveries()]
    assert statuses == (
        ["sent", "sent", "sending", "pending", "pending", "pending"]
        if held == "/hook"
        else ["sent", "sent", "sent", "sending", "pending", "pending"]
    )

    receiver.reply = lambda path, attempt: 200
    restarted = _sender(room)  # takes the dead sender's claim back at once: its process is gone
    assert restarted.wait(120) == 0, restarted.stderr.read()
    assert [status for _, _, status in room.deliveries()] == ["sent"] * 6

    with session_scope(room.engine) as session:
        alerted = sorted(session.exec(select(Event.id).where(Event.kind == "changed")))
    assert [got.json()["id"] for got in receiver.accepted["/hook"]] == alerted
    diffs = [diff_of(got.form()["message"]) for got in receiver.accepted["/team"]]
    assert diffs == [f"/documents/1/diff?from={n}&to={n + 1}" for n in (1, 2, 3)]
    assert receiver.refused == {}
    assert receiver.attempts[held] == 4  # the interrupted one was tried again, once

"""[[channels]]: alerts to chat rooms and systems, through the outbox like e-mail, never twice.

A channel follows events as a subscriber does (sources, expectations, min_severity), with
no digests: each alerted event is a `channel_delivery` row written in the event's own
transaction (tracker.alerts.outbox), then claimed, sent and settled by the sender with the
claims e-mail uses (tracker.alerts.claims). A plain http(s) URL is a signed webhook
(tracker.alerts.webhook); any other scheme goes through Apprise, as plain text.

Fetched text reaches chat rooms with its mentions broken (without_mentions): a title saying
"@everyone" or "<!channel>" must not ping a whole server. A webhook's body is data for a
program, and stays exactly as `changes --json` shows it.

A channel's URL carries its tokens: it is never stored, logged or shown. Pages and logs
name a channel by its name and scheme (ChannelConfig.shown), and every error Apprise or
a receiver reports is stripped of the URL's parts before it is kept.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope, utcnow
from storage.models import Channel, ChannelDelivery, Event
from storage.repository import channel_delivery_problems, require_row, stored_id
from tracker.alerts.claims import Claims, Outcome, unexpected_failure
from tracker.alerts.email import event_text
from tracker.alerts.event_summary import one_line, summarize_event
from tracker.alerts.outbox import message_id
from tracker.alerts.webhook import DEADLINE, post_event, webhook_body, webhook_client
from tracker.schemas import events_json
from tracker.settings import ChannelConfig, Config, ConfigError

if TYPE_CHECKING:
    import httpx


def sync_channels(session: Session, configured: tuple[ChannelConfig, ...]) -> None:
    """The channel rows follow the configuration: those in it active with its filters, the others not."""
    rows = {channel.name: channel for channel in session.exec(select(Channel))}
    for wanted in configured:
        row = rows.get(wanted.name)
        if row is None:
            row = Channel(name=wanted.name, scheme=wanted.scheme, created_at=utcnow())
            session.add(row)
        row.scheme = wanted.scheme or row.scheme
        row.sources = sorted(set(wanted.sources))
        row.expectations = sorted(set(wanted.expectations))
        row.min_severity = wanted.min_severity
        row.active = True
    named = {wanted.name for wanted in configured}
    for name, row in rows.items():
        if name not in named:
            row.active = False
    session.flush()


@dataclass
class ChannelTarget:
    """A channel ready to send to: its webhook secret, or the Apprise object that reaches it."""

    channel: ChannelConfig
    notifier: Any = field(default=None, repr=False)  # an apprise.Apprise, for channels other than webhooks


def channel_targets(config: Config) -> dict[str, ChannelTarget]:
    """Every configured channel, ready; a ConfigError naming the key for one that cannot be.

    The checks the loader leaves to the commands that send (check, run, send): a variable
    left unset, and a URL Apprise cannot read (loading Apprise costs about a second).
    """
    targets = {}
    for channel in config.channels:
        where = f"{config.path}: channels.{channel.name}"
        if not channel.url:
            raise ConfigError(
                f"{where}.url_env: the environment variable {channel.url_env} is not set; "
                "set it to the channel's URL (an Apprise URL, or an http(s) webhook), or remove the channel"
            )
        if channel.is_webhook:
            if not channel.secret:
                raise ConfigError(
                    f"{where}.secret_env: the environment variable {channel.secret_env} is not set; "
                    "set it to the webhook's signing secret (the receiver checks X-Rulewatch-Signature with it)"
                )
            targets[channel.name] = ChannelTarget(channel)
            continue
        apprise = _apprise()
        notifier = apprise.Apprise(
            asset=apprise.AppriseAsset(app_id="Rulewatch", app_desc="Rulewatch alerts", app_url=config.web.base_url)
        )
        if not notifier.add(channel.url):
            key = "url_env" if channel.url_env else "url"
            raise ConfigError(
                f"{where}.{key}: Apprise cannot use this {channel.scheme}:// URL; check it against Apprise's "
                f"page for the {channel.scheme}:// service (https://github.com/caronc/apprise/wiki)"
            )
        targets[channel.name] = ChannelTarget(channel, notifier)
    return targets


@functools.cache
def _apprise() -> Any:
    """Apprise, loaded when a channel first needs it. Its log stays out of ours: the reasons it
    gives for a failure are taken from each call's result instead, with the URL's parts removed."""
    import apprise

    logger = logging.getLogger("apprise")
    logger.propagate = False
    return apprise


@dataclass
class ChannelReport:
    """What one drain did for the channels."""

    configured: bool = False
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    failed_for_good: int = 0  # every channel delivery that gave up so far, this drain's included
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"channels: {self.delivered} delivered, {self.retrying} to retry, {self.failed} failed"
        if self.failed_for_good:
            text += f" ({self.failed_for_good} failed for good in all, listed on /admin)"
        if self.errors:
            text += f"; last channel error: {self.errors[-1]}"
        return text


class ChannelSender:
    """The channel half of a drain, on the sender's claims."""

    def __init__(self, config: Config, engine: Engine, claims: Claims):
        self.config = config
        self.engine = engine
        self.claims = claims
        self._targets: dict[str, ChannelTarget] | None = None
        self._client: httpx.Client | None = None
        self.webhook_deadline = DEADLINE  # seconds for one webhook's whole exchange

    def drain(self, now: datetime, report: ChannelReport) -> None:
        report.configured = bool(self.config.channels)
        channel_ids = self._channel_ids()
        base_url = self.config.web.base_url
        while (
            channel_ids
            and (
                delivery_id := self.claims.take_next(
                    ChannelDelivery,
                    now,
                    lambda d: message_id("channel", base_url, d.event_id, d.channel_id),
                    col(ChannelDelivery.channel_id).in_(list(channel_ids)),
                )
            )
            is not None
        ):
            self._send(delivery_id, channel_ids, now, report)
        if report.configured:
            with session_scope(self.engine) as session:
                report.failed_for_good = channel_delivery_problems(session)["failed"]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _channel_ids(self) -> dict[int, str]:
        """The channels this sender can reach, by row id; the pending deliveries of channels
        no longer configured anywhere are dropped, as a subscriber's are once unsubscribed."""
        with session_scope(self.engine) as session:
            gone = select(Channel.id).where(col(Channel.active).is_(False))
            session.exec(
                update(ChannelDelivery)
                .where(col(ChannelDelivery.status) == "pending", col(ChannelDelivery.channel_id).in_(gone))
                .values(
                    status="dropped", last_error="the channel was removed from the configuration before it was sent"
                )
            )
            names = [channel.name for channel in self.config.channels]
            rows = session.exec(
                select(Channel.id, Channel.name).where(col(Channel.name).in_(names), col(Channel.active).is_(True))
            )
            return {channel_id: name for channel_id, name in rows if channel_id is not None}

    def _target(self, name: str) -> ChannelTarget:
        if self._targets is None:
            self._targets = channel_targets(self.config)
        return self._targets[name]

    def _send(self, delivery_id: int, channel_ids: dict[int, str], now: datetime, report: ChannelReport) -> None:
        target: ChannelTarget | None = None
        shown = f"channel delivery {delivery_id}"
        try:
            with session_scope(self.engine) as session:
                delivery = require_row(session, ChannelDelivery, delivery_id)
                target = self._target(channel_ids[delivery.channel_id])
                shown = target.channel.shown
                event = require_row(session, Event, delivery.event_id)
                event_id = stored_id(event)
                if target.notifier is None:
                    [element] = events_json(session, [event])
                    message: tuple[str, str] | bytes = webhook_body(element)
                else:
                    summary = summarize_event(session, self.config, event)
                    message = (summary.headline, event_text(summary))
            with self.claims.renewing(ChannelDelivery, [delivery_id]):
                if isinstance(message, bytes):
                    outcome, error = self._post(target, event_id, message)
                else:
                    outcome, error = _notify(target, *message)
        except Exception as exc:  # this delivery's alone (a bug, a row that cannot be read): the drain goes on
            url = target.channel.url if target is not None else ""
            outcome = Outcome.RETRY
            error = unexpected_failure(exc, f"channel delivery {delivery_id} ({shown})", lambda t: redacted(t, url))
        outcome = self.claims.settle(ChannelDelivery, [delivery_id], outcome, error, now)
        if outcome == Outcome.SENT:
            report.delivered += 1
            return
        report.errors.append(f"{shown}: {error}")
        if outcome == Outcome.RETRY:
            report.retrying += 1
        else:
            report.failed += 1

    def _post(self, target: ChannelTarget, event_id: int, body: bytes) -> tuple[Outcome, str | None]:
        if self._client is None:
            self._client = webhook_client(self.config.fetch.user_agent)
        channel = target.channel
        return post_event(
            self._client,
            channel.url,
            channel.secret,
            event_id,
            body,
            lambda text: redacted(text, channel.url),
            self.webhook_deadline,
        )


ZERO_WIDTH_SPACE = "\u200b"
# An '@' that pings: a whole room (Discord's @everyone/@here, Slack's and Mattermost's @channel/@here/@all,
# Matrix's @room, Zulip's @**all**/@**stream**/@**topic**) anywhere, an id (Discord's @123, @&role, @!123),
# or a handle at the start of a word (@alice, Matrix's @alice:example.org; an e-mail address keeps its '@').
_AT_MENTION = re.compile(
    r"@(?=[*_]*(?:everyone|here|channel|all|room|group|stream|topic)\b|[&!]?\d)|(?<![\w.+-])@(?=\w)", re.IGNORECASE
)
# A '<' that opens a mention: Discord's and Slack's <@id>, <@&role>, Slack's <!channel>/<!here>/<!subteam^id>,
# a channel link <#id>, Teams' <at>name</at>.
_BRACKET_MENTION = re.compile(r"<(?=[@!#]|at\b)", re.IGNORECASE)


def without_mentions(text: str) -> str:
    """`text` with a zero-width space after the '@' or '<' of every mention: it reads the same, and
    no chat service sees a mention in it."""
    text = _AT_MENTION.sub("@" + ZERO_WIDTH_SPACE, text)
    return _BRACKET_MENTION.sub("<" + ZERO_WIDTH_SPACE, text)


def _notify(target: ChannelTarget, title: str, body: str) -> tuple[Outcome, str | None]:
    """One Apprise notification, as plain text (Apprise escapes it for the service's own markup), its
    mentions broken: Discord's plugin, for one, sends the text as `content` that pings whoever it names.

    Apprise says only whether it worked, and a failure may be passing (a service down, a rate limit):
    it is retried until the outbox gives up on it (claims.GIVE_UP_AFTER), then recorded as failed."""
    apprise = _apprise()
    url = target.channel.url
    try:
        result = target.notifier.notify(
            title=without_mentions(title), body=without_mentions(body), body_format=apprise.NotifyFormat.TEXT
        )
    except Exception as exc:  # a plugin's own bug: the same as a failure it reports
        return Outcome.RETRY, f"Apprise failed: {type(exc).__name__}: {redacted(one_line(str(exc), 200), url)}"
    if result:
        return Outcome.SENT, None
    said = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    return Outcome.RETRY, "Apprise could not deliver it" + (
        f": {redacted(one_line(said[-1], 300), url)}" if said else ""
    )


_URL_DELIMITERS = re.compile(r"[/:@?&=#,;+]+")


def redacted(text: str, url: str) -> str:
    """`text` without any part of `url` longer than three characters: tokens may sit in its host,
    user, password, path or query, and errors from Apprise or a receiver may quote them."""
    parts: set[str] = set()
    for part in _URL_DELIMITERS.split(url.partition("://")[2]):
        parts.update(form for form in (part, unquote(part)) if len(form) > 3)
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "…")
    return text

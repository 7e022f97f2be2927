"""Composing alert emails: multipart text + HTML, the redline in both, RFC 8058 headers."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from itertools import groupby
from pathlib import Path

from markupsafe import Markup

from tracker.alerts.event_summary import EventSummary, one_line
from tracker.redline.style import inline_styles  # mail clients drop <style> blocks
from tracker.shapes import iso
from tracker.templating import environment_for

environment = environment_for(Path(__file__).parent / "templates")


def _envelope(
    subject: str, sender: str, recipient: str, message_id: str, unsubscribe_url: str | None, sent_at
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(subject, 200)
    name, address = parseaddr(sender)
    message["From"] = formataddr((one_line(name, 80), address)) if name else address
    message["To"] = recipient
    message["Message-ID"] = message_id or make_msgid(domain="rulewatch.localhost")
    message["Date"] = format_datetime(sent_at)
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    return message


def event_message(
    summary: EventSummary,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str,
    feed_url: str,
    manage_url: str,
    sent_at,
) -> EmailMessage:
    message = _envelope(f"[Rulewatch] {summary.headline}", sender, recipient, message_id, unsubscribe_url, sent_at)
    values = {
        "summary": summary,
        "unsubscribe_url": unsubscribe_url,
        "feed_url": feed_url,
        "manage_url": manage_url,
        "fetched_at": iso(summary.fetched_at),
    }
    message.set_content(environment.get_template("event.txt").render(**values))
    message.add_alternative(
        environment.get_template("event.html").render(
            **values,
            excerpt=Markup(inline_styles(summary.excerpt_html)),  # escaped by the diff renderer
        ),
        subtype="html",
    )
    return message


def event_text(summary: EventSummary) -> str:
    """What an alert email says of the event, in plain text, without its headline or the subscriber's
    links: the body of a channel's notification, whose title is the headline."""
    return environment.get_template("_event_body.txt").render(summary=summary, fetched_at=iso(summary.fetched_at))


def digest_message(
    summaries: list[EventSummary],
    *,
    cadence: str,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str,
    feed_url: str,
    manage_url: str,
    sent_at,
) -> EmailMessage:
    """One message for the period, grouped by source, then by document."""
    ordered = sorted(summaries, key=lambda s: (s.source, s.document.id, s.event.detected_at, s.event.id))
    groups = [
        (source, [(doc_id, list(items)) for doc_id, items in groupby(by_source, key=lambda s: s.document.id)])
        for source, by_source in groupby(ordered, key=lambda s: s.source)
    ]
    subject = f"[Rulewatch] {cadence.capitalize()} digest: {len(summaries)} change{'s' if len(summaries) != 1 else ''}"
    message = _envelope(subject, sender, recipient, message_id, unsubscribe_url, sent_at)
    values = {
        "groups": groups,
        "cadence": cadence,
        "count": len(summaries),
        "unsubscribe_url": unsubscribe_url,
        "feed_url": feed_url,
        "manage_url": manage_url,
        "iso": iso,
    }
    message.set_content(environment.get_template("digest.txt").render(**values))
    message.add_alternative(
        environment.get_template("digest.html").render(
            **values, excerpt=lambda summary: Markup(inline_styles(summary.excerpt_html))
        ),
        subtype="html",
    )
    return message


def notice_message(notice, *, sender: str, sent_at) -> EmailMessage:
    """A plain message to an admin about a source's health."""
    message = _envelope(notice.subject, sender, notice.email, notice.message_id, None, sent_at)
    message.set_content(notice.body)
    return message

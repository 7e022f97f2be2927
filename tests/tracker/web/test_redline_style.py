"""One stylesheet for the redline: the web pages, the standalone export and the e-mails carry the same rules."""

from __future__ import annotations

import re

from storage.db import session_scope, utcnow
from storage.models import Event
from tests.support.history import GUIDANCE
from tracker.alerts.email import event_message
from tracker.alerts.event_summary import summarize_event
from tracker.redline.style import inline_styles, stylesheet

INS_RULE = "ins, .rl-ins { background: #d7f5dd; color: #05400f; text-decoration: underline; }"
DEL_RULE = "del, .rl-del { background: #fbe0e0; color: #6b0b0b; text-decoration: line-through; }"
INS_INLINE = 'class="rl-ins" style="background:#d7f5dd;color:#05400f;text-decoration:underline;"'


def test_the_packaged_stylesheet_holds_the_ins_and_del_rules():
    assert INS_RULE in stylesheet() and DEL_RULE in stylesheet()


def test_web_pages_link_the_redline_stylesheet_and_hold_no_copy(client, history):
    served = client.get("/static/redline.css")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/css")
    assert served.text == stylesheet()
    assert INS_RULE in served.text and DEL_RULE in served.text

    page = client.get(f"/documents/{history.documents[GUIDANCE]}/diff?from=2&to=3").text
    assert '<link rel="stylesheet" href="/static/redline.css">' in page
    site_css = client.get("/static/rulewatch.css").text
    assert ".rl-ins" not in site_css and ".rl-del" not in site_css and "line-through" not in site_css


def test_the_export_embeds_the_same_rules(client, history):
    export = client.get(f"/documents/{history.documents[GUIDANCE]}/diff/export?from=2&to=3").text
    embedded = re.search(r"<style>(.*?)</style>", export, re.S)
    assert embedded is not None
    assert INS_RULE in embedded.group(1) and DEL_RULE in embedded.group(1)
    assert stylesheet() in embedded.group(1)


def test_emails_inline_the_same_rules(history):
    with session_scope(history.engine) as session:
        summary = summarize_event(session, history.config, session.get(Event, history.events["negation"]))
    message = event_message(
        summary,
        sender="alerts@rulewatch.test",
        recipient="a@example.com",
        message_id="<1@rulewatch.test>",
        unsubscribe_url="https://rulewatch.example/unsubscribe/t",
        feed_url="https://rulewatch.example/f",
        manage_url="https://rulewatch.example/subscription/t",
        sent_at=utcnow(),
    )
    html = message.get_body(("html",)).get_content()
    assert f"<ins {INS_INLINE}>not </ins>" in html


def test_inline_styles_cover_every_class_of_an_element():
    html = (
        '<div class="para moved moved-to rl-moved"><span class="rl-note">moved</span> <del class="rl-del">x</del></div>'
    )
    assert inline_styles(html) == (
        '<div class="para moved moved-to rl-moved" style="margin:10px 0;background:#e6ecfb;">'
        '<span class="rl-note" style="font-style:italic;color:#2a4a8a;margin-right:6px;">moved</span> '
        '<del class="rl-del" style="background:#fbe0e0;color:#6b0b0b;text-decoration:line-through;">x</del></div>'
    )
    assert inline_styles('<p class="unknown">x</p>') == '<p class="unknown">x</p>'

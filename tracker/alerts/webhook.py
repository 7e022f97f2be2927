"""Signed Rulewatch webhooks: one event, as one element of `rulewatch changes --json`, POSTed.

The receiver checks `X-Rulewatch-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact
body bytes with the channel's secret, and may use `X-Rulewatch-Event` (the event id) to
recognise the one resend a crash can cause. A 2xx answer is delivered; a 4xx other than
408 and 429 is permanent; everything else, and no answer at all, is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import httpx

from tracker.alerts.claims import Outcome
from tracker.alerts.event_summary import one_line

EVENT_HEADER = "X-Rulewatch-Event"
SIGNATURE_HEADER = "X-Rulewatch-Signature"
TIMEOUT = 10.0  # seconds for each of connecting, sending and waiting for the answer
RETRIED_4XX = (408, 429)  # Request Timeout, Too Many Requests: the receiver asks to come back later


def webhook_body(element: dict) -> bytes:
    """The bytes POSTed and signed: the event's JSON object, compact, ASCII."""
    return json.dumps(element, separators=(",", ":")).encode("ascii")


def signature(secret: str, body: bytes) -> str:
    """The X-Rulewatch-Signature value of these body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def outcome_of(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SENT
    if 400 <= status < 500 and status not in RETRIED_4XX:
        return Outcome.FAILED
    return Outcome.RETRY


def webhook_client(user_agent: str) -> httpx.Client:
    """One client for a drain's webhooks: a timeout on every step, redirects never followed."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": user_agent})


def post_event(
    client: httpx.Client, url: str, secret: str, event_id: int, body: bytes, scrub: Callable[[str], str]
) -> tuple[Outcome, str | None]:
    """POST one signed event; the outcome, and what went wrong (None when it was delivered).

    The URL may carry a token: `scrub` takes its parts out of whatever the error quotes
    from elsewhere (the receiver's answer, the network's error)."""
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: str(event_id),
        SIGNATURE_HEADER: signature(secret, body),
    }
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            status, reason = response.status_code, response.reason_phrase
            said = "" if outcome_of(status) == Outcome.SENT else _start_of(response)
    except httpx.TimeoutException:
        return Outcome.RETRY, f"the webhook did not answer within {TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        return Outcome.RETRY, f"cannot reach the webhook: {scrub(one_line(str(exc), 200)) or type(exc).__name__}"
    outcome = outcome_of(status)
    if outcome == Outcome.SENT:
        return outcome, None
    error = f"the webhook answered HTTP {status} {reason}".rstrip()
    return outcome, error + (f": {scrub(said)}" if said else "")


def _start_of(response: httpx.Response, most: int = 2000) -> str:
    """The start of an answer's body, on one line: the receiver's own words, untrusted (shown escaped)."""
    head = b""
    for chunk in response.iter_bytes():
        head += chunk
        if len(head) >= most:
            break
    return one_line(head[:most].decode("utf-8", "replace"), 200)

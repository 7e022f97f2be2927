"""Signed Rulewatch webhooks: one event, as one element of `rulewatch changes --json`, POSTed.

The receiver checks `X-Rulewatch-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact
body bytes with the channel's secret, and may use `X-Rulewatch-Event` (the event id) to
recognise the one resend a crash can cause. A 2xx answer is delivered; a 4xx other than
408 and 429 is permanent; everything else, and no answer at all, is retried.

Each step has its timeout (10 s), and the whole exchange a deadline (30 s): a receiver
sending a byte every few seconds passes every per-read timeout, so at the deadline the
connection is shut under the request, whatever it was waiting for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker.alerts.claims import Outcome
from tracker.alerts.event_summary import one_line

EVENT_HEADER = "X-Rulewatch-Event"
SIGNATURE_HEADER = "X-Rulewatch-Signature"
TIMEOUT = 10.0  # seconds for each of connecting, sending and waiting for the answer
DEADLINE = 30.0  # seconds for the whole exchange, however the receiver paces it
RETRIED_4XX = (408, 429)  # Request Timeout, Too Many Requests: the receiver asks to come back later

if TYPE_CHECKING:
    import httpx  # imported where a webhook is sent: a service without webhooks never loads it


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
    """One client for a drain's webhooks: a timeout on every step, redirects never followed, and a
    new connection for each POST (so the deadline always knows the socket it may have to shut)."""
    import httpx

    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def post_event(
    client: httpx.Client,
    url: str,
    secret: str,
    event_id: int,
    body: bytes,
    scrub: Callable[[str], str],
    deadline: float = DEADLINE,
) -> tuple[Outcome, str | None]:
    """POST one signed event; the outcome, and what went wrong (None when it was delivered).

    The URL may carry a token: `scrub` takes its parts out of whatever the error quotes
    from elsewhere (the receiver's answer, the network's error)."""
    import httpx

    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: str(event_id),
        SIGNATURE_HEADER: signature(secret, body),
    }
    with _Deadline(deadline) as watch:
        try:
            with client.stream(
                "POST", url, content=body, headers=headers, extensions={"trace": watch.trace}
            ) as response:
                status, reason = response.status_code, response.reason_phrase
                said = "" if outcome_of(status) == Outcome.SENT else _start_of(response)
        except httpx.TimeoutException:
            return Outcome.RETRY, f"the webhook did not answer within {TIMEOUT:g} s"
        except httpx.HTTPError as exc:
            if watch.expired:
                return Outcome.RETRY, f"the webhook did not finish answering within {deadline:g} s"
            return Outcome.RETRY, f"cannot reach the webhook: {scrub(one_line(str(exc), 200)) or type(exc).__name__}"
    outcome = outcome_of(status)
    if outcome == Outcome.SENT:
        return outcome, None
    error = f"the webhook answered HTTP {status} {reason}".rstrip()
    if said:
        error += f": {scrub(said)}"
    if watch.expired:
        error += f" (the rest of its answer not read within {deadline:g} s)"
    return outcome, error


def _start_of(response: httpx.Response, most: int = 2000) -> str:
    """The start of an answer's body, on one line: the receiver's own words, untrusted (shown escaped).
    What came before the connection broke (or was shut at the deadline) is kept."""
    import httpx

    head = b""
    try:
        for chunk in response.iter_bytes():
            head += chunk
            if len(head) >= most:
                break
    except httpx.HTTPError:
        pass
    return one_line(head[:most].decode("utf-8", "replace"), 200)


class _Deadline:
    """Shuts an exchange's connection once `seconds` have passed: httpx, waiting to connect, send
    or read, then fails at once. Given the connection's sockets by httpx's trace extension."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:  # the exchange is over: nothing left to shut
            self._sockets.clear()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            connected = info["return_value"].get_extra_info("socket")
            if isinstance(connected, socket.socket):
                with self._lock:
                    self._sockets.append(connected)
                    if self.expired:
                        _shut(connected)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for connected in self._sockets:
                _shut(connected)


def _shut(connected: socket.socket) -> None:
    try:
        # The plain socket's shutdown, also for a TLS one: the blocked read or write returns, and
        # the TLS object, in use by that other thread, is left as it is.
        socket.socket.shutdown(connected, socket.SHUT_RDWR)
    except OSError:  # already closed, or (the TCP socket under TLS) handed over
        pass

"""A real HTTP receiver on loopback for channel tests: webhooks and Apprise's json:// and form://.

Every POST is answered by `reply(path, attempt)` (the attempt counted per path from 1): a status
code, "hold" to keep the sender waiting until `release()`, then answer 503 as a receiver
going down would, or a `Drip`: an answer sent a byte at a time, never finished. Only requests answered 2xx are `accepted`. A path given a secret in
`secrets` is a Rulewatch webhook: it checks the headers and the signature as a receiver
should, and answers 401 (recorded in `refused`) when they are wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Drip:
    """An answer that never ends: its status line, then a byte every `every` seconds, in its head
    (a header that never ends) or in its body (after a complete head), until the sender goes."""

    status: int
    in_head: bool = False
    every: float = 0.1


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8")).items()}


class Receiver:
    def __init__(self) -> None:
        self.reply: Callable[[str, int], int | str | Drip] = lambda path, attempt: 200
        self.secrets: dict[str, str] = {}
        self.accepted: dict[str, list[Received]] = defaultdict(list)
        self.refused: dict[str, list[str]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        self.holding = threading.Event()
        self.dripped: dict[str, int] = defaultdict(int)  # bytes dripped, by path
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._answer(self)

            def log_message(self, format, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def release(self) -> None:
        self._released.set()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        received = Received(
            handler.path, {k.lower(): v for k, v in handler.headers.items()}, handler.rfile.read(length)
        )
        with self._lock:
            self.attempts[received.path] += 1
            attempt = self.attempts[received.path]
        status = self.reply(received.path, attempt)
        if isinstance(status, Drip):
            self._drip(handler, received.path, status)
            return
        if status == "hold":
            self.holding.set()
            self._released.wait(60)
            status = 503
        elif 200 <= int(status) < 300 and received.path in self.secrets:
            problem = webhook_problem(received, self.secrets[received.path])
            if problem:
                self.refused[received.path].append(problem)
                status = 401
        assert isinstance(status, int)
        try:
            # A refusal says what was asked for, as receivers often do: errors must not keep it.
            answer = b"ok" if status < 300 else f"no hook at {received.path}".encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:  # the sender is gone (killed while it waited)
            return
        if 200 <= status < 300:
            with self._lock:
                self.accepted[received.path].append(received)

    def _drip(self, handler: BaseHTTPRequestHandler, path: str, drip: Drip) -> None:
        handler.close_connection = True
        head = f"HTTP/1.1 {drip.status} Slow\r\nContent-Type: text/plain\r\n"
        head += "X-Slow: " if drip.in_head else "Content-Length: 100000\r\n\r\n"
        try:
            handler.wfile.write(head.encode())
            while not self._released.wait(drip.every):
                handler.wfile.write(b"a")
                self.dripped[path] += 1
        except OSError:  # the sender gave up and closed the connection
            return


def webhook_problem(received: Received, secret: str) -> str | None:
    """What a receiver would refuse in a Rulewatch webhook request, or None."""
    if received.headers.get("content-type") != "application/json":
        return f"Content-Type {received.headers.get('content-type')!r}"
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(received.headers.get("x-rulewatch-signature", ""), expected):
        return "bad signature"
    if received.headers.get("x-rulewatch-event") != str(received.json()["id"]):
        return "X-Rulewatch-Event is not the event's id"
    return None

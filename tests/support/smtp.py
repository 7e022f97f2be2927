"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

`reply` decides the answer to each message's DATA: "250 OK" (accepted and
recorded), a 4xx or 5xx code (refused), or "hold" to keep the client waiting,
as a slow server would, until `release()`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.attempts = 0
        self.reply: Callable[[int, list[str]], str] = lambda attempt, recipients: "250 OK"
        self.holding = threading.Event()
        self._released = threading.Event()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        self.release()
        if self._running:
            self._controller.stop()
            self._running = False

    def release(self) -> None:
        self._released.set()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def by_recipient(self) -> dict[str, list[email.message.EmailMessage]]:
        out: dict[str, list] = {}
        for message in self.messages:
            out.setdefault(message["To"], []).append(message)
        return out

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        answer = self.reply(self.attempts, list(envelope.rcpt_tos))
        if answer == "hold":
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "421 closing"
        if answer.startswith("250"):
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return answer

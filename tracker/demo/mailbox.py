"""A local SMTP server that files every message it accepts as an .eml file."""

from __future__ import annotations

import email
import email.policy
import socket
from pathlib import Path

from aiosmtpd.controller import Controller


class MailFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailFolder:
        self._controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope):
        path = self.folder / f"{len(self.files) + 1:03d}.eml"
        path.write_bytes(envelope.content)
        self.files.append(path)
        return "250 OK"

    def subjects(self, paths: list[Path]) -> list[tuple[Path, str, str]]:
        out = []
        for path in paths:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            out.append((path, str(message["To"]).strip(), " ".join(str(message["Subject"]).split())))
        return out

"""Helpers for the benchmarks that drive `rulewatch run`: a loopback SMTP sink, a fixture
server that timestamps its requests, and starting/stopping the service process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from tracker.demo.server import FixtureServer

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpRecorder:
    """Accepts every message on 127.0.0.1 and records (monotonic arrival time, subject)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        subject = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("subject:"):
                subject = line.split(":", 1)[1].strip()
                break
        self.received.append((time.monotonic(), subject))
        return "250 OK"

    def start(self) -> SmtpRecorder:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class TimedHits(list):
    """The fixture server's request log, with the monotonic time of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, hit) -> None:
        self.times.append(time.monotonic())
        super().append(hit)

    def times_for(self, path: str) -> list[float]:
        """When `path` was requested (robots.txt and the like left out)."""
        return [t for t, hit in zip(self.times, list(self), strict=False) if hit.path == path]


def timed_server() -> FixtureServer:
    server = FixtureServer()
    server.hits = TimedHits()
    return server.start()


def write_config(work: Path, page_url: str, smtp_port: int, web_port: int, interval: str = "1s") -> Path:
    path = work / "rulewatch.toml"
    path.write_text(f"""
[database]
url = "sqlite:///rulewatch.db"

[fetch]
delay = 0
retries = 0
timeout = 10

[mail]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}

[web]
host = "127.0.0.1"
port = {web_port}

[[sources]]
name = "bench-page"
kind = "page"
url = "{page_url}"
selector = "main"
interval = "{interval}"

[[subscribers]]
email = "bench@example.com"
min_severity = "minor"
digest = "off"
""")
    return path


def start_service(config_path: Path, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    log = open(log_path, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config_path), "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_service(service: subprocess.Popen) -> None:
    """SIGTERM to the service's process group (it was started in its own session), then SIGKILL."""
    if service.poll() is not None:
        return
    os.killpg(service.pid, signal.SIGTERM)
    try:
        service.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
        service.wait(10)


def wait_until(condition, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))

"""Real Scrapyd nodes on loopback, started as `rulewatch node` would be on a crawl machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.support.smtp import free_port


class NodeProcess:
    def __init__(self, directory: Path, max_jobs: int = 2, credentials: tuple[str, str] | None = None):
        self.directory = directory
        self.credentials = credentials
        self.port = free_port()
        self.max_jobs = max_jobs
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NodeProcess:
        command = [
            sys.executable,
            "-m",
            "tracker.cli",
            "node",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--max-jobs",
            str(self.max_jobs),
        ]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        if self.credentials:
            env["SCRAPYD_USERNAME"], env["SCRAPYD_PASSWORD"] = self.credentials
        log = open(self.directory.parent / f"{self.directory.name}.log", "ab")
        # A session of its own: killing the group takes the node's crawl jobs with it, like a machine going down.
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/daemonstatus.json", timeout=2) as reply:
                    if json.loads(reply.read())["status"] == "ok":
                        return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, and asking for the credentials it was given
                    return self
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Scrapyd did not start; see {log.name}")

    def jobs(self) -> dict[str, list]:
        with urllib.request.urlopen(f"{self.url}/listjobs.json?project=rulewatch", timeout=5) as reply:
            return json.loads(reply.read())

    def kill(self) -> None:
        """SIGKILL to the node and every job it runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

"""The service's logs: one line per record, fetched text with its controls escaped (SPEC "Trust")."""

from __future__ import annotations

import logging
import logging.config
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import uvicorn.config

from tests.conftest import PROJECT_ROOT
from tests.support.smtp import free_port

PROJECT = PROJECT_ROOT
FORGED = "https://evil.example/x\n2026-01-01 00:00:00,000 INFO rulewatch.scheduler: bis: ok\x1b]0;owned\x07"


def test_service_loggers_escape_controls(capfd):
    from tracker.service.scheduler import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = []  # pytest's own, kept open for after
    try:
        # As an in-process uvicorn.Config with its default log_config leaves them: handlers of
        # Uvicorn's own (whose access formatter cannot format a plain record), not propagating.
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        configure_logging()
        for name in ("rulewatch.scheduler", "uvicorn.access", "uvicorn.error", "apscheduler.scheduler"):
            logging.getLogger(name).warning("%s failed: %s", name, FORGED)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 4, err
    assert "\x1b" not in err and "\x07" not in err
    assert all("https://evil.example/x\\n2026-01-01" in line for line in lines)


def test_serve_logs_requests_through_the_escaping_formatter(tmp_path):
    port = free_port()
    config = tmp_path / "rulewatch.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n\n[web]\nport = {port}\n', encoding="utf-8")
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "serve"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?probe=1", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(20)
        log.close()
    written = (tmp_path / "serve.log").read_text()
    access = [line for line in written.splitlines() if "/healthz?probe=1" in line]
    # The service's format (tracker.service.scheduler.LOG_FORMAT), not Uvicorn's own "INFO:     …".
    assert access and all(re.match(r"\d{4}-\d\d-\d\d [\d:,]+ INFO 127\.0\.0\.1:", line) for line in access), written

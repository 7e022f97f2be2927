"""Request bodies are limited while they stream in: a huge POST never fills the server's memory.

The server is real (`rulewatch serve` in a child process on loopback), so what is measured is
what an attacker would meet: its peak memory (VmHWM) before and after 200 MB sent chunked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import uvicorn

from storage.db import open_database
from tests.conftest import PROJECT_ROOT
from tests.support.smtp import free_port
from tracker.config import load_config
from tracker.web import limits
from tracker.web.app import create_app
from tracker.web.limits import MAX_FORM_BYTES

PROJECT = PROJECT_ROOT
MB = 1024 * 1024
CHUNK = b"a" * MB
SLACK_KB = 16 * 1024  # peak memory may grow this much (allocator noise), never by the body


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


def _answer(sock: socket.socket) -> bytes:
    """What the server answered, up to the end of its headers (or what it sent before closing)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    except (TimeoutError, ConnectionResetError):
        pass
    return data


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    port = free_port()
    config = folder / "rulewatch.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{folder / "rulewatch.db"}"\n\n[web]\nport = {port}\n'
        'admin_token = "a-token-for-the-limit-tests"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server never answered /healthz")
        yield child.pid, port
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(20)


def _post_head(port: int, extra: str) -> bytes:
    return (
        f"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{extra}\r\n"
    ).encode()


def _warm_up(port: int) -> None:
    """Load every code path a POST takes, so that only the body could make memory grow."""
    body = b"token=wrong&csrf_token=x"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_post_head(port, f"Content-Length: {len(body)}\r\nConnection: close\r\n") + body)
        assert _answer(sock).startswith(b"HTTP/1.1 403")


def test_200_mb_chunked_post_is_refused_without_being_read(live_server):
    pid, port = live_server
    _warm_up(port)
    before = _peak_kb(pid)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_post_head(port, "Transfer-Encoding: chunked\r\n"))
        chunk = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        try:
            while sent < 200 * MB:
                sock.sendall(chunk)
                sent += len(CHUNK)
            sock.sendall(b"0\r\n\r\n")
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: it will not read the rest
        answer = _answer(sock)
    grown = _peak_kb(pid) - before
    assert grown < SLACK_KB, f"the server's peak memory grew by {grown} KB for a body it should refuse"
    assert sent < 200 * MB or answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_lying_content_length_is_refused_at_once(live_server):
    _pid, port = live_server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # 400 MB announced, a few bytes sent: the answer comes from the headers alone.
        sock.sendall(_post_head(port, "Content-Length: 400000000\r\n") + b"token=x")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_form_limits_in_process(client):
    small = b"x=" + b"a" * (MAX_FORM_BYTES - 100)
    large = b"x=" + b"a" * (MAX_FORM_BYTES + 1)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/admin/login", content=small, headers=headers).status_code != 413
    refused = client.post("/admin/login", content=large, headers=headers)
    assert refused.status_code == 413 and "too large" in refused.text
    # Without Content-Length (a generator body is sent chunked), counted as it streams.
    chunks = (b"a" * 4096 for _ in range(40))
    assert client.post("/admin/login", content=chunks, headers=headers).status_code == 413
    assert client.post("/api/admin/subscribers/1/revoke", content=large).status_code == 413
    assert client.post("/api/admin/subscribers/1/revoke", content=large).json()["detail"]


# --- slow bodies (slowloris): a body that stops arriving is answered 408 and closed --------


@pytest.fixture
def quick_timeout_server(tmp_path, monkeypatch):
    """The real app under Uvicorn on loopback, in a thread, with a body timeout of half a second."""
    monkeypatch.setattr(limits, "BODY_CHUNK_TIMEOUT", 0.5)
    config_path = tmp_path / "rulewatch.toml"
    config_path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "rulewatch.db"}"\n\n[web]\n'
        'admin_token = "a-token-for-the-limit-tests"\n',
        encoding="utf-8",
    )
    config = load_config(config_path)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, open_database(config.database_url)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(300):
            if server.started:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server never started")
        yield port
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.mark.parametrize("framing", ["Content-Length: 1000\r\n", "Transfer-Encoding: chunked\r\n"])
def test_a_body_that_stalls_is_answered_408_and_closed(quick_timeout_server, framing):
    port = quick_timeout_server
    first = b"token=wrong&"
    if "chunked" in framing:
        first = f"{len(first):x}\r\n".encode() + first + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:  # generous: the 408 comes first
        sock.sendall(_post_head(port, framing) + first)  # then nothing more
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"connection: close" in answer.lower()
        rest = b""
        while piece := sock.recv(65536):  # the server closes the connection after its answer
            rest += piece
    assert b"too slowly" in answer + rest


def test_a_body_that_keeps_arriving_is_read_whole(quick_timeout_server):
    port = quick_timeout_server
    body = b"token=wrong&csrf_token=x"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(_post_head(port, f"Content-Length: {len(body)}\r\nConnection: close\r\n") + body)
        assert _answer(sock).startswith(b"HTTP/1.1 403")  # read and judged by the route: a wrong token

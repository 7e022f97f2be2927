"""Accounts for tests of the review desk, made through the real path: a one-time link, then a password."""

from __future__ import annotations

import re
import threading

from sqlalchemy.engine import Engine

import tracker.desk.accounts
from storage.db import session_scope
from tracker.desk.accounts import add_user, set_password

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_account(engine: Engine, email: str, role: str, password: str = PASSWORD) -> None:
    with session_scope(engine) as session:
        _, token = add_user(session, email, role, "command line")
    with session_scope(engine) as session:
        set_password(session, token, password)


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str = "/"):
    """The sign-in form, filled and posted as a browser would; the answer (303 when it worked)."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    data = {"csrf_token": csrf_of(form.text), "email": email, "password": password, "next": next_path}
    return client.post("/login", data=data, follow_redirects=False)


class HeldChecks:
    """The real password check, made to wait at a gate the test opens (the first `hold` calls), and counted."""

    def __init__(self, monkeypatch, hold: int = 1_000):
        self.real = tracker.desk.accounts.password_matches
        self.hold = hold
        self.calls = 0
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self._lock = threading.Lock()
        monkeypatch.setattr(tracker.desk.accounts, "password_matches", self)

    def __call__(self, encoded: str, password: str) -> bool:
        with self._lock:
            self.calls += 1
            held = self.calls <= self.hold
        if held:
            self.entered.release()
            self.gate.wait(60)
        return self.real(encoded, password)

"""Accounts for tests of the review desk, made through the real path: a one-time link, then a password."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine

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

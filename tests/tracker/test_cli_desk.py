"""`rulewatch users …` and `rulewatch review`, on SQLite and PostgreSQL, over a history ingested through the real path."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlmodel import select

from storage.db import session_scope
from storage.models import AuditEntry, UserAccount
from tests.support.accounts import PASSWORD, make_account
from tests.support.contract import REVIEW_FIELDS
from tests.support.history import build_history
from tracker.cli import app
from tracker.desk.accounts import password_matches, session_user, set_password, start_session, user_for_link

LINK = re.compile(r"^https://review\.example/login/link/([A-Za-z0-9_-]{40,})$", re.MULTILINE)


@pytest.fixture
def history(database_url, tmp_path):
    return build_history(database_url, tmp_path)


@pytest.fixture
def rulewatch(history, tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text(f'[database]\nurl = "{history.config.database_url}"\n[web]\nbase_url = "https://review.example/"\n')

    def run(*args: str):
        return CliRunner().invoke(app, ["--config", str(path), *args])

    return run


def test_users_add_prints_a_one_time_link_that_sets_the_password(rulewatch, history):
    added = rulewatch("users", "add", "Reviewer@Example.com", "--role", "reviewer")
    assert added.exit_code == 0, added.output
    assert "reviewer@example.com added as reviewer" in added.output
    [token] = LINK.findall(added.output)
    with session_scope(history.engine) as session:
        assert user_for_link(session, token).email == "reviewer@example.com"
    again = rulewatch("users", "add", "reviewer@example.com", "--role", "admin")
    assert again.exit_code == 2 and "already has an account" in again.output and "users link" in again.output
    assert rulewatch("users", "add", "x@example.com", "--role", "owner").exit_code == 2
    assert rulewatch("users", "add", "not an address", "--role", "viewer").exit_code == 2
    assert rulewatch("users", "add", "x@example.com").exit_code == 2  # a role is required

    relinked = rulewatch("users", "link", "REVIEWER@example.com")
    assert relinked.exit_code == 0 and "earlier links no longer work" in relinked.output
    [fresh] = LINK.findall(relinked.output)
    with session_scope(history.engine) as session:
        assert user_for_link(session, token) is None and user_for_link(session, fresh) is not None
    assert rulewatch("users", "link", "nobody@example.com").exit_code == 2


def test_a_recovery_link_ends_the_accounts_sessions_once_used(rulewatch, history):
    make_account(history.engine, "reviewer@example.com", "reviewer")
    with session_scope(history.engine) as session:
        user = session.exec(select(UserAccount)).one()
        stolen = start_session(session, user, "203.0.113.5")  # whoever has the old password
    relinked = rulewatch("users", "link", "reviewer@example.com")
    assert relinked.exit_code == 0
    assert "Once it sets a new password, every session the account had ends" in relinked.output
    [token] = LINK.findall(relinked.output)
    with session_scope(history.engine) as session:
        assert session_user(session, stolen) is not None  # issuing the link alone ends nothing
        set_password(session, token, "a new passphrase entirely")
    with session_scope(history.engine) as session:
        assert session_user(session, stolen) is None


def test_users_list_and_remove(rulewatch, history):
    assert "No accounts" in rulewatch("users", "list").output
    make_account(history.engine, "admin@example.com", "admin")
    rulewatch("users", "add", "viewer@example.com", "--role", "viewer")
    listed = rulewatch("users", "list", "--json")
    rows = json.loads(listed.output)
    assert [(r["email"], r["role"], r["password_set_at"] is not None) for r in rows] == [
        ("admin@example.com", "admin", True),
        ("viewer@example.com", "viewer", False),
    ]
    table = rulewatch("users", "list").output
    assert "admin@example.com" in table and "not yet" in table
    removed = rulewatch("users", "remove", "Viewer@example.com")
    assert removed.exit_code == 0 and "viewer@example.com removed" in removed.output
    assert rulewatch("users", "remove", "viewer@example.com").exit_code == 2
    with session_scope(history.engine) as session:
        assert [u.email for u in session.exec(select(UserAccount))] == ["admin@example.com"]
        user = session.exec(select(UserAccount)).one()
        assert password_matches(user.password_hash, PASSWORD)
        rows = session.exec(select(AuditEntry).where(AuditEntry.actor == "command line").order_by(AuditEntry.id))
        assert [(r.action, r.subject) for r in rows][-3:] == [
            ("user_added", "viewer@example.com"),
            ("sign_in_link", "viewer@example.com"),
            ("user_removed", "viewer@example.com"),
        ]


def test_review_as_a_reviewer_shows_in_changes_json(rulewatch, history):
    make_account(history.engine, "reviewer@example.com", "reviewer")
    rulewatch("users", "add", "viewer@example.com", "--role", "viewer")
    negation = history.events["negation"]
    done = rulewatch(
        "review", str(negation), "--status", "reviewed", "--note", "Negation confirmed.", "--as", "Reviewer@example.com"
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"event {negation}: new -> reviewed, by reviewer@example.com, with a note"

    rows = {row["id"]: row for row in json.loads(rulewatch("changes", "--json").output)}
    review = rows[negation]["review"]
    assert set(review) == REVIEW_FIELDS
    assert (review["status"], review["by"]) == ("reviewed", "reviewer@example.com")
    assert [(n["by"], n["text"]) for n in review["notes"]] == [("reviewer@example.com", "Negation confirmed.")]
    assert rows[history.events["minor"]]["review"] == {"status": "new", "by": None, "at": None, "notes": []}
    assert rows[history.events["cosmetic"]]["review"] is None
    assert rows[history.events["removed"]]["review"] is None

    refused = {
        "viewer": ("review", str(negation), "--status", "new", "--as", "viewer@example.com"),
        "no account": ("review", str(negation), "--status", "new", "--as", "nobody@example.com"),
        "cosmetic": ("review", str(history.events["cosmetic"]), "--status", "reviewed", "--as", "reviewer@example.com"),
        "unknown": ("review", "999999", "--status", "reviewed", "--as", "reviewer@example.com"),
        "status": ("review", str(negation), "--status", "done", "--as", "reviewer@example.com"),
        "number": ("review", "x1", "--status", "new", "--as", "reviewer@example.com"),
    }
    outputs = {name: rulewatch(*args) for name, args in refused.items()}
    assert {name: result.exit_code for name, result in outputs.items()} == dict.fromkeys(refused, 2)
    assert "only reviewers and admins review events" in outputs["viewer"].output
    assert "rulewatch users add nobody@example.com --role reviewer" in outputs["no account"].output
    assert "a cosmetic change" in outputs["cosmetic"].output
    assert "rulewatch changes" in outputs["unknown"].output
    with session_scope(history.engine) as session:
        reviews = session.exec(select(AuditEntry).where(AuditEntry.action == "review")).all()
        assert [(r.actor, r.event_id, r.from_status, r.to_status, r.note) for r in reviews] == [
            ("reviewer@example.com", negation, "new", "reviewed", "Negation confirmed.")
        ]

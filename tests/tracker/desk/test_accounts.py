"""Accounts on SQLite and PostgreSQL: Argon2 passwords, one-time links, sessions, sign-in limits, audit rows."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlmodel import Session, select

from storage.db import open_database, session_scope, utcnow
from storage.models import AuditEntry, SignInFailure, SignInLink, UserAccount, UserSession
from storage.repository import recent_sign_in_failures
from tests.support.accounts import PASSWORD, HeldChecks
from tracker.desk.accounts import (
    ACCOUNT_LIMIT,
    CHECKS_AT_ONCE,
    CLIENT_LIMIT,
    LIMIT_WINDOW,
    LINK_MAX_AGE,
    SESSION_MAX_AGE,
    AccountError,
    LinkInvalid,
    SignInBusy,
    SignInLimited,
    add_user,
    end_session,
    hash_password,
    issue_link,
    password_matches,
    remove_user,
    session_user,
    set_password,
    sign_in,
    start_session,
    user_for_link,
)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def added(engine, email="Reviewer@Example.com", role="reviewer", now=None) -> str:
    with session_scope(engine) as session:
        _, token = add_user(session, email, role, "command line", now=now)
    return token


def audit(engine) -> list[tuple]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(r.actor, r.action, r.subject, r.detail) for r in rows]


def test_passwords_are_argon2id_hashes_that_verify_only_the_password():
    encoded = hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's first choice: 19 MiB, 2 passes
    assert PASSWORD not in encoded
    assert hash_password(PASSWORD) != encoded  # salted
    assert password_matches(encoded, PASSWORD)
    assert not password_matches(encoded, PASSWORD + " ")
    assert not password_matches("not a hash", PASSWORD)


def test_an_account_sets_its_password_through_a_link_that_works_once(engine):
    token = added(engine)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount)).one()
        assert (user.email, user.role, user.password_hash) == ("reviewer@example.com", "reviewer", None)
        link = session.exec(select(SignInLink)).one()
        assert token not in link.token_sha256 and len(link.token_sha256) == 64  # only its hash is kept
        assert link.expires_at - link.created_at == LINK_MAX_AGE == timedelta(hours=24)
        assert user_for_link(session, token).email == "reviewer@example.com"
    with session_scope(engine) as session:
        set_password(session, token, PASSWORD)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount)).one()
        assert password_matches(user.password_hash, PASSWORD) and user.password_set_at is not None
        assert user_for_link(session, token) is None
        with pytest.raises(AccountError, match="no longer valid"):
            set_password(session, token, "another password entirely")
    assert audit(engine) == [
        ("command line", "user_added", "reviewer@example.com", "role reviewer"),
        ("command line", "sign_in_link", "reviewer@example.com", None),
        ("reviewer@example.com", "password_set", "reviewer@example.com", None),
    ]


def test_a_link_expires_after_24_hours_and_a_newer_one_replaces_it(engine):
    start = utcnow() - timedelta(days=2)
    old = added(engine, now=start)
    with session_scope(engine) as session:
        assert user_for_link(session, old, now=start + LINK_MAX_AGE - timedelta(seconds=1)) is not None
        assert user_for_link(session, old, now=start + LINK_MAX_AGE) is None
        with pytest.raises(AccountError, match="no longer valid"):
            set_password(session, old, PASSWORD)  # now: two days later
        user = session.exec(select(UserAccount)).one()
        first = issue_link(session, user, "command line")
        second = issue_link(session, user, "command line")
    with session_scope(engine) as session:
        assert user_for_link(session, first) is None and user_for_link(session, old) is None
        assert user_for_link(session, second) is not None
        assert user_for_link(session, "") is None and user_for_link(session, second + "x") is None


def test_weak_passwords_and_bad_accounts_are_refused(engine):
    token = added(engine)
    with session_scope(engine) as session:
        for weak, why in (
            ("short", "at least 12"),
            ("x" * 1025, "at most 1024"),
            ("reviewer@example.com", "other than"),
        ):
            with pytest.raises(AccountError, match=why):
                set_password(session, token, weak)
        assert user_for_link(session, token) is not None  # a refused password spends nothing
        with pytest.raises(AccountError, match="already has an account"):
            add_user(session, "REVIEWER@example.com", "admin", "command line")
        with pytest.raises(AccountError, match="role: expected one of viewer, reviewer, admin"):
            add_user(session, "other@example.com", "owner", "command line")
        with pytest.raises(AccountError, match="invalid email address"):
            add_user(session, "not an address", "viewer", "command line")
        with pytest.raises(AccountError, match="has no account"):
            remove_user(session, "nobody@example.com", "command line")


def _with_password(engine, email="reviewer@example.com", role="reviewer"):
    token = added(engine, email, role)
    with session_scope(engine) as session:
        return set_password(session, token, PASSWORD).id


def test_sign_in_sessions_and_sign_out(engine):
    _with_password(engine)
    with session_scope(engine) as session:
        assert sign_in(session, "reviewer@example.com", "wrong password!", "192.0.2.1") is None
        assert sign_in(session, "nobody@example.com", PASSWORD, "192.0.2.1") is None
        user = sign_in(session, " Reviewer@Example.com ", PASSWORD, "192.0.2.1")
        assert user is not None and user.email == "reviewer@example.com"
        cookie = start_session(session, user, "192.0.2.1")
    with session_scope(engine) as session:
        row = session.exec(select(UserSession)).one()
        assert cookie not in row.id_sha256 and row.expires_at - row.created_at == SESSION_MAX_AGE
        found, _ = session_user(session, cookie)
        assert found.email == "reviewer@example.com"
        assert session_user(session, cookie, now=row.expires_at) is None  # 12 hours on
        assert session_user(session, cookie + "x") is None and session_user(session, None) is None
        assert end_session(session, cookie, "192.0.2.1").email == "reviewer@example.com"
    with session_scope(engine) as session:
        assert session_user(session, cookie) is None
        assert session.exec(select(UserSession)).all() == []
        assert end_session(session, cookie, "192.0.2.1") is None
    assert [(actor, action) for actor, action, _, _ in audit(engine)][-2:] == [
        ("reviewer@example.com", "sign_in"),
        ("reviewer@example.com", "sign_out"),
    ]
    assert audit(engine)[-1][3] == "from 192.0.2.1"


def test_a_new_password_ends_the_accounts_other_sessions(engine):
    _with_password(engine)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount)).one()
        cookie = start_session(session, user, "192.0.2.1")
        token = issue_link(session, user, "command line")
    with session_scope(engine) as session:
        set_password(session, token, "a brand new passphrase")
    with session_scope(engine) as session:
        assert session_user(session, cookie) is None
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1") is None
        assert sign_in(session, "reviewer@example.com", "a brand new passphrase", "192.0.2.1") is not None


def test_removing_an_account_signs_it_out_and_keeps_its_audit_trail(engine):
    _with_password(engine)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount)).one()
        cookie = start_session(session, user, "192.0.2.1")
    with session_scope(engine) as session:
        remove_user(session, "REVIEWER@example.com", "command line")
    with session_scope(engine) as session:
        assert session_user(session, cookie) is None
        assert session.exec(select(UserAccount)).all() == []
    assert audit(engine)[-1] == ("command line", "user_removed", "reviewer@example.com", "role reviewer")
    assert {action for _, action, _, _ in audit(engine)} >= {"user_added", "password_set", "sign_in"}


def test_failed_sign_ins_are_limited_per_account_from_one_address(engine):
    _with_password(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for _ in range(ACCOUNT_LIMIT):
            assert sign_in(session, "reviewer@example.com", "guess", "192.0.2.1", now=now) is None
    with session_scope(engine) as session:
        with pytest.raises(SignInLimited) as limited:
            sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1", now=now)  # even the right one
        assert 0 < limited.value.wait_seconds <= LIMIT_WINDOW.total_seconds()
        # That address may still try another account, and the owner signs in from their own address.
        assert sign_in(session, "other@example.com", "guess", "192.0.2.1", now=now) is None
        assert sign_in(session, "reviewer@example.com", PASSWORD, "198.51.100.1", now=now) is not None
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1", now=now + LIMIT_WINDOW) is not None


def test_guesses_from_many_addresses_never_lock_the_owner_out(engine):
    _with_password(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for n in range(3 * ACCOUNT_LIMIT):  # each from another address
            assert sign_in(session, "reviewer@example.com", "guess", f"192.0.2.{n}", now=now) is None
    with session_scope(engine) as session:
        assert sign_in(session, "reviewer@example.com", PASSWORD, "198.51.100.1", now=now) is not None
        # The owner's success forgives only their own address's attempts, not the guessers'.
        guesses = recent_sign_in_failures(session, now - LIMIT_WINDOW, 100, email="reviewer@example.com")
        assert len(guesses) == 3 * ACCOUNT_LIMIT


def test_failed_sign_ins_are_limited_per_client_address(engine):
    _with_password(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for n in range(CLIENT_LIMIT):  # each for another account
            assert sign_in(session, f"user{n}@example.com", "guess", "192.0.2.9", now=now) is None
    with session_scope(engine) as session:
        with pytest.raises(SignInLimited):
            sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.9", now=now)
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.10", now=now) is not None


def test_a_success_forgives_the_accounts_earlier_failures(engine):
    _with_password(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for _ in range(ACCOUNT_LIMIT - 1):
            sign_in(session, "reviewer@example.com", "typo", "192.0.2.1", now=now)
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1", now=now) is not None
        for _ in range(ACCOUNT_LIMIT - 1):
            sign_in(session, "reviewer@example.com", "typo", "192.0.2.1", now=now)
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1", now=now) is not None


def test_an_older_hash_still_verifies_and_is_made_anew_at_sign_in(engine):
    _with_password(engine)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount)).one()
        user.password_hash = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default: 64 MiB, 3 passes
    with session_scope(engine) as session:
        assert sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1") is not None
    with session_scope(engine) as session:
        encoded = session.exec(select(UserAccount)).one().password_hash
        assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and password_matches(encoded, PASSWORD)


# -- attempts in parallel ----------------------------------------------------------------------------


def _in_thread(engine, results: list, email: str, password: str, client: str, now=None) -> threading.Thread:
    def attempt() -> None:
        try:
            with session_scope(engine) as session:
                results.append(sign_in(session, email, password, client, now=now))
        except Exception as exc:  # SignInBusy, SignInLimited, or (before the fix, on SQLite) a lock timeout
            results.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    return thread


def test_an_attempt_counts_before_its_password_is_checked(engine, monkeypatch):
    _with_password(engine)
    held = HeldChecks(monkeypatch)
    now, results = utcnow(), []
    thread = _in_thread(engine, results, "reviewer@example.com", "a wrong guess", "192.0.2.1", now)
    try:
        assert held.entered.acquire(timeout=60)
        with session_scope(engine) as session:  # while its hash is checked, the attempt is stored already
            assert recent_sign_in_failures(session, now - LIMIT_WINDOW, 10, client="192.0.2.1") == [now]
    finally:
        held.gate.set()
        thread.join()
    assert results == [None]
    thread = _in_thread(engine, results, "reviewer@example.com", PASSWORD, "192.0.2.1", now)
    thread.join()
    assert results[-1].email == "reviewer@example.com"
    with session_scope(engine) as session:  # the success forgave both
        assert session.exec(select(SignInFailure)).all() == []


def test_parallel_attempts_cannot_outrun_the_limit(engine, monkeypatch):
    _with_password(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for _ in range(ACCOUNT_LIMIT - 1):
            sign_in(session, "reviewer@example.com", "typo", "192.0.2.1", now=now)
    held = HeldChecks(monkeypatch, hold=1)
    results: list = []
    thread = _in_thread(engine, results, "reviewer@example.com", "the last guess", "192.0.2.1", now)
    try:
        assert held.entered.acquire(timeout=60)
        with session_scope(engine) as session, pytest.raises(SignInLimited):
            sign_in(session, "reviewer@example.com", PASSWORD, "192.0.2.1", now=now)  # the fifth is in flight
    finally:
        held.gate.set()
        thread.join()
    assert results == [None] and held.calls == 1
    with session_scope(engine) as session:  # the refused attempt was not counted as a guess
        assert len(session.exec(select(SignInFailure)).all()) == ACCOUNT_LIMIT


def test_at_most_two_passwords_are_checked_at_once(engine, monkeypatch):
    held = HeldChecks(monkeypatch)
    results: list = []
    attempts = 3 * CHECKS_AT_ONCE + 2
    # Each for another (unknown) account from another address: no limit applies, only the process's.
    threads = [_in_thread(engine, results, f"user{n}@example.com", "guess", f"192.0.2.{n}") for n in range(attempts)]
    try:
        waited = 0
        while held.calls + len(results) < attempts and waited < 6000:  # every attempt refused or checking
            time.sleep(0.01)
            waited += 1
    finally:
        held.gate.set()
        for thread in threads:
            thread.join()
    assert held.calls == CHECKS_AT_ONCE == 2
    busy = [r for r in results if isinstance(r, SignInBusy)]
    assert len(busy) == attempts - CHECKS_AT_ONCE and results.count(None) == CHECKS_AT_ONCE
    assert str(busy[0]) == "Too many sign-ins at once; try again in 2 seconds." and busy[0].wait_seconds == 2
    with session_scope(engine) as session:  # only the checked ones count
        assert len(session.exec(select(SignInFailure)).all()) == CHECKS_AT_ONCE


def test_two_posts_of_one_link_at_once_spend_it_once(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("on SQLite every transaction begins with the write lock (storage.db): the posts queue")
    token = added(engine)
    first = Session(engine, expire_on_commit=False)
    outcome: list = []
    pid: list[int] = []
    ready = threading.Event()

    def second_post() -> None:
        try:
            with session_scope(engine) as session:
                pid.append(session.exec(text("SELECT pg_backend_pid()")).one()[0])
                ready.set()
                outcome.append(set_password(session, token, "the second password").email)
        except LinkInvalid as exc:
            outcome.append(exc)

    try:
        set_password(first, token, "the first password")  # not committed yet: the link's row is locked
        thread = threading.Thread(target=second_post)
        thread.start()
        assert ready.wait(60)
        waiting = ""
        for _ in range(6000):  # until the second post waits for the first's lock
            with session_scope(engine) as session:
                row = session.exec(text(f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {pid[0]}")).first()
            waiting = row[0] if row else ""
            if waiting == "Lock":
                break
            time.sleep(0.01)
        assert waiting == "Lock"
        first.commit()
        thread.join()
    finally:
        first.close()
    assert len(outcome) == 1 and isinstance(outcome[0], LinkInvalid), outcome
    with session_scope(engine) as session:
        assert password_matches(session.exec(select(UserAccount)).one().password_hash, "the first password")
    assert [action for _, action, _, _ in audit(engine)].count("password_set") == 1

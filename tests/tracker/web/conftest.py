"""Fixtures of the web tests: an event history built through the real ingest path, and clients.

`history`, `client`, `admin_client` and `subscriber` are fresh for each test, for the tests that
write; `shared_client` reads the module's `shared_history` (tests/conftest.py), built once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from storage.db import session_scope
from tests.support.history import build_history
from tests.tracker.web.helpers import ADMIN_TOKEN
from tracker.alerts.subscribers import upsert_subscriber
from tracker.settings import SubscriberConfig
from tracker.web.app import create_app


@pytest.fixture
def history(database_url, tmp_path):
    return build_history(database_url, tmp_path)


@pytest.fixture
def client(history):
    return TestClient(create_app(history.config, history.engine))


@pytest.fixture
def shared_client(shared_history):
    return TestClient(create_app(shared_history.config, shared_history.engine))


@pytest.fixture
def admin_client(history):
    """The app with an admin token configured, on https as the history's base_url is: its Secure cookies are sent back."""
    config = replace(history.config, web=replace(history.config.web, admin_token=ADMIN_TOKEN))
    return TestClient(create_app(config, history.engine), base_url="https://testserver")


@pytest.fixture
def subscriber(history):
    with session_scope(history.engine) as session:
        return upsert_subscriber(session, SubscriberConfig(email="Legal@Example.com", sources=("bis",)))

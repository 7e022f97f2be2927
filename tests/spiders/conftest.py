"""Fixtures of the spider tests."""

import pytest

from tracker.demo.server import FixtureServer


@pytest.fixture
def other_server():
    """Another host (another port of 127.0.0.1) that a crawl must never reach."""
    other = FixtureServer().start()
    other.set("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    other.set("/page", "<html><body><main><p>Somewhere else entirely.</p></main></body></html>")
    yield other
    other.stop()

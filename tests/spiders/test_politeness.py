"""Politeness: robots.txt matched as its author meant, read once per host per check; one delay per host."""

import pytest

from spiders.politeness import RobotParser
from storage.db import open_database
from tracker.config import load_config
from tracker.crawl import run_check

ROBOTS = b"User-agent: *\nDisallow: /private/\nDisallow: /%7Euser/\nAllow: /\n"


@pytest.mark.parametrize("path, allowed", [
    ("/private/x", False),
    ("/%70rivate/x", False),  # %70 is "p": RFC 9309 compares after decoding unreserved characters
    ("/%70%72ivate/x", False),
    ("/~user/x", False),
    ("/%7euser/x", False),
    ("/public/%2e%2e/private/x", False),  # the server serves /private/x
    ("/public/%2E%2E/private/x", False),
    ("/public/%2e./private/x", False),
    ("/public/../private/x", False),
    ("/a/b/%2e%2e/%2e%2e/private/x", False),
    ("/private/%2e%2e/x", False),  # under /private/ as written
    ("/%2e%2e/private/x", False),
    ("/public/x", True),
    ("/public/%2e%2e/x", True),
    ("/Private/x", True),  # paths are case-sensitive
    ("/privatex", True),
    ("/public/..private/x", True),  # not a dot segment
])
def test_robots_txt_is_matched_against_the_path_the_server_serves(path, allowed):
    parser = RobotParser(ROBOTS, None)
    assert parser.allowed(f"http://127.0.0.1:8000{path}", "Rulewatch") is allowed


def test_a_dot_segment_path_is_not_fetched_around_robots_txt(server, write_config):
    server.set("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    server.set("/public/%2e%2e/private/page", "<html><body><main><p>Private.</p></main></body></html>")
    config = load_config(write_config(
        f'[[sources]]\nname = "watched"\nkind = "page"\nurl = "{server.url("/public/%2e%2e/private/page")}"\n'
    ))
    engine = open_database(config.database_url)
    [result] = run_check(config, engine, ["watched"])
    assert result.status == "failed" and "robots.txt" in result.failures[0]
    assert [hit.path for hit in server.hits] == ["/robots.txt"]

"""Politeness: robots.txt matched as its author meant, read once per host per check; one delay per host."""

import time

import pytest

from spiders.politeness import RobotParser
from storage.db import open_database
from tests.support.crawls import run_check
from tracker.config import load_config

ROBOTS = b"User-agent: *\nDisallow: /private/\nDisallow: /%7Euser/\nAllow: /\n"


@pytest.mark.parametrize(
    "path, allowed",
    [
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
    ],
)
def test_robots_txt_is_matched_against_the_path_the_server_serves(path, allowed):
    parser = RobotParser(ROBOTS, None)
    assert parser.allowed(f"http://127.0.0.1:8000{path}", "Rulewatch") is allowed


def test_a_dot_segment_path_is_not_fetched_around_robots_txt(server, write_config):
    server.set("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    server.set("/public/%2e%2e/private/page", "<html><body><main><p>Private.</p></main></body></html>")
    config = load_config(
        write_config(
            f'[[sources]]\nname = "watched"\nkind = "page"\nurl = "{server.url("/public/%2e%2e/private/page")}"\n'
        )
    )
    engine = open_database(config.database_url)
    [result] = run_check(config, engine, ["watched"])
    assert result.status == "failed" and "robots.txt" in result.failures[0]
    assert [hit.path for hit in server.hits] == ["/robots.txt"]


class TimedHits(list):
    """A FixtureServer's hit list that also notes when each request arrived (server side)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def append(self, hit):
        self.times.append(time.monotonic())
        super().append(hit)


def test_one_check_reads_robots_txt_once_per_host_and_keeps_one_delay_per_host(server, write_config):
    server.hits = TimedHits()
    server.set("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    server.set("/page", "<html><body><main><p>A guidance page.</p></main></body></html>")
    links = "".join(f'<a href="/site/{n}">{n}</a>' for n in range(3))
    server.set("/site/", f"<html><body><main><p>Index.</p>{links}</main></body></html>")
    for n in range(3):
        server.set(f"/site/{n}", f"<html><body><main><p>Page {n}.</p></main></body></html>")
    delay = 1.0
    config = load_config(
        write_config(
            f"""
        [[sources]]
        name = "guidance"
        kind = "page"
        url = "{server.url("/page")}"

        [[sources]]
        name = "site"
        kind = "site"
        start_urls = ["{server.url("/site/")}"]
        follow = ["/site/"]
        """,
            fetch=f"delay = {delay}\ntimeout = 5\nretries = 0",
        )
    )
    engine = open_database(config.database_url)
    results = run_check(config, engine, ["guidance", "site"])
    assert [r.status for r in results] == ["ok", "ok"]
    paths = [hit.path for hit in server.hits]
    assert paths.count("/robots.txt") == 1 and paths[0] == "/robots.txt"
    assert sorted(paths) == sorted(["/robots.txt", "/page", "/site/", "/site/0", "/site/1", "/site/2"])
    gaps = [later - earlier for earlier, later in zip(server.hits.times, server.hits.times[1:], strict=False)]
    # Each request starts at least the delay after the one before, whichever source asked;
    # a little is allowed for the time between a request's turn and its arrival here.
    assert min(gaps) >= delay - SLACK, gaps


SLACK = 0.25  # seconds

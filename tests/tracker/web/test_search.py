"""/search and /api/search on the web tests' history: the same hits as `rulewatch search --json`."""

from __future__ import annotations

import re

from storage.db import session_scope
from tests.support.history import GUIDANCE, NEWCOMER, NOTICE, PRESS
from tests.tracker.web.helpers import assert_no_live_markup
from tracker.search import MAX_QUERY, hit_json, search


def test_the_api_answers_the_hits_of_the_command_line(shared_client, shared_history):
    answer = shared_client.get("/api/search", params={"q": "exporters"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    with session_scope(shared_history.engine) as session:
        assert answer.json() == [hit_json(hit) for hit in search(session, "exporters")]
    urls = {hit["document"]["url"]: hit for hit in answer.json()}
    assert set(urls) == {GUIDANCE, PRESS, NEWCOMER}
    assert (urls[PRESS]["first_version"], urls[PRESS]["last_version"], urls[PRESS]["gone_in"]) == (1, 2, None)


def test_the_api_names_the_version_a_phrase_was_gone_in(shared_client, shared_history):
    [hit] = shared_client.get("/api/search", params={"q": '"may ship"'}).json()
    assert (hit["document"]["url"], hit["first_version"], hit["last_version"], hit["gone_in"]) == (PRESS, 1, 1, 2)
    assert hit["snippet"] == "Exporters may ship widgets to partners."
    [hit] = shared_client.get("/api/search", params={"q": "recieve"}).json()  # the typo the notice fixed
    assert (hit["document"]["url"], hit["gone_in"]) == (NOTICE, 2)
    assert shared_client.get("/api/search", params={"q": "recieve", "source": "bis"}).json() == []


def test_the_page_links_each_hit_and_marks_the_query_in_its_snippet(shared_client, shared_history):
    press = shared_history.documents[PRESS]
    answer = shared_client.get("/search", params={"q": '"MAY ship"'})
    assert answer.status_code == 200
    assert_no_live_markup(answer.text)
    assert f'<a href="/documents/{press}#v1">version 1</a>' in answer.text
    assert f'<a href="/documents/{press}/diff?from=1&amp;to=2">version 2</a>' in answer.text  # what took it out
    assert "Exporters <mark>may ship</mark> widgets to partners." in answer.text
    assert 'value="&#34;MAY ship&#34;"' in answer.text
    assert '<a href="/api/search?q=%22MAY+ship%22">' in answer.text
    still = shared_client.get("/search", params={"q": "widgets"}).text
    assert "in the latest version" in still and "<mark>widgets</mark>" in still
    nothing = shared_client.get("/search", params={"q": "nowhere"})
    assert nothing.status_code == 200 and "No version of any document has it." in nothing.text
    empty = shared_client.get("/search")
    assert empty.status_code == 200 and "<table" not in empty.text and 'name="q" value=""' in empty.text


def test_the_snippet_shows_fetched_markup_as_text(shared_client, shared_history):
    answer = shared_client.get("/search", params={"q": "onerror"})
    assert answer.status_code == 200
    assert_no_live_markup(answer.text)
    assert "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;" in answer.text


HOSTILE = [
    '"unclosed',
    "a\x00b",
    "\x1b[2J",
    "x" * (MAX_QUERY + 1),
    "* ^ ( )",
    'NEAR("a" "b", 3)',
    "a OR b AND NOT c",
    "'; DROP TABLE version; --",
    "a & b | !c <-> d:*",
    "{words}: huawei",
    "\ufffd\u202e",
    "%",
    " ",
]


def test_hostile_queries_are_a_clear_400_or_an_answer_never_a_500(shared_client, shared_history):
    for query in HOSTILE:
        page = shared_client.get("/search", params={"q": query})
        api = shared_client.get("/api/search", params={"q": query})
        assert page.status_code in (200, 400) and api.status_code in (200, 400), repr(query)
        assert_no_live_markup(page.text)
        if api.status_code == 400:
            assert api.json()["detail"].startswith("q: "), repr(query)
            assert page.status_code == 400 and "Cannot search: " in page.text
    for raw in ("/search?q=%ED%A0%80%FF", "/api/search?q=%ED%A0%80%FF", "/search?q=%", "/api/search?q=%%"):
        assert shared_client.get(raw).status_code in (200, 400), raw  # not UTF-8, not a valid escape
    nul = shared_client.get("/search", params={"q": "a\x00b"}).text
    assert "\x00" not in nul and 'value="a\\x00b"' in nul  # shown escaped in the box, never as itself
    long = shared_client.get("/api/search", params={"q": "x" * (MAX_QUERY + 1)}).json()
    assert long == {"detail": f"q: the query is {MAX_QUERY + 1} characters long; search for at most {MAX_QUERY}"}


def test_an_unknown_source_is_a_400_naming_it(shared_client, shared_history):
    api = shared_client.get("/api/search", params={"q": "widgets", "source": "nope"})
    assert api.status_code == 400 and api.json() == {"detail": "source: no source named 'nope' has been checked yet"}
    page = shared_client.get("/search", params={"q": "widgets", "source": "nope"})
    assert page.status_code == 400 and re.search(r"no source named &#39;nope&#39;", page.text)

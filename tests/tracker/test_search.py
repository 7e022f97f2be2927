"""Search across every version, on SQLite and PostgreSQL: what a hit is, exactly, and what a query may be.

Versions come through the real ingest path (tracker.ingest.Ingestor), a day apart.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DataError

from storage.db import open_database, session_scope, utcnow
from storage.repository import get_source
from storage.search import readable_text
from tracker import ingest as ingest_module
from tracker.cli import app
from tracker.config import load_config
from tracker.ingest import Ingestor
from tracker.items import Snapshot
from tracker.reading.content import Block, Content
from tracker.search import MAX_QUERY, SearchError, highlighted, parse_query, search

GUIDANCE = "https://www.bis.gov/guidance"
NOTICE = "https://www.bis.gov/notice"
PHRASE = "Huawei Ascend chips anywhere in the world"
START = utcnow() - timedelta(days=30)


def page(*paragraphs: str, title: str = "Guidance on chips") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>".encode()


# The phrase is in versions 1, 3 and 4 of the guidance: gone in 2, back in 3.
GUIDANCE_VERSIONS = [
    page("Exporters may ship widgets to partners.", f"Using {PHRASE} violates U.S. export controls."),
    page("Exporters may ship widgets to partners.", "Using Huawei Ascend chips in some places is a risk."),
    page("Exporters may ship widgets to partners.", f"Using {PHRASE.upper()} violates U.S. export controls."),
    page("Exporters may not ship widgets to partners.", f"Using {PHRASE} violates U.S. export controls."),
]
NOTICE_VERSIONS = [page("Section 744.23 applies to alpha items.", "A second paragraph.", title="Notice")]


@pytest.fixture
def setup(write_config):
    path = write_config(
        f"""
        [[sources]]
        name = "bis"
        kind = "page"
        url = "{GUIDANCE}"

        [[sources]]
        name = "fr"
        kind = "page"
        url = "{NOTICE}"
        """
    )
    config = load_config(path)
    return path, config, open_database(config.database_url)


@pytest.fixture
def stored(setup):
    """Both documents' versions ingested; the config path and the engine."""
    path, config, engine = setup
    day = 0
    for source, url, bodies in (("bis", GUIDANCE, GUIDANCE_VERSIONS), ("fr", NOTICE, NOTICE_VERSIONS)):
        for body in bodies:
            ingestor = Ingestor(engine, config.source(source), progress=lambda line: None)
            assert ingestor.ingest_snapshot(snapshot(source, url, body, day)) is not None
            ingestor.finish()
            day += 1
    return path, engine


def snapshot(source: str, url: str, body: bytes, day: int) -> Snapshot:
    return Snapshot(
        source=source,
        key=url,
        url=url,
        final_url=url,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=body,
        fetched_at=START + timedelta(days=day),
    )


def hits(engine, query: str, source: str | None = None) -> list[tuple]:
    """(document URL, first version, last version, gone in) of each hit, in the order given."""
    with session_scope(engine) as session:
        source_id = get_source(session, source).id if source else None
        return [(h.document.url, h.first_version, h.last_version, h.gone_in) for h in search(session, query, source_id)]


# -- queries -------------------------------------------------------------------------------


def test_a_query_is_words_and_quoted_phrases():
    terms = parse_query('export  "Huawei   Ascend chips" “Entity List” ""  U.S.')
    assert [(t.text, t.phrase) for t in terms] == [
        ("export", False),
        ("Huawei Ascend chips", True),
        ("Entity List", True),
        ("U.S.", False),
    ]
    assert [t.words for t in terms] == [("export",), ("huawei", "ascend", "chips"), ("entity", "list"), ("u", "s")]
    assert [t.exact_in_index for t in terms] == [True, False, False, False]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('"Huawei Ascend', "has no closing quote; add one"),
        ("export\x00controls", "control characters"),
        ("x" * (MAX_QUERY + 1), f"at most {MAX_QUERY}"),
        ("", "nothing to search for"),
        ('   ""  ', "nothing to search for"),
        ("* ^ ( ) : - + §", "\\* has no letter or digit to search for"),
        ('huawei "§"', "§ has no letter or digit to search for; leave it out, or put it in a quoted phrase"),
        (" ".join(f"w{n}" for n in range(40)), "at most 32"),
    ],
)
def test_a_query_that_cannot_be_searched_says_what_to_change(query, says):
    with pytest.raises(SearchError, match=says.replace("(", r"\(")):
        parse_query(query)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab .\n", max_size=30), phrase=st.text(alphabet="ab .", min_size=1, max_size=6))
def test_a_term_is_found_where_a_whole_word_match_is(text, phrase):
    """spans() against the plain regular expression with a look-behind, on a tiny alphabet."""
    from tracker.search import _term

    if not phrase.split():
        return
    term = _term(" ".join(phrase.split()), phrase=True)
    body = r"[^\S\n]+".join(re.escape(piece) for piece in phrase.split())
    before = r"(?<![^\W_])" if phrase.strip()[0].isalnum() else ""
    after = r"(?![^\W_])" if phrase.strip()[-1].isalnum() else ""
    expected = [m.span() for m in re.finditer(before + body + after, text)]
    assert list(term.spans(text)) == expected


def test_a_word_character_is_what_isalnum_says():
    """Term._next checks a term's start with str.isalnum(): the same characters as storage.search.WORD."""
    import sys

    from storage.search import WORD

    every = (chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    assert [c for c in every if bool(WORD.fullmatch(c)) != c.isalnum()] == []


def test_a_term_is_found_after_a_false_start_inside_it():
    [term] = parse_query('"a a"')
    assert list(term.spans("xa a a")) == [(3, 6)]


def test_the_readable_text_is_what_the_redline_and_expectations_read():
    content = Content(title="Title", blocks=(Block("One."), Block("Two.", kind="item")))
    assert readable_text(content.to_json()) == content.title + "\n" + content.text()


# -- hits ----------------------------------------------------------------------------------


def test_a_phrase_names_each_stretch_of_versions_that_has_it(stored):
    _, engine = stored
    # Newest appearance first: back in version 3 (still in the latest), and versions 1 to 1, gone in 2.
    assert hits(engine, f'"{PHRASE}"') == [(GUIDANCE, 3, 4, None), (GUIDANCE, 1, 1, 2)]
    with session_scope(engine) as session:
        newest, oldest = search(session, f'"{PHRASE.lower()}"')
    assert oldest.first_seen == START and newest.first_seen == START + timedelta(days=2)
    assert oldest.snippet == f"Using {PHRASE} violates U.S. export controls."
    assert highlighted(oldest) == [("Using ", False), (PHRASE, True), (" violates U.S. export controls.", False)]
    assert newest.snippet == f"Using {PHRASE.upper()} violates U.S. export controls."  # as that version has it


def test_a_phrase_is_matched_whole_and_within_one_paragraph(stored):
    _, engine = stored
    assert hits(engine, '"may ship widgets"') == [(GUIDANCE, 1, 3, 4)]
    assert hits(engine, '"ship widgets"') == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, '"MAY  ship\twidgets"') == [(GUIDANCE, 1, 3, 4)]  # case and spacing aside
    assert hits(engine, '"may not ship"') == [(GUIDANCE, 4, 4, None)]
    assert hits(engine, '"ship widget"') == []  # whole words: "widget" is not "widgets"
    assert hits(engine, '"hip widgets"') == []
    assert hits(engine, '"partners. Using"') == []  # the index has both words; they are in two paragraphs
    assert hits(engine, '"ascend huawei"') == []  # both words, in the other order


def test_every_phrase_and_punctuated_word_must_be_in_one_version(stored):
    _, engine = stored
    # "may ship widgets" is in versions 1 to 3, the long phrase and "U.S." in 1, 3 and 4.
    assert hits(engine, f'"may ship widgets" "{PHRASE}"') == [(GUIDANCE, 3, 3, 4), (GUIDANCE, 1, 1, 2)]
    assert hits(engine, '"may ship widgets" U.S.') == [(GUIDANCE, 3, 3, 4), (GUIDANCE, 1, 1, 2)]
    assert hits(engine, '"may not ship" U.S. "export controls"') == [(GUIDANCE, 4, 4, None)]
    assert hits(engine, '"may not ship" "in some places"') == []  # each in a version, never both in one


def test_words_must_all_be_in_one_version(stored):
    _, engine = stored
    assert hits(engine, "widgets partners") == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, "places violates") == []  # each in some version, never both in one
    assert hits(engine, "ship") == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, "ships") == []  # no stemming
    assert hits(engine, "NOT") == [(GUIDANCE, 4, 4, None)]  # a word, not an operator


def test_words_with_punctuation_are_read_as_written(stored):
    _, engine = stored
    assert hits(engine, "744.23") == [(NOTICE, 1, 1, None)]
    assert hits(engine, "744") == [(NOTICE, 1, 1, None)]
    assert hits(engine, "744.2") == []
    assert hits(engine, "U.S. places") == []  # version 2 has "places", and no "U.S."
    assert hits(engine, "U.S.") == [(GUIDANCE, 3, 4, None), (GUIDANCE, 1, 1, 2)]
    assert hits(engine, '"Section 744.23" alpha') == [(NOTICE, 1, 1, None)]
    assert hits(engine, "Section alpha") == [(NOTICE, 1, 1, None)]


def test_a_source_narrows_the_search(stored):
    _, engine = stored
    assert hits(engine, "paragraph") == [(NOTICE, 1, 1, None)]
    assert hits(engine, "paragraph", source="bis") == []
    assert hits(engine, "widgets", source="bis") == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, '"ship widgets"', source="bis") == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, '"ship widgets"', source="fr") == hits(engine, "744.23", source="bis") == []
    assert hits(engine, "744.23", source="fr") == [(NOTICE, 1, 1, None)]


def test_the_snippet_is_the_passage_around_the_anchor_term():
    from tracker.search import _snippet

    body = "Export controls apply. " * 20 + "Huawei Ascend chips are named here. " + "More text. " * 30
    terms = parse_query('export "Huawei Ascend"')
    snippet, marks = _snippet(body, terms, terms[1])
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) <= 242
    assert "Huawei Ascend chips are named here." in snippet
    marked = [snippet[s:e] for s, e in marks]
    assert "Huawei Ascend" in marked and set(marked) <= {"Huawei Ascend", "Export"}


# -- the index is written with the version -------------------------------------------------


def test_ingest_indexes_a_version_in_its_own_transaction(setup, monkeypatch):
    _, config, engine = setup

    def refuse(*args, **kwargs):
        raise DataError("INSERT INTO delivery ...", {}, ValueError("the outbox refused the event"))

    monkeypatch.setattr(ingest_module, "enqueue", refuse)  # fails after the version was indexed
    ingestor = Ingestor(engine, config.source("bis"), progress=lambda line: None)
    assert ingestor.ingest_snapshot(snapshot("bis", GUIDANCE, GUIDANCE_VERSIONS[0], 0)) is None
    [failure] = ingestor.finish().failures
    assert "could not be stored" in failure
    with engine.connect() as connection:
        for table in ("version", "version_passages", "passage"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
    assert hits(engine, "widgets") == []

    monkeypatch.undo()
    ingestor = Ingestor(engine, config.source("bis"), progress=lambda line: None)
    assert ingestor.ingest_snapshot(snapshot("bis", GUIDANCE, GUIDANCE_VERSIONS[0], 0)) is not None
    assert hits(engine, "widgets") == [(GUIDANCE, 1, 1, None)]


# -- hostile queries -----------------------------------------------------------------------

HOSTILE = [
    'NEAR("huawei" "chips", 5)',
    "huawei OR chips",
    "huawei AND NOT chips",
    "chip*",
    "^huawei",
    "{version_words}: huawei",
    "words:huawei",
    "(huawei",
    "huawei)",
    "'; DROP TABLE version; --",
    "huawei & chips | !ascend <-> world",
    "huawei:*",
    '"""',
    '"a" "b" "',
    "\\' \\\\ \\",
    "\u202e\u2066 huawei",
    "x" * MAX_QUERY,
    "é" * 300,
    "🙂 huawei 中文",
]


def test_hostile_queries_are_errors_or_searches_never_crashes(stored):
    _, engine = stored
    for query in HOSTILE:
        try:
            hits(engine, query)
        except SearchError:
            pass
    assert hits(engine, "huawei OR chips") == []  # "or" is a word to find like the others, and none has it
    assert hits(engine, "huawei chips") == [(GUIDANCE, 1, 4, None)]
    assert hits(engine, "(huawei") == []  # as written: no version has "(huawei"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM version")).scalar() == 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=80))
def test_any_query_is_an_error_or_a_search(stored, query):
    _, engine = stored
    try:
        hits(engine, query)
    except SearchError:
        pass


# -- the command line ----------------------------------------------------------------------


def run(path, *args):
    return CliRunner().invoke(app, ["--config", str(path), "search", *args])


def test_search_on_the_command_line(stored):
    path, _ = stored
    table = run(path, f'"{PHRASE}"')
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["document", "source", "first", "seen", "last", "gone", "in", "snippet"]
    assert "v3" in lines[2] and "v4" in lines[2] and lines[2].split()[-1] == "controls."
    assert " v1 " in lines[3] and " v2 " in lines[3]
    answer = json.loads(run(path, f'"{PHRASE}"', "--json").output)
    assert [(h["first_version"], h["last_version"], h["gone_in"]) for h in answer] == [(3, 4, None), (1, 1, 2)]
    assert set(answer[0]) == {"source", "document", "first_version", "first_seen", "last_version", "gone_in", "snippet"}
    assert answer[1]["document"]["url"] == GUIDANCE and answer[1]["source"] == "bis"
    assert answer[1]["first_seen"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(run(path, "paragraph", "--source", "bis", "--json").output) == []
    assert run(path, "ship", "widgets", "--json").output == run(path, "ship widgets", "--json").output
    assert run(path, "nothing-like-it").output == "No version of any document has nothing-like-it.\n"
    undecodable = run(path, "ship\udcff")  # a byte the locale could not decode, as Python passes it on
    assert undecodable.exit_code == 0 and undecodable.output == "No version of any document has ship\ufffd.\n"


def test_the_command_line_says_what_is_wrong_in_one_line(stored):
    path, _ = stored
    for args, says in (
        (['"Huawei Ascend'], "has no closing quote"),
        (["huawei", "--source", "nope"], "no source named 'nope'"),
        (["a\x1b[2Jb"], "control characters"),
        (["*"], "has no letter or digit"),
    ):
        result = run(path, *args)
        assert result.exit_code == 2, args
        assert result.output.startswith("error: ") and says in result.output
        assert result.output.count("\n") == 1 and "\x1b" not in result.output

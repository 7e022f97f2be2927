"""Property-based tests across normalization, the diff engine, rendering and severity.

These extend the Hypothesis tests in test_normalize.py, test_diff.py and
test_severity.py: structured contents (sections, labels, kinds, volatile
blocks, links) built as edits of each other, so that moves, duplicates, empty
texts, unicode and markup all meet the diff, the renderers and the judge.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.reading.blocks import fold
from tracker.reading.content import Block, Content, content_hash
from tracker.reading.decode import decode
from tracker.reading.html import normalize_html
from tracker.reading.text import normalize_text
from tracker.redline.compute import diff_contents
from tracker.redline.render import (
    excerpt_html,
    redline_ops,
    redline_ops_json,
    render_html,
    render_text,
)
from tracker.severity import assess
from tracker.severity import rules as severity
from tracker.severity.model import SEVERITY_ORDER

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters fold() deletes outright (soft hyphen, zero-width, direction marks, BOM).
INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"

# --- strategies ----------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '"><svg onload=alert(1)>',
    "</div><script>x</script><div>",
    "&lt;script&gt; &amp; &#60;script&#62;",
    "javascript:alert(1)",
    "onerror=alert(1)",
]
REGULATORY = [
    "(a) A license shall be required for exports of items in ECCN 3A090.",
    "(a) A license shall not be required for exports of items in ECCN 3A090.",
    "(b) Applications will be reviewed under a presumption of denial.",
    "(1) The exporter must file within 30 days of May 13, 2025.",
    "(i) See § 744.23(a)(2) for the rule.",
    "§ 744.23 Supercomputer and semiconductor end uses.",
    "Last updated May 20, 2025",
    "[Reserved]",
    "",
    " ",
    "x",
]
UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
TEXTS = st.one_of(st.sampled_from(REGULATORY), st.sampled_from(HOSTILE), UNICODE)
SECTIONS = st.sampled_from(["", "§ 744.23", "§ 744.23(a)", "§ 744.23(b)(1)", "15 CFR 734.3", '<b onmouseover="x">'])
KINDS = st.sampled_from(["title", "heading", "paragraph", "item"])


@st.composite
def blocks(draw) -> Block:
    text = draw(TEXTS)
    label = text[: text.find(")") + 1] if text.startswith("(") and ")" in text else ""
    return Block(text, draw(KINDS), label, draw(SECTIONS), draw(st.booleans()))


LINKS = st.lists(
    st.sampled_from(
        [
            "https://www.bis.gov/news",
            "https://www.bis.gov/media/documents/guidance.pdf",
            "https://www.bis.gov/sites/default/files/documents/faq.pdf",
            "https://example.com/<script>",
        ]
    ),
    max_size=3,
    unique=True,
)
TITLES = st.one_of(st.sampled_from(["", "Press release", "Press  release", "<script>t</script>"]), UNICODE)


@st.composite
def contents(draw) -> Content:
    return Content(draw(TITLES), tuple(draw(st.lists(blocks(), max_size=10))), tuple(draw(LINKS)))


@st.composite
def edited(draw, old: Content) -> Content:
    """A new version of `old`: blocks moved, duplicated, dropped, edited or added."""
    items = list(old.blocks)
    for _ in range(draw(st.integers(0, 5))):
        action = draw(st.sampled_from(["move", "duplicate", "drop", "edit", "insert", "empty"]))
        if action == "insert" or not items:
            items.insert(draw(st.integers(0, len(items))), draw(blocks()))
            continue
        k = draw(st.integers(0, len(items) - 1))
        if action == "move":
            items.insert(draw(st.integers(0, len(items) - 1)), items.pop(k))
        elif action == "duplicate":
            items.insert(draw(st.integers(0, len(items))), items[k])
        elif action == "drop":
            del items[k]
        elif action == "empty":
            items[k] = Block("", items[k].kind, "", items[k].section)
        else:
            words = items[k].text.split(" ")
            w = draw(st.integers(0, len(words) - 1))
            words[w] = draw(st.sampled_from(["not", "may", "60", "<script>", "é", "", words[w].upper()]))
            items[k] = Block(" ".join(words), items[k].kind, items[k].label, items[k].section, items[k].volatile)
    title = draw(st.one_of(st.just(old.title), TITLES))
    links = draw(st.one_of(st.just(old.links), LINKS.map(tuple)))
    return Content(title, tuple(items), links)


@st.composite
def content_pairs(draw) -> tuple[Content | None, Content]:
    old = draw(contents())
    new = draw(st.one_of(edited(old), contents()))
    return draw(st.one_of(st.just(old), st.none())), new


# --- normalization -----------------------------------------------------------------------

PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=INVISIBLE), max_size=200)
HTML_DOCS = st.builds(
    lambda parts: "<html><body><main>" + "".join(parts) + "</main></body></html>",
    st.lists(
        st.one_of(
            PLAIN.map(lambda t: f"<p>{t}</p>"),
            PLAIN.map(lambda t: f"<h2>{t}</h2>"),
            PLAIN.map(lambda t: f"<li>{t}</li>"),
            st.sampled_from(HOSTILE),
            st.sampled_from(
                [
                    "<script>dropped_script_body()</script>",
                    "<br>",
                    "<table><tr><td>a</td><td>b</td></tr></table>",
                    "<pre>x\n y</pre>",
                ]
            ),
        ),
        max_size=8,
    ),
)


def block_texts(content: Content) -> list[str]:
    return [block.text for block in content.blocks]


@SETTINGS
@given(PLAIN)
def test_normalize_text_is_deterministic_and_stable_on_its_own_output(text):
    first = normalize_text(text)
    assert first == normalize_text(text)
    assert content_hash(first) == content_hash(normalize_text(text))
    again = normalize_text(first.text())
    assert block_texts(again) == block_texts(first)
    # labels, sections and volatility follow from the texts alone for plain text
    assert again.blocks == first.blocks
    for block in first.blocks:
        assert block.text and block.text == block.text.strip() and "\n" not in block.text


@SETTINGS
@given(HTML_DOCS)
def test_normalize_html_output_renormalizes_to_the_same_texts(html):
    first = normalize_html(html)
    assert first == normalize_html(html)
    assert block_texts(normalize_text(first.text())) == block_texts(first)
    assert all(fold(text) == text for text in block_texts(first))
    assert "dropped_script_body" not in first.text()  # a live script's code is never content


@SETTINGS
@given(PLAIN)
def test_fold_is_idempotent_without_invisible_characters(text):
    assert fold(fold(text)) == fold(text)


def test_fold_is_idempotent_with_a_zero_width_space_before_a_combining_mark():
    text = "e\u200b\u0301"  # fold -> "e\u0301" (2 code points); fold again -> "\u00e9"
    assert fold(fold(text)) == fold(text)
    content = normalize_text(text)
    assert block_texts(normalize_text(content.text())) == block_texts(content)


# --- the diff engine ---------------------------------------------------------------------


def apply_ops(old_text: str, ops) -> str:
    """Replay ops against the old text: equal and delete must consume it exactly."""
    out, at = [], 0
    for op in ops:
        if op.op == "insert":
            out.append(op.text)
            continue
        assert old_text.startswith(op.text, at), (op, at)
        at += len(op.text)
        if op.op == "equal":
            out.append(op.text)
    assert at == len(old_text)
    return "".join(out)


@SETTINGS
@given(content_pairs())
def test_applying_the_ops_to_the_old_text_gives_the_new_text(pair):
    old, new = pair
    redline = diff_contents(old, new)
    ops = redline_ops(redline)
    old_text = old.text() if old is not None else ""
    assert apply_ops(old_text, ops) == new.text()
    assert "".join(op.text for op in ops if op.op != "insert") == old_text
    assert "".join(op.text for op in ops if op.op != "delete") == new.text()
    assert [op["op"] for op in redline_ops_json(redline)] == [op.op for op in ops]
    # every block of each side appears in exactly one hunk, in order
    assert [
        h.new for h in redline.hunks if h.new is not None and not (h.kind == "moved" and h.ops[0].move == "from")
    ] == list(new.blocks)
    olds = [h.old for h in redline.hunks if h.old is not None and not (h.kind == "moved" and h.ops[0].move == "to")]
    assert olds == (list(old.blocks) if old is not None else [])


@SETTINGS
@given(contents())
def test_diffing_a_content_with_itself_changes_nothing(content):
    redline = diff_contents(content, content)
    assert not redline.changed
    assert all(op.op == "equal" for op in redline_ops(redline))
    assert diff_contents(content, content) == redline  # deterministic


# --- rendering ---------------------------------------------------------------------------


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(fragment: str) -> None:
    assert "<script" not in fragment.lower()
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ("div", "span", "ins", "del"), tag
        for name, _ in attrs:
            assert name in ("class", "id"), (tag, name)  # never onerror=, onload=, style=, href=


@SETTINGS
@given(content_pairs(), st.sampled_from([None, 0, 1]))
def test_rendered_html_never_holds_live_markup(pair, context):
    old, new = pair
    redline = diff_contents(old, new)
    assert_inert(render_html(redline, context=context))
    assert_inert(excerpt_html(redline, 400))
    render_text(redline, context=context)


@SETTINGS
@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=4), st.sampled_from(HOSTILE))
def test_hostile_text_is_shown_as_text(paragraphs, title):
    old = Content("t", tuple(Block(p, section=p) for p in paragraphs))
    new = Content(title, tuple(Block(p + " changed", section=p) for p in reversed(paragraphs)))
    fragment = render_html(diff_contents(old, new))
    assert_inert(fragment)
    parser = _Markup()
    parser.feed(fragment)
    shown = "".join(parser.text)
    assert all(p in shown for p in paragraphs)  # escaped, not dropped


# --- severity ----------------------------------------------------------------------------


def assert_valid(assessment) -> None:
    assert assessment.severity in SEVERITY_ORDER
    assert isinstance(assessment.reasons, tuple) and assessment.reasons
    assert all(isinstance(reason, str) and reason for reason in assessment.reasons)


@SETTINGS
@given(content_pairs())
def test_severity_of_any_structured_redline_is_a_level_with_reasons(pair):
    old, new = pair
    redline = diff_contents(old, new)
    severity._judge(redline)  # the inner judge itself must not raise (assess() would hide it)
    result = assess(redline, old.links if old else (), new.links)
    assert_valid(result)
    assert result.reasons != ("change could not be classified",)
    assert assess(redline, old.links if old else (), new.links) == result


@SETTINGS
@given(contents())
def test_identical_contents_are_never_substantive(content):
    result = assess(diff_contents(content, content), content.links, content.links)
    assert_valid(result)
    assert result.severity != "substantive"
    assert result == severity.Assessment("cosmetic", ("no visible text changed",))


# The links the strategies can draw that point at a document (a PDF, a documents folder).
DOCUMENT_LINKS = {
    "https://x/a.PDF",
    "https://www.bis.gov/media/documents/guidance.pdf",
    "https://www.bis.gov/sites/default/files/documents/faq.pdf",
}


@SETTINGS
@given(contents(), st.lists(st.sampled_from(HOSTILE + REGULATORY), max_size=3), st.lists(LINKS, max_size=1))
def test_assess_judges_odd_links_without_falling_back(content, odd, links):
    """Unparsable, empty and hostile links are judged one by one, not swallowed by assess's fallback.

    The text is unchanged, so every reason comes from the links: documents first, then the
    rest, each in the order given. The fallback ("change could not be classified") would fail.
    """
    redline = diff_contents(content, content)
    odd_links = ("http://[::1", "", *odd, *(links[0] if links else ()), "https://x/a.PDF")
    distinct = list(dict.fromkeys(odd_links))
    documents = [url for url in distinct if url in DOCUMENT_LINKS]
    others = [url for url in distinct if url not in DOCUMENT_LINKS]
    for verb, result in (("added", assess(redline, (), odd_links)), ("removed", assess(redline, odd_links, None))):
        expected = [f"linked document {verb}: {url}" for url in documents] + [f"link {verb}: {url}" for url in others]
        assert result == severity.Assessment("substantive", tuple(expected))


# --- normalizing costs work in proportion to the page ----------------------------------
#
# Not a timing: the Python lines run (sys.settrace) are counted for a page and for the
# same page twice as big. Linear code runs about twice the lines; a step that searches
# a subtree or the siblings per element runs four times as many.


def lines_run(function, *args) -> int:
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        function(*args)
    finally:
        sys.settrace(None)
    return count


SHAPES = {
    # Every level a boilerplate candidate whose text (too long to be boilerplate) is measured.
    "nested boilerplate": lambda n: "<body>" + "<div class='share'>" * n + "x" * 1200 + "</div>" * n,
    # Every level an element whose removal used to be checked by a subtree search.
    "nested plain divs": lambda n: "<body>" + "<div>" * n + "deep" + "</div>" * n,
    # Every script removed from a parent holding many other nodes.
    "dropped siblings": lambda n: "<body>" + "<!---->" * (10 * n) + "<script>x</script>" * n,
    "headers deep in an article": lambda n: "<body><article>" + "<div><header>h</header>" * n + "</article>",
    "titles deep in svg": lambda n: "<body><svg>" + "<g><title>t</title>" * n + "</svg><h1>Name</h1>",
    "rows of a table": lambda n: "<body><table>" + "<tr><td>a</td><td><b>b</b></td></tr>" * n + "</table>",
}
SIZES = {"rows of a table": 1500}  # the rest: 200 then 400 (levels, or scripts)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_normalize_html_work_grows_linearly(shape):
    build, n = SHAPES[shape], SIZES.get(shape, 200)
    normalize_html(build(n))  # caches warmed (compiled selectors and patterns), not counted
    small = lines_run(normalize_html, build(n))
    big = lines_run(normalize_html, build(2 * n))
    assert big <= 2.3 * small, f"{shape}: {small} lines for n={n}, {big} for n={2 * n}"


@pytest.mark.parametrize(
    "selector, build",
    [
        ("div", lambda n: "<body>" + "<div>" * n + "x"),
        ("p", lambda n: "<body>" + "<div>" * n + "<p>x</p>" * n),
    ],
    ids=["nested matches", "matches deep down"],
)
def test_selected_regions_work_grows_linearly(selector, build):
    normalize_html(build(200), selector)  # caches warmed, not counted
    small = lines_run(normalize_html, build(200), selector)
    big = lines_run(normalize_html, build(400), selector)
    assert big <= 2.3 * small, f"{small} lines, then {big}"


def test_a_page_past_the_depth_cap_is_refused_after_reading_no_further():
    refused = 0

    def attempt(html):
        nonlocal refused
        try:
            normalize_html(html)
        except ValueError:
            refused += 1

    attempt("<div>" * 20_000)  # caches warmed, not counted
    small = lines_run(attempt, "<div>" * 20_000)
    big = lines_run(attempt, "<div>" * 200_000)
    assert refused == 3
    assert big <= 1.2 * small  # the scan stops at the cap, whatever follows it


# --- one undecodable byte is never news ------------------------------------------------

# Text as pages hold it: legal signs, typography, accents, wide characters, and the
# runs of whitespace of an indented source; no markup characters, so the byte lands in text.
PAGE_TEXT = st.lists(
    st.sampled_from(
        [*list("abcxyz ABC 0129.,;()\n\t"), "  ", "§", "’", "“", "—", "é", "\xa0", "中", "😀", "not ", "may "]
    ),
    min_size=1,
    max_size=30,
).map("".join)


@SETTINGS
@given(st.lists(PAGE_TEXT, min_size=1, max_size=5), st.data())
def test_one_invalid_byte_anywhere_in_the_text_is_never_more_than_cosmetic(paragraphs, data):
    head = "<html><head><meta charset='utf-8'><title>T</title></head><body>"
    page = (head + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>").encode("utf-8")
    k = data.draw(st.integers(0, len(paragraphs) - 1))
    start = page.index(f"<p>{paragraphs[k]}</p>".encode()) + 3
    at = data.draw(st.integers(start, start + len(paragraphs[k].encode("utf-8"))))
    damaged = page[:at] + b"\xff" + page[at:]
    good, bad = normalize_html(decode(page, "utf-8")), normalize_html(decode(damaged, "utf-8"))
    for old, new in ((good, bad), (bad, good)):
        result = assess(diff_contents(old, new))
        assert result.severity == "cosmetic", result.reasons
        assert all(r.startswith("decoding:") or r == "no visible text changed" for r in result.reasons), result.reasons

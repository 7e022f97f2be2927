"""Normalization: table-driven HTML cases, saved real-shaped pages, decoding, PDF."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tracker.reading import html as reading_html
from tracker.reading import text as reading_text
from tracker.reading.blocks import fold
from tracker.reading.content import Content, content_hash
from tracker.reading.decode import decode
from tracker.reading.errors import SelectorNotFound, UnreadableDocument
from tracker.reading.html import normalize_html
from tracker.reading.text import normalize_pdf, normalize_text

FILES = Path(__file__).parent.parent / "files" / "normalize"
CASES = json.loads((FILES / "html_cases.json").read_text(encoding="utf-8"))

# Saved pages and the URL each was fetched from; each has a reviewed `<name>.expected.json`.
PAGES = {
    "bis_press_release": "https://www.bis.gov/press-release/department-commerce-announces-rescission-biden-era-artificial-intelligence-diffusion-rule-strengthens",
    "ecfr_744_23": "https://www.ecfr.gov/current/title-15/chapter-VII/subchapter-C/part-744/section-744.23",
}


def texts(content: Content) -> list[str]:
    return [block.text for block in content.blocks]


# --- table-driven HTML cases ------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_html_case(case):
    content = normalize_html(case["html"], selector=case.get("selector"))
    if "blocks" in case:
        assert [block.to_json() for block in content.blocks] == case["blocks"]
    else:
        assert texts(content) == case["texts"]


# --- saved pages ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAGES))
def test_saved_page_matches_reviewed_parse(name):
    html = (FILES / f"{name}.html").read_text(encoding="utf-8")
    content = normalize_html(html, base_url=PAGES[name])
    expected_file = FILES / f"{name}.expected.json"
    if not expected_file.exists():
        # Juriscraper style: write the parse once, and fail until a person has reviewed it.
        expected_file.write_text(json.dumps(content.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(f"wrote {expected_file.name}: review it, then run again")
    assert content.to_json() == json.loads(expected_file.read_text(encoding="utf-8"))


def bis_page() -> Content:
    html = (FILES / "bis_press_release.html").read_text(encoding="utf-8")
    return normalize_html(html, base_url=PAGES["bis_press_release"])


def test_press_release_keeps_the_article_and_drops_the_chrome():
    content = bis_page()
    text = content.text()
    assert content.title.startswith("Department of Commerce Announces Rescission")
    assert content.blocks[0].kind == "heading"
    assert "using Huawei Ascend chips anywhere in the world violates U.S. export controls" in text
    for chrome in (
        "Skip to main content",
        "About BIS",
        "Home",
        "Share this page",
        "Privacy Policy",
        "cookies",
        "official website",
        "dataLayer",
        "jQuery",
        "editor:",
    ):
        assert chrome not in text


def test_press_release_volatile_lines():
    volatile = [block.text for block in bis_page().blocks if block.volatile]
    assert volatile == ["May 13, 2025", "Last updated: May 13, 2025"]


def test_links_are_absolute_deduplicated_and_from_the_kept_region():
    links = bis_page().links
    assert links == (
        "https://www.bis.gov/media/documents/general-prohibition-10-guidance-may-13-2025.pdf",
        "https://www.bis.gov/media/documents/ai-policy-statement-training-ai-models-may-13-2025",
        "https://www.bis.gov/media/documents/ai-counter-diversion-industry-guidance-may-13-2025.pdf",
        "https://www.bis.gov/",
    )


def test_links_keep_only_http():
    html = """<main><a href="mailto:a@b.gov">mail</a><a href="javascript:void(0)">js</a>
    <a href="ftp://x.gov/f">ftp</a><a href="http://[bad">bad</a><a href=" rel/doc.pdf#p2 ">rel</a>
    <a href="HTTPS://Example.gov/A">abs</a><a>no href</a></main>"""
    content = normalize_html(html, base_url="https://www.bis.gov/news/")
    assert content.links == ("https://www.bis.gov/news/rel/doc.pdf", "https://Example.gov/A")


def test_a_malformed_or_hostile_link_never_costs_the_others():
    html = (
        "<a href='/first'>1</a>"
        "<a href='http://[::1'>malformed IPv6</a>"
        "<a href='http://\uff03x.gov/'>host that folds to a separator</a>"
        "<a href='\x01 https://x.gov/edges\n'>control characters at the edges</a>"
        "<a href='https://x.gov/esc\x1b[2J\x85ape'>control characters inside</a>"
        "<a href='https://x.gov/t\tab'>a tab inside</a>"
        "<a href='https://x.gov/" + "a" * 1_000_000 + "'>a huge href</a>"
        "<a href='/last'>2</a>"
    )
    assert normalize_html(html, base_url="https://x.gov/").links == (
        "https://x.gov/first",
        "https://x.gov/edges",
        "https://x.gov/esc%1B[2J%C2%85ape",
        "https://x.gov/tab",
        "https://x.gov/last",
    )


def test_absolute_links_survive_a_malformed_base_url():
    html = "<a href='/relative'>r</a><a href='https://x.gov/absolute'>a</a>"
    assert normalize_html(html, base_url="http://[::1").links == ("https://x.gov/absolute",)


def test_links_are_capped():
    html = "".join(f"<a href='/d/{i}'>{i}</a>" for i in range(reading_html.MAX_LINKS + 5))
    links = normalize_html(html, base_url="https://x.gov/").links
    assert len(links) == reading_html.MAX_LINKS and links[-1] == f"https://x.gov/d/{reading_html.MAX_LINKS - 1}"


def test_ecfr_section_anchors():
    html = (FILES / "ecfr_744_23.html").read_text(encoding="utf-8")
    by_label = {b.label: b.section for b in normalize_html(html).blocks if b.label}
    assert by_label == {
        "Part 744": "Part 744",
        "§ 744.23": "§ 744.23",
        "(a)": "§ 744.23(a)",
        "(1)": "§ 744.23(a)(1)",
        "(i)": "§ 744.23(a)(1)(i)",
        "(ii)": "§ 744.23(a)(1)(ii)",
        "(2)": "§ 744.23(a)(2)",
        "(b)": "§ 744.23(b)",
    }


# --- selectors, titles ------------------------------------------------------


def sections(content: Content) -> list[tuple[str, str]]:
    return [(block.text.split(" ", 1)[0], block.section) for block in content.blocks]


# An executive order as the Federal Register's full text prints it: "Section 1." then
# "Sec. 2.", lettered paragraphs, and roman items right under a letter.
EXECUTIVE_ORDER = """
<p>By the authority vested in me as President, it is hereby ordered:</p>
<p><em>Section 1</em>. <em>Purpose</em>. This order protects the supply chain.</p>
<p><em>Sec. 2</em>. <em>Definitions</em>. For purposes of this order:</p>
<p>(a) The term \u201citem\u201d has the meaning given in the EAR.</p>
<p>(b) The term \u201ccovered transaction\u201d means:</p>
<p>(i) an export of an item; or</p>
<p>(ii) a reexport of an item.</p>
<p>(c) The term \u201cperson\u201d means:</p>
<p>(i) an individual;</p>
<p>(A) a citizen; or</p>
<p>(B) a resident;</p>
<p>(ii) an entity.</p>
<p>(d) The term \u201centity\u201d means a partnership or corporation.</p>
<h4>Sec. 3. Recreation.</h4>
<p>(a) Agencies shall review their policies.</p>
<p>(b) Within 90 days, the Secretary shall report.</p>
<p>SECTION 4. General Provisions. (a) Nothing in this order impairs the law.</p>
"""


def test_executive_order_sections_and_roman_items_under_letters():
    content = normalize_html(EXECUTIVE_ORDER)
    assert sections(content) == [
        ("By", ""),
        ("Section", "Sec. 1"),
        ("Sec.", "Sec. 2"),
        ("(a)", "Sec. 2(a)"),
        ("(b)", "Sec. 2(b)"),
        ("(i)", "Sec. 2(b)(i)"),
        ("(ii)", "Sec. 2(b)(ii)"),
        ("(c)", "Sec. 2(c)"),
        ("(i)", "Sec. 2(c)(i)"),
        ("(A)", "Sec. 2(c)(i)(A)"),
        ("(B)", "Sec. 2(c)(i)(B)"),
        ("(ii)", "Sec. 2(c)(ii)"),
        ("(d)", "Sec. 2(d)"),
        ("Sec.", "Sec. 3"),
        ("(a)", "Sec. 3(a)"),
        ("(b)", "Sec. 3(b)"),
        ("SECTION", "Sec. 4"),
    ]
    assert [b.label for b in content.blocks if b.text.lower().startswith("sec")] == [
        "Sec. 1",
        "Sec. 2",
        "Sec. 3",
        "Sec. 4",
    ]


def test_roman_one_after_h_is_read_again_when_roman_two_follows():
    text = "\u00a7 1.1 Terms.\n\n(h) Letter h.\n\n(i) Roman one, read first as the letter i.\n\nA paragraph of it.\n\n(ii) Roman two.\n\n(j) Letter j."
    assert [b.section for b in normalize_text(text).blocks] == [
        "\u00a7 1.1",
        "\u00a7 1.1(h)",
        "\u00a7 1.1(h)(i)",
        "\u00a7 1.1(h)(i)",
        "\u00a7 1.1(h)(ii)",
        "\u00a7 1.1(j)",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Section 2 of the Act requires a license.",  # a sentence, not a label
        "Sec. 2 applies here.",
        "Section 2.5 percent of the fee.",
    ],
)
def test_section_words_in_sentences_are_no_labels(text):
    assert normalize_text(text).blocks[0].label == ""


def test_a_plain_heading_stands_apart_from_the_labels_under_it():
    content = normalize_html("<h1>Generated regulation text</h1><p>(a) First.</p><p>(1) Sub.</p>")
    assert [b.section for b in content.blocks] == [
        "Generated regulation text",
        "Generated regulation text, (a)",
        "Generated regulation text, (a)(1)",
    ]


def test_a_long_heading_is_cut_at_a_word_with_an_ellipsis():
    heading = "Department of Commerce Announces Rescission of Biden-Era Artificial Intelligence Diffusion Rule"
    content = normalize_html(f"<h1>{heading}</h1><p>Body.</p>")
    section = content.blocks[1].section
    assert section == "Department of Commerce Announces Rescission of Biden-Era Artificial\u2026"
    assert len(section) <= 80
    unbroken = "x" * 120
    assert normalize_html(f"<h2>{unbroken}</h2>").blocks[0].section == "x" * 79 + "\u2026"


def test_excluded_elements_are_left_out_with_their_text_but_not_what_follows():
    html = (
        "<p>Before <span class='unprinted-element'>[[Page 1234]]</span>after.</p>"
        "<div class='printed-page-wrapper'><p>Printed page 1235</p></div><p>(a) Rule.</p>"
    )
    content = normalize_html(html, exclude=".unprinted-element, .printed-page-wrapper")
    assert texts(content) == ["Before after.", "(a) Rule."]


def test_selector_matching_nothing_raises():
    with pytest.raises(SelectorNotFound) as raised:
        normalize_html("<body><p>text</p></body>", selector="#rule-text")
    assert isinstance(raised.value, ValueError)
    assert "#rule-text" in str(raised.value) and "layout may have changed" in str(raised.value)


def test_invalid_selector_is_a_value_error():
    with pytest.raises(ValueError, match="invalid CSS selector"):
        normalize_html("<p>x</p>", selector="p[")


def test_selector_narrows_the_links_too():
    html = '<a href="/out">out</a><div id="c"><a href="/in">in</a></div>'
    assert normalize_html(html, selector="#c", base_url="https://x.gov/").links == ("https://x.gov/in",)


@pytest.mark.parametrize(
    "html, title",
    [
        ("<title>\n  Rule   title\n</title><h1>Heading</h1>", "Rule title"),
        ("<body><svg><title>icon</title></svg><h1>Heading <em>one</em></h1></body>", "Heading one"),
        ("<p>No title at all</p>", ""),
        # A generic <title> gives way to the page's own <h1>.
        (
            "<title>Press release | Bureau of Industry and Security</title><h1>Commerce Restricts Exports</h1>",
            "Commerce Restricts Exports",
        ),
        (
            "<title>Bureau of Industry and Security - News &amp; Updates</title><h1>BIS Updates Guidance</h1>",
            "BIS Updates Guidance",
        ),
        ("<title>Untitled Document</title><h1>Entity List FAQ</h1>", "Entity List FAQ"),
        (
            '<head><title>Bureau of Industry and Security</title><meta property="og:site_name" '
            'content="Bureau of Industry and Security"></head><body><h1>Entity List</h1></body>',
            "Entity List",
        ),
        # A title that names the page stays, even beside another <h1>.
        (
            "<title>Entity List | Bureau of Industry and Security</title><h1>Entity List</h1>",
            "Entity List | Bureau of Industry and Security",
        ),
        ("<title>Guidance on GP10 | BIS</title><h1>Frequently asked questions</h1>", "Guidance on GP10 | BIS"),
        (
            "<title>Guidance: Exports of Advanced Chips</title><h1>Questions and answers</h1>",
            "Guidance: Exports of Advanced Chips",
        ),
        ("<title>Bureau of Industry and Security</title><h1>Entity List</h1>", "Bureau of Industry and Security"),
        # Without an <h1>, even a generic title is the best there is.
        (
            "<title>Press release | Bureau of Industry and Security</title><p>Text</p>",
            "Press release | Bureau of Industry and Security",
        ),
    ],
)
def test_title(html, title):
    assert normalize_html(html).title == title


# --- folding, volatile ------------------------------------------------------


def test_fold_collapses_every_whitespace_character_the_pattern_knows():
    """fold splits on str.isspace's characters: the very ones `\\s` matches in a str pattern."""
    every = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code < 0xE000]
    assert {c for c in every if c.isspace()} == {c for c in every if re.fullmatch(r"\s", c)}
    assert fold(" a\u2003\u00a0\n\u3000b\x1c\x85c ") == "a b c"


def test_fold_is_idempotent_and_keeps_legal_signs():
    folded = fold("\u00a7\u2009744.23 \u00b6\u00a02 \u2018a\u2019 \u201cb\u201d x\u2014y \u2212 1")
    assert folded == "\u00a7 744.23 \u00b6 2 'a' \"b\" x-y - 1"
    assert fold(folded) == folded


@pytest.mark.parametrize(
    "line",
    [
        "Last updated: May 20, 2025",
        "Last Modified 05/20/2025",
        "Page last reviewed: 2025-05-20",
        "This page was last updated on Tuesday, May 20, 2025",
        "Updated: May 20, 2025",
        "Page views: 1,234",
        "Visitors: 99",
        "You are visitor number 12345",
        "4,521 page views",
        "Generated on 2025-05-20 at 10:31",
        "Retrieved from https://www.bis.gov/news-updates",
        "Copyright 2024\u20132025 Example Press",
        "\u00a9 2025 Bureau of Industry and Security",
        "May 13, 2025",
        "13 May 2025",
        "2025-05-20T12:00:00Z",
        "Tuesday, May 20, 2025 at 3:15 p.m. EDT",
        "eCFR content is up to date as of 5/20/2025",
    ],
)
def test_volatile_lines(line):
    (block,) = normalize_text(line).blocks
    assert block.volatile, line


@pytest.mark.parametrize(
    "line",
    [
        "This rule is effective May 13, 2025.",
        "(a) Effective date. The requirements of this section apply on May 13, 2025.",
        "Comments must be received by June 16, 2025.",
        "Updated guidance on General Prohibition 10",
        "Last, the updated list applies to 3A090 items.",
        "Retrieved items must be reported to BIS.",
        "Copyright protection is not available for works of the U.S. Government.",
        "Last updated: " + "x" * 200,
        "Views of commenters on 4A090",
        "The list is current as of the effective date of this rule.",
    ],
)
def test_not_volatile(line):
    assert not any(block.volatile for block in normalize_text(line).blocks), line


# --- determinism, hashing, robustness ---------------------------------------


def test_same_input_same_output():
    html = (FILES / "bis_press_release.html").read_text(encoding="utf-8")
    first, second = normalize_html(html), normalize_html(html)
    assert first == second
    assert content_hash(first) == content_hash(second)


def test_content_hash_ignores_markup_but_sees_text_and_links():
    base = content_hash(normalize_html("<main><p>Rule <b>text</b>.</p></main>"))
    assert content_hash(normalize_html("<body><nav>x</nav><main>\n<p>Rule   text.</p></main></body>")) == base
    assert content_hash(normalize_html("<main><p>Rule texts.</p></main>")) != base
    assert content_hash(normalize_html('<main><p>Rule <a href="http://x.gov/a.pdf">text</a>.</p></main>')) != base
    assert len(base) == 64


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<",
        "<<<>>>",
        "<html><body><p>unclosed <b>bold <i>italic <div>block",
        "</p></div></body>text after close",
        "<table><tr><td>cell<tr><td>next",
        "<div>" * 500 + "deep",
        "<table><tr><td>" * 100 + "nested tables",
        "\x00\x01\ufffd\ufffd binary junk \x7f\x80",
        "<p>\ud7ff\ue000 private use</p>",
        "<!DOCTYPE x><![CDATA[cdata]]><?pi x?><p>after</p>",
    ],
)
def test_broken_html_does_not_raise(html):
    assert isinstance(normalize_html(html), Content)


def test_deep_nesting_keeps_text():
    assert texts(normalize_html("<div>" * 500 + "deep")) == ["deep"]


def _only_counting(parser_class):
    """lxml's HTMLParser for event targets only: building a tree fails the test."""

    def make(*args, **kwargs):
        assert kwargs.get("target") is not None, "a tree was built for a page that should have been refused first"
        return parser_class(*args, **kwargs)

    return make


@pytest.mark.parametrize(
    "html, reason",
    [
        ("<div>" * 20_000 + "deep", "nested deeper than 512 levels; not read"),
        ("<b><i>" * 300 + "deep", "nested deeper than 512 levels; not read"),
        ("<table><tr><td>" * 300 + "nested tables", "nested deeper than 512 levels; not read"),
        ("<body>" + "<p>x</p>" * 200_001, "more than 200,000 elements; not read"),
        ("<p " + " ".join(f"a{i}=x" for i in range(1_001)) + ">x</p>", "more than 1,000 attributes; not read"),
    ],
    ids=["20,000 divs", "inline nesting", "nested tables", "200,001 siblings", "1,001 attributes"],
)
def test_pages_past_the_caps_are_refused_before_any_tree_is_built(monkeypatch, html, reason):
    monkeypatch.setattr(etree, "HTMLParser", _only_counting(etree.HTMLParser))
    with pytest.raises(UnreadableDocument, match=reason):
        normalize_html(html)


def test_a_page_at_the_caps_is_read():
    deep = "<div>" * (reading_html.MAX_DEPTH - 3) + "deep"  # html and body are levels too
    assert texts(normalize_html(deep)) == ["deep"]
    wide = "<body>" + "<p>x</p>" * (reading_html.MAX_ELEMENTS - 3)
    assert len(normalize_html(wide).blocks) == reading_html.MAX_ELEMENTS - 3


def test_huge_attributes_and_many_attributes_are_read():
    huge = '<p class="' + "a" * 1_000_000 + '" data-x="' + "b" * 500_000 + '">kept</p>'
    assert texts(normalize_html(huge)) == ["kept"]
    many = "<p " + " ".join(f"a{i}=x" for i in range(1_000)) + ">kept</p>"
    assert texts(normalize_html(many)) == ["kept"]


def test_chrome_among_many_siblings_is_dropped_without_touching_the_rest():
    html = "<body>" + "<script>x()</script><p>kept</p>" * 20_000
    content = normalize_html(html)
    assert texts(content) == ["kept"] * 20_000


def test_nested_boilerplate_is_dropped_whole():
    html = "<body><p>Rule.</p>" + "<div class='share'>" * 400 + "Share this" + "</div>" * 400 + "<p>End.</p>"
    assert texts(normalize_html(html)) == ["Rule.", "End."]


HTML_BITS = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<b>",
            "</b>",
            "<br>",
            "<li>",
            "<table><tr><td>",
            "</td><td>",
            "<h2>",
            "</h2>",
            "<nav>",
            "<script>",
            "<!--",
            "-->",
            "<a href='/x#y'>",
            "</a>",
            "(a) ",
            "(1) ",
            "(i) ",
            "§ 744.23 ",
            "Last updated May 1, 2025",
            "text",
            " ",
            "\n",
            "\u00a0",
            "\u2019",
            "&amp;",
            "<",
        ]
    )
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), HTML_BITS))
def test_normalize_html_never_raises_and_is_deterministic(html):
    first = normalize_html(html, base_url="https://example.gov/")
    assert first == normalize_html(html, base_url="https://example.gov/")
    for block in first.blocks:
        assert block.text and block.text == block.text.strip()


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_text_never_raises_and_folds(text):
    for block in normalize_text(text).blocks:
        assert block.text == fold(block.text) != ""


# --- plain text ---------------------------------------------------------------


def test_text_paragraphs_split_on_blank_lines():
    text = "\u00a7 744.23 End use.\r\n\r\n(a) First line\nwraps here.\n\n\n(1) Numbered."
    content = normalize_text(text, title="  Part 744 ")
    assert content.title == "Part 744"
    assert [(b.text, b.section) for b in content.blocks] == [
        ("\u00a7 744.23 End use.", "\u00a7 744.23"),
        ("(a) First line wraps here.", "\u00a7 744.23(a)"),
        ("(1) Numbered.", "\u00a7 744.23(a)(1)"),
    ]


def test_text_without_blank_lines_is_one_block_per_line():
    assert texts(normalize_text("one\ntwo\n  three")) == ["one", "two", "three"]


def test_text_whitespace_only_line_counts_as_blank():
    assert texts(normalize_text("one\ntwo\n\u00a0\nthree")) == ["one two", "three"]


# --- decode -------------------------------------------------------------------

LATIN1_PAGE = (
    "<p>Le r\u00e8glement s'applique \u00e0 l'exportation des circuits int\u00e9gr\u00e9s. "
    "Les entreprises fran\u00e7aises doivent v\u00e9rifier la cha\u00eene d'approvisionnement.</p>"
).encode("latin-1")


def test_decode_declared_charset():
    assert decode("caf\u00e9".encode("utf-8"), "utf-8") == "caf\u00e9"
    assert decode("caf\u00e9".encode("latin-1"), '"ISO-8859-1"') == "caf\u00e9"


def test_decode_wrong_declared_charset_falls_back_to_detection():
    text = decode(LATIN1_PAGE, "utf-8")
    assert "r\u00e8glement" in text and "fran\u00e7aises" in text


def test_decode_unknown_charset_does_not_raise():
    assert decode(b"plain ascii", "x-no-such-charset") == "plain ascii"
    assert decode(b"plain ascii", "base64") == "plain ascii"


def test_decode_meta_charset():
    body = (
        '<html><head><meta charset="windows-1251"></head><body>\u041f\u0440\u0430\u0432\u0438\u043b\u043e</body></html>'
    )
    assert "\u041f\u0440\u0430\u0432\u0438\u043b\u043e" in decode(body.encode("cp1251"), None)
    http_equiv = b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15"><p>\xa4</p>'
    assert "\u20ac" in decode(http_equiv, None)


def test_decode_windows_1252_smart_quotes():
    body = b"\x93Knowledge\x94 isn\x92t \x96 defined"
    assert decode(body, "windows-1252") == "\u201cKnowledge\u201d isn\u2019t \u2013 defined"
    # Browsers read a latin-1 label as windows-1252, and so do we.
    assert decode(body, "iso-8859-1") == "\u201cKnowledge\u201d isn\u2019t \u2013 defined"
    assert fold(decode(body, "windows-1252")) == '"Knowledge" isn\'t - defined'


def test_decode_strips_bom():
    assert decode(b"\xef\xbb\xbfhello", "utf-8") == "hello"
    assert decode(b"\xef\xbb\xbfhello", None) == "hello"
    assert decode("\ufeffhello".encode("utf-16-le"), None) == "hello"


def test_decode_invalid_utf8_is_replaced():
    body = b"\xff\xfe\xfd\x00\x80 not text \xc3\x28"
    assert isinstance(decode(body, "utf-8"), str)
    assert decode(b"ok \xc3\x28", "utf-8").startswith("ok")


UTF8_PAGE = (
    "<p>You must not export it; see \u00a7 744.23. It isn\u2019t a \u201csupercomputer\u201d.</p>"
    "<p>Fees: 5\u00a0% \u2013 10\u00a0%.</p>"
)


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", None])
@pytest.mark.parametrize("at", [3, UTF8_PAGE.encode().index(b"\xc2\xa7") + 1, len(UTF8_PAGE.encode()) - 1])
def test_one_invalid_byte_is_replaced_where_it_is_and_nowhere_else(charset, at):
    good = UTF8_PAGE.encode()
    text = decode(good[:at] + b"\xff" + good[at:], charset)
    assert text.replace("\ufffd", "") in (UTF8_PAGE, UTF8_PAGE.replace("\u00a7", ""))
    assert 1 <= text.count("\ufffd") <= 3  # more than one where it broke a character's bytes


def test_a_windows_1252_page_declared_utf8_is_detected_when_none_of_its_characters_decode():
    assert decode("<p>It isn\u2019t a \u201cdrill\u201d.</p>".encode("cp1252"), "utf-8") == (
        "<p>It isn\u2019t a \u201cdrill\u201d.</p>"
    )


def test_a_burst_of_bad_bytes_in_a_utf8_page_stays_utf8():
    good = UTF8_PAGE.encode()
    text = decode(good[:10] + bytes(range(0x80, 0x90)) + good[10:], "utf-8")
    assert text.replace("\ufffd", "") == UTF8_PAGE


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "utf-16be", "utf-32"])
def test_a_utf16_header_on_8_bit_bytes_is_not_believed(charset):
    assert decode(UTF8_PAGE.encode(), charset) == UTF8_PAGE
    assert decode(b"<p>plain ascii</p>", charset) == "<p>plain ascii</p>"


def test_utf16_bytes_under_an_8_bit_header_are_detected():
    body = ("<html><body>" + UTF8_PAGE * 4 + "</body></html>").encode("utf-16-le")
    assert decode(body, "utf-8") == "<html><body>" + UTF8_PAGE * 4 + "</body></html>"


def test_windows_1252_unassigned_bytes_read_as_their_c1_controls():
    assert decode(b"a\x81b\x93c\x94", "windows-1252") == "a\x81b\u201cc\u201d"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "latin-1", "ascii", "utf-16", "bogus", ""]))
def test_decode_never_raises(body, charset):
    assert isinstance(decode(body, charset), str)


# --- PDF ----------------------------------------------------------------------


def test_pdf_sample():
    content = normalize_pdf((FILES / "sample.pdf").read_bytes())
    assert content.title == "Guidance on General Prohibition 10 and PRC Advanced-Computing ICs"
    assert [(b.text, b.label, b.section) for b in content.blocks] == [
        ("GUIDANCE ON GENERAL PROHIBITION 10", "", ""),
        (
            "The Bureau of Industry and Security (BIS) is issuing this guidance to inform the public "
            "about the application of the Export Administration Regulations to certain advanced "
            "computing integrated circuits (ICs).",
            "",
            "",
        ),
        ("(a) Scope. This guidance applies to the Huawei Ascend 910B, 910C and 910D.", "(a)", "(a)"),
        ("(1) Exporters must perform due diligence before any transfer.", "(1)", "(a)(1)"),
    ]


def test_pdf_title_falls_back_to_the_first_line():
    # The trailer follows the xref table, so dropping /Info moves no object offset.
    body = (FILES / "sample.pdf").read_bytes().replace(b" /Info 6 0 R", b"")
    assert normalize_pdf(body).title == "GUIDANCE ON GENERAL PROHIBITION 10"


def pdf_titled(title: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=FILES / "sample.pdf")
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "placeholder",
    [
        "Microsoft Word - x.doc",
        "Microsoft Word - GP10 guidance final v3",
        "untitled",
        "Untitled",
        "Title",
        "Document1",
        "gp10-guidance-may-2025.docx",
        "GP10 guidance.pdf",
        "   ",
        "C:\\Users\\jdoe\\Desktop\\gp10.rtf",
    ],
)
def test_pdf_placeholder_title_gives_way_to_the_first_line(placeholder):
    assert normalize_pdf(pdf_titled(placeholder)).title == "GUIDANCE ON GENERAL PROHIBITION 10"


def test_pdf_real_title_is_kept():
    assert normalize_pdf(pdf_titled("Guidance on GP10")).title == "Guidance on GP10"


def test_pdf_wrapped_lines_join_and_hyphenated_words_rejoin():
    page = "\n".join(
        [
            "Exporters shall apply for a license under the regu-",
            "lations before any export of the items on the Entity-",
            "List, or of items that are classified under ECCN 3A090-",
            "a. Short line ends it.",
            "",
            "(b) A second paragraph.",
        ]
    )
    assert reading_text._pdf_paragraphs(page) == [
        "Exporters shall apply for a license under the regulations before any export of the items on the "
        "Entity- List, or of items that are classified under ECCN 3A090- a. Short line ends it.",
        "(b) A second paragraph.",
    ]


def test_one_huge_pdf_paragraph_is_joined_in_linear_time():
    # 40,000 wrapped lines of one paragraph (2.8 MB): rebuilding and re-scanning the paragraph
    # at every line took hours; joined once it is well under a second. The timeout is generous.
    script = (
        "from tracker.reading.text import _pdf_paragraphs\n"
        "line = 'the exporter shall apply for a license before any regu-'\n"
        "page = '\\n'.join(line if n % 2 else line.replace('regu-', 'lations and so') for n in range(40_000))\n"
        "[paragraph] = _pdf_paragraphs(page)\n"
        "print(len(paragraph))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(reading_text.__file__).parent.parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 2_000_000


@pytest.mark.parametrize("body", [b"", b"not a pdf at all", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog"])
def test_pdf_corrupt_raises_unreadable(body):
    with pytest.raises(UnreadableDocument, match="PDF could not be parsed"):
        normalize_pdf(body)

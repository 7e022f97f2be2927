"""Severity rules: each case is a before/after pair run through the real diff."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT_ROOT
from tracker.reading.content import Block, Content
from tracker.reading.decode import decode
from tracker.reading.html import normalize_html
from tracker.redline.compute import diff_contents
from tracker.redline.model import Hunk, Op, Redline
from tracker.severity import rules as severity
from tracker.severity.model import Assessment
from tracker.severity.rules import MAX_LINK_REASONS, MAX_REASONS, assess, assess_links

SECTION = "§ 744.23(a)(2)"
HUAWEI = "using Huawei Ascend chips anywhere in the world violates U.S. export controls"


def block(text: str, section: str = SECTION, **kw) -> Block:
    # A label makes the diff pair a rewritten paragraph with its old self, as it
    # does for real labeled paragraphs, rather than call it deleted + inserted.
    kw.setdefault("label", f"({section[-2]})" if section.endswith(")") else "")
    return Block(text=text, section=section, **kw)


def content(paragraphs, title: str = "Restrictions on certain advanced computing items") -> Content:
    """A Content from a str, a Block, or a list of either; a Content passes through."""
    if isinstance(paragraphs, Content):
        return paragraphs
    if isinstance(paragraphs, (str, Block)):
        paragraphs = [paragraphs]
    return Content(title=title, blocks=tuple(p if isinstance(p, Block) else block(p) for p in paragraphs))


def redline(old, new) -> Redline:
    return diff_contents(content(old), content(new))


def judge(old, new) -> Assessment:
    return assess(redline(old, new))


# name, old paragraph(s), new paragraph(s), expected severity, expected reason substring
CASES = [
    # modal verbs and negation
    (
        "negation added",
        "Exporters shall file a report.",
        "Exporters shall not file a report.",
        "substantive",
        "negation added in § 744.23(a)(2)",
    ),
    (
        "negation removed",
        "Exporters shall not file a report.",
        "Exporters shall file a report.",
        "substantive",
        "negation removed in § 744.23(a)(2)",
    ),
    (
        "no longer",
        "BIS requires a license for these items.",
        "BIS no longer requires a license for these items.",
        "substantive",
        "negation added",
    ),
    (
        "cannot",
        "The exporter may ship the items.",
        "The exporter cannot ship the items.",
        "substantive",
        "negation added",
    ),
    (
        "negation changed",
        "Exporters shall not ship.",
        "Exporters shall never ship.",
        "substantive",
        "negation changed: 'not' → 'never'",
    ),
    (
        "modal may to must",
        "Exporters may file a report.",
        "Exporters must file a report.",
        "substantive",
        "modal verb changed: 'may' → 'must' in § 744.23(a)(2)",
    ),
    (
        "modal shall to may",
        "The applicant shall notify BIS.",
        "The applicant may notify BIS.",
        "substantive",
        "modal verb changed: 'shall' → 'may'",
    ),
    (
        "modal added",
        "Exporters file a report.",
        "Exporters must file a report.",
        "substantive",
        "modal verb added: 'must'",
    ),
    (
        "modal removed",
        "A license is required for export.",
        "A license is needed for export.",
        "substantive",
        "modal verb removed: 'required'",
    ),
    # numbers and dates
    (
        "exponent",
        "more than 10^26 operations",
        "more than 10^25 operations",
        "substantive",
        "number changed: 10^26 → 10^25 in § 744.23(a)(2)",
    ),
    (
        "percent",
        "no more than 25% of the value",
        "no more than 50% of the value",
        "substantive",
        "number changed: 25% → 50%",
    ),
    (
        "money",
        "transactions above $5 million",
        "transactions above $50 million",
        "substantive",
        "number changed: $5 million → $50 million",
    ),
    (
        "thousands separator",
        "up to 1,000 units per year",
        "up to 1.000 units per year",
        "substantive",
        "number changed: 1,000 → 1.000",
    ),
    (
        "number word",
        "within thirty days of shipment",
        "within sixty days of shipment",
        "substantive",
        "number changed: thirty → sixty",
    ),
    (
        "date",
        "effective May 13, 2025.",
        "effective May 20, 2025.",
        "substantive",
        "date changed: May 13, 2025 → May 20, 2025",
    ),
    (
        "iso date",
        "published 2025-05-13 in the register",
        "published 2025-05-20 in the register",
        "substantive",
        "date changed: 2025-05-13 → 2025-05-20",
    ),
    (
        "month only",
        "In May, BIS issued guidance.",
        "In June, BIS issued guidance.",
        "substantive",
        "date changed: May → June",
    ),
    # ECCNs and citations
    (
        "eccn",
        "items classified under ECCN 3A090 or 4A090",
        "items classified under ECCN 4A090 or 4A090",
        "substantive",
        "ECCN changed: 3A090 → 4A090",
    ),
    (
        "eccn subparagraph",
        "items in 5A992.c are excluded",
        "items in 5A992.a are excluded",
        "substantive",
        "ECCN changed: 5A992.c → 5A992.a",
    ),
    (
        "cfr paragraph",
        "as described in § 744.23(a)(2) of the EAR",
        "as described in § 744.23(a)(3) of the EAR",
        "substantive",
        "citation changed: § 744.23(a)(2) → § 744.23(a)(3)",
    ),
    (
        "cfr reference",
        "General Prohibition 10 (15 CFR 736.2(b)(10)) applies",
        "General Prohibition 10 (15 CFR 736.2(b)(9)) applies",
        "substantive",
        "citation changed: 15 CFR 736.2(b)(10) → 15 CFR 736.2(b)(9)",
    ),
    (
        "part",
        "the requirements of part 744 apply",
        "the requirements of part 746 apply",
        "substantive",
        "citation changed: part 744 → part 746",
    ),
    (
        "fr cite",
        "published at 90 FR 4544 on January 15, 2025",
        "published at 90 FR 4545 on January 15, 2025",
        "substantive",
        "citation changed: 90 FR 4544 → 90 FR 4545",
    ),
    (
        "rin",
        "under RIN 0694-AJ90 as planned",
        "under RIN 0694-AJ91 as planned",
        "substantive",
        "citation changed: 0694-AJ90 → 0694-AJ91",
    ),
    (
        "fr document number",
        "rescinds FR Doc. 2025-00636 in full",
        "rescinds FR Doc. 2025-00637 in full",
        "substantive",
        "citation changed: 2025-00636 → 2025-00637",
    ),
    (
        "number sign is no negation",
        "see Supplement No. 4 to part 744",
        "see Supplement No. 5 to part 744",
        "substantive",
        "citation changed: Supplement No. 4 → Supplement No. 5",
    ),
    (
        "punctuation next to a number",
        "effective in 2025. Exporters",
        "effective in 2025; Exporters",
        "substantive",
        "punctuation changed next to a number",
    ),
    # other wording
    (
        "word replaced",
        "the export of such items",
        "the import of such items",
        "substantive",
        "wording changed in § 744.23(a)(2): 'export' → 'import'",
    ),
    ("prefix is not a typo", "a lawful transaction", "an unlawful transaction", "substantive", "'lawful' → 'unlawful'"),
    ("and to or", "exporters and reexporters", "exporters or reexporters", "substantive", "wording changed"),
    # sentences and paragraphs
    (
        "sentence added",
        "BIS issued guidance. It applies now.",
        "BIS issued guidance. It applies now. Violations carry penalties.",
        "substantive",
        "sentence added in § 744.23(a)(2): 'Violations carry penalties.'",
    ),
    (
        "huawei sentence removed",
        f"BIS issued guidance on General Prohibition 10. It states that {HUAWEI}. Companies should act.",
        "BIS issued guidance on General Prohibition 10. Companies should act.",
        "substantive",
        "sentence removed in § 744.23(a)(2): 'It states that using Huawei Ascend",
    ),
    (
        "huawei words removed",
        f"BIS issued guidance stating that {HUAWEI}.",
        "BIS issued guidance.",
        "substantive",
        "using Huawei Ascend chips",
    ),
    (
        "paragraph added",
        [block("(a) First.", "§ 744.23(a)")],
        [block("(a) First.", "§ 744.23(a)"), block("(b) Exporters must keep records.", "§ 744.23(b)")],
        "substantive",
        "paragraph added in § 744.23(b): '(b) Exporters must keep records.'",
    ),
    (
        "paragraph removed",
        [block("(a) First.", "§ 744.23(a)"), block("(b) Second rule text.", "§ 744.23(b)")],
        [block("(a) First.", "§ 744.23(a)")],
        "substantive",
        "paragraph removed in § 744.23(b)",
    ),
    (
        "paragraph moved to another section",
        [
            block("(1) Exporters must keep records of each export for five years.", "§ 744.23(a)(1)"),
            block("(b) License applications are reviewed case by case.", "§ 744.23(b)"),
            block("(1) Applications go to BIS.", "§ 744.23(b)(1)"),
        ],
        [
            block("(b) License applications are reviewed case by case.", "§ 744.23(b)"),
            block("(1) Applications go to BIS.", "§ 744.23(b)(1)"),
            block("(2) Exporters must keep records of each export for five years.", "§ 744.23(b)(2)"),
        ],
        "substantive",
        "paragraph moved from § 744.23(a)(1) to § 744.23(b)(2)",
    ),
    (
        "title changed",
        content("Same text.", title="Guidance on GP10"),
        content("Same text.", title="Policy statement"),
        "substantive",
        "title changed: 'Guidance on GP10' → 'Policy statement'",
    ),
    # minor
    (
        "spelling",
        "you will recieve a license",
        "you will receive a license",
        "minor",
        "spelling: 'recieve' → 'receive' in § 744.23(a)(2)",
    ),
    (
        "spelling 2",
        "the goverment of a country",
        "the government of a country",
        "minor",
        "spelling: 'goverment' → 'government'",
    ),
    (
        "punctuation",
        "BIS strengthens export controls.",
        "BIS strengthens export controls;",
        "minor",
        "punctuation changed in § 744.23(a)(2)",
    ),
    ("comma", "BIS, however, acts now.", "BIS however acts now.", "minor", "punctuation changed"),
    (
        "sentences joined",
        "BIS strengthens export controls. Exporters must comply.",
        "BIS strengthens export controls; exporters must comply.",
        "minor",
        "punctuation changed in § 744.23(a)(2)",
    ),
    ("case", "parties on the Entity List", "parties on the entity list", "minor", "case changed in § 744.23(a)(2)"),
    (
        "paragraph reordered in its section",
        [block("Exporters must keep records.", "§ 744.23(c)"), block("Records go to BIS.", "§ 744.23(c)")],
        [block("Records go to BIS.", "§ 744.23(c)"), block("Exporters must keep records.", "§ 744.23(c)")],
        "minor",
        "paragraph reordered in § 744.23(c)",
    ),
    (
        "punctuation next to a modal",
        "Exporters may, with a license, ship.",
        "Exporters may with a license, ship.",
        "substantive",
        "punctuation changed next to 'may'",
    ),
    # cosmetic
    (
        "volatile",
        block("Last updated May 13, 2025", volatile=True),
        block("Last updated May 20, 2025", volatile=True),
        "cosmetic",
        "only volatile text changed: 'Last updated May 13, 2025' → 'Last updated May 20, 2025'",
    ),
    (
        "volatile added",
        ["Body."],
        ["Body.", block("Page views: 1,024", "", volatile=True)],
        "cosmetic",
        "volatile text added",
    ),
    ("nothing changed", "Same text.", "Same text.", "cosmetic", "no visible text changed"),
]


@pytest.mark.parametrize("name, old, new, severity, reason", CASES, ids=[c[0] for c in CASES])
def test_case(name, old, new, severity, reason):
    result = judge(old, new)
    assert result.severity == severity, result.reasons
    assert any(reason in r for r in result.reasons), result.reasons


# --- hand-built redlines, for hunks the diff may not produce ---------------------------


def hand(*hunks: Hunk, old_title: str = "T", new_title: str = "T") -> Assessment:
    return assess(Redline(old_title, new_title, tuple(hunks)))


def test_whitespace_only_is_cosmetic():
    result = hand(Hunk("changed", block("export  controls\tapply"), block("export controls apply")))
    assert result == Assessment("cosmetic", ("whitespace changed in § 744.23(a)(2)",))


def test_whitespace_only_title_is_cosmetic():
    assert hand(old_title="Rule  title", new_title="Rule title").severity == "cosmetic"


def test_move_within_section_is_minor():
    para = block("(i) Text of the item.", "§ 744.23(a)")
    result = hand(Hunk("moved", para, para))
    assert result == Assessment("minor", ("paragraph reordered in § 744.23(a)",))


def test_move_between_sections_is_substantive():
    result = hand(Hunk("moved", block("(i) Text.", "§ 744.23(a)"), block("(i) Text.", "§ 744.23(b)")))
    assert result == Assessment("substantive", ("paragraph moved from § 744.23(a) to § 744.23(b)",))


def test_moved_and_edited_reports_both():
    result = hand(Hunk("moved", block("Exporters may ship.", "§ 1"), block("Exporters must ship.", "§ 1")))
    assert result.severity == "substantive"
    assert result.reasons == ("modal verb changed: 'may' → 'must' in § 1", "paragraph reordered in § 1")


def test_ops_cut_inside_words_or_not_matching_the_text():
    old, new = block("you will recieve it", ""), block("you will receive it", "")
    expected = Assessment("minor", ("spelling: 'recieve' → 'receive'",))
    inside = (Op("equal", "you will rec"), Op("delete", "ie"), Op("insert", "ei"), Op("equal", "ve it"))
    assert hand(Hunk("changed", old, new, inside)) == expected
    stale = (Op("delete", "something else"),)  # not a diff of these texts: ignored
    assert hand(Hunk("changed", old, new, stale)) == expected


def test_no_section_omits_in():
    result = hand(Hunk("changed", block("shall file", ""), block("shall not file", "")))
    assert result.reasons == ("negation added",)


def test_first_version():
    rl = diff_contents(None, content(["(a) First.", "(b) Second."]))
    assert assess(rl) == Assessment("substantive", ("first version",))


def test_substantive_reasons_come_first_and_duplicates_go():
    result = judge(
        ["you will recieve it", "you will recieve it", "up to 10 units"],
        ["you will receive it", "you will receive it", "up to 20 units"],
    )
    assert result.severity == "substantive"
    assert result.reasons == (
        f"number changed: 10 → 20 in {SECTION}",
        f"spelling: 'recieve' → 'receive' in {SECTION}",
    )


def test_reasons_are_capped():
    hunks = [
        Hunk("changed", block(f"up to {i} units", f"§ {i}"), block(f"up to {i + 1000} units", f"§ {i}"))
        for i in range(30)
    ]
    result = hand(*hunks)
    assert len(result.reasons) == MAX_REASONS + 1
    assert result.reasons[-1] == f"and {30 - MAX_REASONS} more"


def test_broken_hunks_do_not_raise():
    result = hand(Hunk("changed", None, None), Hunk("moved", None, block("x")), Hunk("inserted", None, None))
    assert result.severity in ("cosmetic", "minor", "substantive")


# --- never raises -------------------------------------------------------------------------

# Text made of pieces the rules look for, so the examples reach the interesting branches.
_pieces = [
    *list("abcdeAM §.,;()0123456789-^$%\n\t'’"),
    "may ",
    "not ",
    "shall ",
    "can't ",
    "May 13, 2025",
    "3A090",
    "10^26",
    "§ 744.23(a)",
    "No. 4",
    "recieve ",
]
_texts = st.lists(st.sampled_from(_pieces), max_size=20).map("".join) | st.text(max_size=20)
_blocks = st.builds(
    Block,
    text=_texts,
    kind=st.sampled_from(["title", "heading", "paragraph", "item"]),
    section=st.sampled_from(["", "§ 744.23", "§ 744.23(a)(2)"]),
    volatile=st.booleans(),
)
_ops = st.builds(Op, op=st.sampled_from(["equal", "insert", "delete"]), text=_texts)
_hunks = st.builds(
    Hunk,
    kind=st.sampled_from(["equal", "changed", "inserted", "deleted", "moved"]),
    old=st.none() | _blocks,
    new=st.none() | _blocks,
    ops=st.tuples(_ops, _ops, _ops),
)
_redlines = st.builds(Redline, old_title=_texts, new_title=_texts, hunks=st.lists(_hunks, max_size=5).map(tuple))


def _valid(result: Assessment) -> bool:
    return (
        result.severity in ("cosmetic", "minor", "substantive")
        and isinstance(result.reasons, tuple)
        and result.reasons
        and all(isinstance(r, str) and r for r in result.reasons)
    )


@settings(max_examples=300, deadline=None)
@given(_redlines)
def test_hand_built_redlines_never_raise(rl):
    # Call the inner judge too: the safety net in assess() must not hide a crash.
    severity._judge(rl)
    assert _valid(assess(rl))


@settings(max_examples=200, deadline=None)
@given(st.lists(_texts, max_size=4), st.lists(_texts, max_size=4))
def test_diffed_texts_never_raise(old, new):
    rl = diff_contents(content(old), content(new))
    severity._judge(rl)
    assert _valid(assess(rl))


@settings(max_examples=200, deadline=None)
@given(st.lists(_texts, max_size=4))
def test_same_or_respaced_text_is_cosmetic(paragraphs):
    assert judge(paragraphs, paragraphs) == Assessment("cosmetic", ("no visible text changed",))
    respaced = [p.replace(" ", "  ") for p in paragraphs]
    assert judge(paragraphs, respaced).severity == "cosmetic"


# --- links ---------------------------------------------------------------------------------

BIS = "https://www.bis.gov"
GP10_PDF = f"{BIS}/media/documents/general-prohibition-10-guidance-may-13-2025.pdf"
POLICY = f"{BIS}/media/documents/ai-policy-statement-training-ai-models-may-13-2025"
OLD_SITE_PDF = f"{BIS}/sites/default/files/documents/faq.pdf"
WORD_FILE = "https://example.gov/forms/application.DOCX"
LISTING = f"{BIS}/news-updates"

# name, old links, new links, expected findings
LINK_CASES = [
    ("same links", [LISTING, GP10_PDF], [LISTING, GP10_PDF], []),
    ("same links reordered", [LISTING, GP10_PDF], [GP10_PDF, LISTING], []),
    ("nothing to nothing", [], [], []),
    ("pdf added", [LISTING], [LISTING, GP10_PDF], [("substantive", f"linked document added: {GP10_PDF}")]),
    ("pdf removed", [GP10_PDF], [], [("substantive", f"linked document removed: {GP10_PDF}")]),
    ("media document without extension", [], [POLICY], [("substantive", f"linked document added: {POLICY}")]),
    ("old site files folder", [], [OLD_SITE_PDF], [("substantive", f"linked document added: {OLD_SITE_PDF}")]),
    ("word file, any case", [], [WORD_FILE], [("substantive", f"linked document added: {WORD_FILE}")]),
    ("pdf with a query", [], [GP10_PDF + "?v=2"], [("substantive", f"linked document added: {GP10_PDF}?v=2")]),
    ("page link added", [], [LISTING], [("minor", f"link added: {LISTING}")]),
    ("page link removed", [LISTING], [], [("minor", f"link removed: {LISTING}")]),
    (
        "pdf in the query only is a page",
        [],
        [f"{BIS}/search?q=guidance.pdf"],
        [("minor", f"link added: {BIS}/search?q=guidance.pdf")],
    ),
    (
        "documents first, then document order",
        [LISTING, f"{BIS}/old"],
        [LISTING, f"{BIS}/a", GP10_PDF],
        [
            ("substantive", f"linked document added: {GP10_PDF}"),
            ("minor", f"link added: {BIS}/a"),
            ("minor", f"link removed: {BIS}/old"),
        ],
    ),
    ("duplicates count once", [], [GP10_PDF, GP10_PDF], [("substantive", f"linked document added: {GP10_PDF}")]),
]


@pytest.mark.parametrize("name, old, new, expected", LINK_CASES, ids=[c[0] for c in LINK_CASES])
def test_link_rules(name, old, new, expected):
    assert assess_links(old, new) == expected


def test_links_accept_tuples_and_none():
    assert assess_links(None, (GP10_PDF,)) == [("substantive", f"linked document added: {GP10_PDF}")]
    assert assess_links((LISTING,), None) == [("minor", f"link removed: {LISTING}")]


def test_link_reasons_are_capped_and_the_worst_kept():
    pages = [f"{BIS}/page-{i}" for i in range(20)]
    findings = assess_links([], [*pages, GP10_PDF])
    assert len(findings) == MAX_LINK_REASONS + 1
    assert findings[0] == ("substantive", f"linked document added: {GP10_PDF}")
    assert findings[-1] == ("minor", f"and {21 - MAX_LINK_REASONS} more links changed")


# --- changes that only come from decoding ------------------------------------------------

BAD = "\ufffd"

PAGE = (
    "<html><head><meta charset='utf-8'><title>\u00a7 744.23 Supercomputer end use</title></head><body><main>"
    "<h2>\u00a7 744.23 Supercomputer end use.</h2>"
    "<p>(a) General. You must not export an item subject to the EAR when you know it isn\u2019t for a "
    "\u201csupercomputer\u201d; see \u00a7 744.23(a)(1) and \u00a7 744.6.</p>"
    "<p>(b) License review policy. Applications are reviewed with a presumption of denial.</p>"
    "</main></body></html>"
).encode("utf-8")


def read(body: bytes, charset: str | None) -> Content:
    return normalize_html(decode(body, charset))


def with_byte_at(marker: bytes, offset: int = 0) -> bytes:
    """The page with one invalid byte inserted `offset` bytes into `marker`'s first place in <main>."""
    at = PAGE.index(marker, PAGE.index(b"<main>")) + offset
    return PAGE[:at] + b"\xff" + PAGE[at:]


@pytest.mark.parametrize(
    "damaged",
    [
        with_byte_at(b"must"),
        with_byte_at(b"must", 2),  # inside the word: "mu?st"
        with_byte_at("\u00a7".encode(), 1),  # between the two bytes of the section sign
        with_byte_at("\u2019".encode(), 1),  # inside the apostrophe of "isn't"
        with_byte_at(b" not", 3),  # inside the negation: "no?t"
        with_byte_at(b"744.6", 2),  # inside a citation's number
    ],
    ids=[
        "before a word",
        "inside a word",
        "inside a section sign",
        "inside an apostrophe",
        "inside the negation",
        "inside a number",
    ],
)
@pytest.mark.parametrize("charset", ["utf-8", None])
def test_one_invalid_byte_coming_and_going_is_never_substantive(damaged, charset):
    good = read(PAGE, charset)
    bad = read(damaged, charset)
    assert bad.text().count(BAD) in (1, 2, 3, 4)  # more than 1 where a character's own bytes broke
    assert "\u00a7 744.23(a)(1)" in bad.text()  # the rest reads as it did
    arrived = assess(diff_contents(good, bad))
    assert arrived.severity == "cosmetic", arrived.reasons
    assert len(arrived.reasons) == 1 and arrived.reasons[0].startswith("decoding: 1 undecodable byte replaced")
    gone = assess(diff_contents(bad, read(PAGE, charset)))
    assert gone.severity == "cosmetic", gone.reasons
    assert len(gone.reasons) == 1 and gone.reasons[0].startswith("decoding: 1 undecodable byte gone")


def test_a_wrong_utf16_header_changes_nothing():
    assert read(PAGE, "utf-16") == read(PAGE, "utf-8")
    assert not diff_contents(read(PAGE, "utf-8"), read(PAGE, "utf-16")).changed


def test_decoding_damage_in_the_title_or_as_a_whole_paragraph_is_cosmetic():
    before = content(["Exporters must not ship."], title="Rule \u00a7 744.23")
    after = content(["Exporters must not ship.", BAD * 3], title="Rule " + BAD * 2 + " 744.23")
    result = assess(diff_contents(before, after))
    assert result.severity == "cosmetic", result.reasons
    assert all(reason.startswith("decoding:") for reason in result.reasons), result.reasons


@pytest.mark.parametrize(
    "old, new",
    [
        # A real edit next to the damage is judged as usual.
        ("You must not export.", "You may " + BAD + " export."),
        # An ASCII letter lost is a changed byte, not a replaced one.
        ("You must not export.", "You must no" + BAD + " export."),
        ("Fee: 744 dollars.", "Fee: 7" + BAD + "4 dollars."),
    ],
)
def test_an_edit_beside_replacement_characters_is_still_judged(old, new):
    result = judge(old, new)
    assert result.severity == "substantive", result.reasons


# --- adversarial pass (issue 10): what still breaks --------------------------------------

LONG_WORD_CHECK = """
import sys
sys.path.insert(0, {root!r})
from tracker.redline.compute import diff_contents
from tracker.reading.text import normalize_text
from tracker.severity import assess
from tests.conftest import PROJECT_ROOT
word = "x" * 150_000  # one long token: a base64 blob, a run of dots, a URL pasted into the text
old = normalize_text("Intro.\\n\\nThe value " + word + " is allowed here.\\n")
new = normalize_text("Intro.\\n\\nThe value " + word + " is permitted here.\\n")
print(assess(diff_contents(old, new), old.links, new.links).severity)
"""


def test_an_edit_after_a_very_long_word_is_judged_in_linear_time():
    # No timed assertion: linear work takes well under a second; the quadratic search ~a minute
    # for this word (minutes to hours for longer ones), in one call that holds the GIL.
    import subprocess
    import sys

    script = LONG_WORD_CHECK.format(root=str(PROJECT_ROOT))
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("assess() did not finish within 20 s on a 150,000-character word")
    assert done.stdout.strip() == "substantive", done.stderr

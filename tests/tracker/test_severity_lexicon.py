"""The severity lexicon is data: an edited copy changes assessments, a malformed one is named."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents
from tracker.redline.model import Redline
from tracker.severity.lexicon import LexiconError, default_lexicon, load_lexicon, parse_lexicon
from tracker.severity.rules import assess, assess_links

PACKAGED = (files("tracker.severity") / "lexicon.toml").read_text(encoding="utf-8")
MODALS_LINE = 'modal_words = [\n    "may",'


def redline(old: str, new: str) -> Redline:
    def content(text: str) -> Content:
        return Content("Rule", (Block(text, section="§ 1.1", label="(a)"),))

    return diff_contents(content(old), content(new))


def test_the_packaged_lexicon_holds_the_lists_the_rules_need():
    lexicon = default_lexicon()
    assert {"may", "must", "shall"} <= lexicon.modal_words
    assert {"not", "never"} <= lexicon.negation_words
    assert lexicon.contractions["can't"] == ("can", "not")
    assert lexicon.date_re.search("effective May 13, 2025") is not None
    assert lexicon.citation_re.search("see 15 CFR 744.23(a)(2)") is not None
    assert MODALS_LINE in PACKAGED


def test_a_word_added_to_an_edited_copy_changes_the_assessment(tmp_path):
    change = redline("Exporters are obligated to file.", "Exporters are obliged to file.")
    assert assess(change).severity == "minor"  # a spelling fix under the packaged lexicon

    edited = tmp_path / "lexicon.toml"
    edited.write_text(PACKAGED.replace(MODALS_LINE, 'modal_words = [\n    "obligated", "obliged", "may",'))
    assessment = assess(change, lexicon=load_lexicon(edited))
    assert assessment.severity == "substantive"
    assert "modal verb changed: 'obligated' → 'obliged' in § 1.1" in assessment.reasons


def test_an_edited_document_link_pattern_changes_link_findings(tmp_path):
    links = ["https://example.gov/forms/bis-748.xlsx"]
    assert assess_links([], links) == [("minor", f"link added: {links[0]}")]
    edited = PACKAGED.replace(r"\.(?:pdf|docx?)$", r"\.(?:pdf|docx?|xlsx)$")
    assert edited != PACKAGED
    assert assess_links([], links, parse_lexicon(edited, "edited")) == [
        ("substantive", f"linked document added: {links[0]}")
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('negation_words = [\n    "not",', 'negation_list = [\n    "not",', "words.negation_words is missing"),
        (MODALS_LINE, 'modal_words = "may"\nformer_modals = [\n    "may",', "unknown key(s): former_modals"),
        (MODALS_LINE, 'modal_words = [\n    "Must", "may",', "words.modal_words: write 'Must' in lower case"),
        (MODALS_LINE, 'modal_words = [\n    "", "may",', "words.modal_words must be a non-empty list"),
        ("eccn = '", "eccn = '(", "patterns.eccn is not a valid regular expression"),
        ("[contractions]", "[contraction]", "[contractions] is missing or empty"),
        ("[patterns]", "patterns = [", "not valid TOML"),
    ],
)
def test_a_malformed_lexicon_is_an_error_naming_the_key(old, new, message):
    assert old in PACKAGED
    with pytest.raises(LexiconError) as raised:
        parse_lexicon(PACKAGED.replace(old, new, 1), "edited.toml")
    assert message in str(raised.value) and str(raised.value).startswith("edited.toml: ")


def test_a_word_list_written_as_one_string_is_named():
    as_string = re.sub(r"modal_words = \[[^\]]*\]", 'modal_words = "may, must"', PACKAGED)
    assert as_string != PACKAGED
    with pytest.raises(LexiconError, match=r"words\.modal_words must be a non-empty list of non-empty strings"):
        parse_lexicon(as_string, "edited.toml")

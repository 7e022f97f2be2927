"""Reading eCFR part XML: saved parts with reviewed parses, CFR anchors, bad XML."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import FILES
from tracker.items import Snapshot
from tracker.kinds import KINDS
from tracker.kinds.ecfr.content import ecfr_content
from tracker.reading.content import Content, content_hash
from tracker.reading.errors import ContentError
from tracker.redline.compute import diff_contents
from tracker.severity import assess

ECFR = FILES / "ecfr"
XML_URL = "https://www.ecfr.gov/api/versioner/v1/full/2025-01-16/title-15.xml?part=744"


def snapshot(body: bytes, key: str = "15 CFR 744") -> Snapshot:
    return Snapshot(
        source="ear",
        key=key,
        url="https://www.ecfr.gov/current/title-15/part-744",
        final_url=XML_URL,
        status=200,
        headers={"Content-Type": "application/xml"},
        body=body,
        fetched_at=datetime(2025, 1, 20, tzinfo=UTC),
        extra={"format": "ecfr", "amendment_date": "2025-01-16", "issue_date": "2025-01-17"},
    )


def read(name: str, key: str = "15 CFR 744") -> Content:
    return ecfr_content(snapshot((ECFR / name).read_bytes(), key))


def block(content: Content, starts: str):
    [found] = [b for b in content.blocks if b.text.startswith(starts)]
    return found


@pytest.mark.parametrize("name", ["part_744_2025-01-16", "part_734_2024-12-05"])
def test_saved_part_matches_reviewed_parse(name):
    content = read(f"{name}.xml", key=f"15 CFR {name[5:8]}")
    expected_file = ECFR / f"{name}.expected.json"
    if not expected_file.exists():
        # Written once, then failing until a person has reviewed it.
        expected_file.write_text(json.dumps(content.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(f"wrote {expected_file.name}: review it, then run again")
    assert content.to_json() == json.loads(expected_file.read_text(encoding="utf-8"))


def test_the_registry_hands_ecfr_snapshots_to_the_ecfr_reader():
    content = KINDS["ecfr"].read(snapshot((ECFR / "part_744_2025-01-16.xml").read_bytes()), source=None)
    assert content == read("part_744_2025-01-16.xml")


def test_structure_part_subpart_sections_and_their_headings():
    content = read("part_744_2025-01-16.xml")
    assert content.title == "PART 744-CONTROL POLICY: END-USER AND END-USE BASED"
    headings = [(b.label, b.section) for b in content.blocks if b.kind == "heading"]
    assert headings == [
        ("Part 744", "15 CFR Part 744"),
        ("Subpart A", "15 CFR Part 744 Subpart A"),
        ("§ 744.1", "15 CFR 744.1"),
        ("§ 744.23", "15 CFR 744.23"),
        ("Supplement No. 4 to Part 744", "15 CFR Supplement No. 4 to Part 744"),
    ]
    assert block(content, "§ 744.23").text == "§ 744.23 Supercomputer and semiconductor manufacturing end use."


def test_paragraph_labels_become_cfr_anchors():
    content = read("part_744_2025-01-16.xml")
    anchors = {
        "(a) General prohibitions.": "15 CFR 744.23(a)",
        "(2) Semiconductor manufacturing end use.": "15 CFR 744.23(a)(2)",
        "(A) Logic integrated circuits": "15 CFR 744.23(a)(2)(i)(A)",
        "(ii) Any item subject to the EAR": "15 CFR 744.23(a)(2)(ii)",
        "(1) A multinational company": "15 CFR 744.23(c)(2)(ii)(A)(1)",  # an italic (1)
        "(iii) The end-use and end-user checks": "15 CFR 744.23(c)(2)(iii)",
        "(a)(1) Introduction.": "15 CFR 744.1(a)(1)",
    }
    for starts, section in anchors.items():
        assert block(content, starts).section == section, starts
    assert block(content, "(ii) Any item subject to the EAR").label == "(ii)"
    assert block(content, "(a)(1) Introduction.").label == "(a)(1)"


def test_notes_citations_authority_and_tables_are_kept():
    content = read("part_744_2025-01-16.xml")
    authority = block(content, "Authority:")
    assert "50 U.S.C. 1701 et seq.; 22 U.S.C. 3201" in authority.text
    assert authority.section == "15 CFR Part 744"
    assert block(content, "Source: 61 FR 12786").section == "15 CFR Part 744"
    # A citation belongs to its section, not to the section's last paragraph.
    assert block(content, "[87 FR 62205").section == "15 CFR 744.23"
    assert block(content, "Note 1 to paragraph (b):").section == "15 CFR 744.1(b)"
    assert block(content, '"The items will not be used').label == ""  # quoted text, not a paragraph of 744.1
    assert block(content, "Country |").text == (
        "Country | Entity | License requirement | License review policy | Federal Register citation"
    )
    row = block(content, "CHINA, PEOPLE'S REPUBLIC OF |")
    assert row.text.endswith("| 84 FR 22963, 5/21/19.")
    assert row.section == "15 CFR Supplement No. 4 to Part 744"
    assert block(content, "Editorial Note:").text.startswith("Editorial Note: For Federal Register citations")


def test_the_amendment_is_substantive_and_anchored_to_its_paragraph():
    old, new = read("part_744_2025-01-16.xml"), read("part_744_2026-11-25.xml")
    assessment = assess(diff_contents(old, new))
    assert assessment.severity == "substantive"
    anchored = [r for r in assessment.reasons if r.endswith("in 15 CFR 744.23(a)(2)(ii)")]
    assert any(r.startswith("number changed: 25 percent → 10 percent") for r in anchored), assessment.reasons
    assert any(r.startswith("negation added") for r in anchored), assessment.reasons


def test_title_number_comes_from_the_document_key():
    content = read("part_734_2024-12-05.xml", key="40 CFR 734")
    assert block(content, "(a) Except for items").section == "40 CFR 734.3(a)"


def test_parsing_is_deterministic():
    first, second = read("part_744_2025-01-16.xml"), read("part_744_2025-01-16.xml")
    assert first == second and content_hash(first) == content_hash(second)


@pytest.mark.parametrize(
    "body, message",
    [
        ((ECFR / "part_744_truncated.xml").read_bytes(), "malformed eCFR XML"),
        (b"", "malformed eCFR XML"),
        (b'{"message": "Title 15 currently unavailable"}', "malformed eCFR XML"),
        (
            b"<html><body><p>Service unavailable</p></body></html>",
            r"expected eCFR part XML \(a DIV5 element\).*got <html>",
        ),
    ],
    ids=["truncated", "empty", "json", "html"],
)
def test_what_is_not_a_part_is_a_content_error(body, message):
    with pytest.raises(ContentError, match=message) as caught:
        ecfr_content(snapshot(body))
    assert XML_URL in str(caught.value)


def test_undecodable_bytes_are_replaced_not_fatal():
    body = (ECFR / "part_734_2024-12-05.xml").read_bytes().replace(b"wherever located", b"wherever\xff located")
    assert block(ecfr_content(snapshot(body, "15 CFR 734")), "(2) All U.S.").text == (
        "(2) All U.S. origin items wherever\ufffd located;"
    )


def test_a_declared_encoding_is_honoured():
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><DIV5 N="734" TYPE="PART"><HEAD>PART 734</HEAD><P>(a) Güter.</P></DIV5>'
    content = ecfr_content(snapshot(body.encode("latin-1"), "15 CFR 734"))
    assert block(content, "(a)").text == "(a) Güter."


def test_entities_are_not_expanded_and_nothing_is_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE DIV5 [<!ENTITY leak SYSTEM "file://{secret}">'
        '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<DIV5 N="744" TYPE="PART"><HEAD>PART 744</HEAD><P>(a) &leak; &lol2;</P></DIV5>'
    ).encode()
    text = ecfr_content(snapshot(body)).text()
    assert "do not read me" not in text and "lollol" not in text


# --- genuine GPO XML (tests/files/genuine/ecfr) -------------------------------------

GENUINE = FILES / "genuine" / "ecfr"


def genuine(part: str) -> Content:
    return ecfr_content(snapshot((GENUINE / f"title-1-part-{part}.xml").read_bytes(), key=f"1 CFR {part}"))


def test_a_table_in_div_wrappers_reads_row_by_row():
    # GPO wraps tables as <DIV><DIV class="gpotbl_div"><TABLE>: each row is a block, its cells apart.
    content = genuine("17")
    rows = [b for b in content.blocks if " | " in b.text]
    assert [b.text for b in rows] == [
        "Received before 2:00 p.m. | Filed for public inspection | Published",
        "Monday | Wednesday | Thursday",
        "Tuesday | Thursday | Friday",
        "Wednesday | Friday | Monday",
        "Thursday | Monday | Tuesday",
        "Friday | Tuesday | Wednesday",
    ]
    assert {b.section for b in rows} == {"1 CFR 17.2(c)"}
    assert not any("MondayWednesday" in b.text for b in content.blocks)


def test_footnote_references_and_footnotes_read_as_bracketed_numbers():
    content = genuine("8")
    assert (
        "January 1, 1964, to December 31, 1972, respectively.) [1] Listings shall refer to"
        in block(content, "(c) List of CFR sections affected.").text
    )
    footnote = block(content, "[1] A three volume set")
    assert footnote.section == "1 CFR 8.5(c)"


def test_subscripts_and_superscripts_in_paragraphs():
    xml = (
        '<DIV5 N="50" TYPE="PART"><HEAD>PART 50</HEAD><DIV8 N="50.1" TYPE="SECTION"><HEAD>§ 50.1 Levels.</HEAD>'
        "<P>(a) SO<INF>2</INF> at 75 ppb and PM<INF>2.5</INF> at 9 g/m<SU>3</SU>, 10<SU>6</SU> units.</P>"
        "</DIV8></DIV5>"
    ).encode()
    content = ecfr_content(snapshot(xml, key="40 CFR 50"))
    assert block(content, "(a)").text == "(a) SO2 at 75 ppb and PM2.5 at 9 g/m^3, 10^6 units."


# --- adversarial pass (issue 10): what still breaks --------------------------------------


def nested_table(wrapper: str, depth: int, text: str) -> bytes:
    if wrapper == "ENT":  # cells inside cells: every cell's text holds all the ones inside it
        inner = "<ENT>" * depth + text + "</ENT>" * depth
        table = f"<ROW>{inner}</ROW>"
    elif wrapper == "TTITLE":  # table titles inside titles: each title holds all the ones inside it
        table = "<TTITLE>" * depth + text + "</TTITLE>" * depth
    else:  # rows inside rows: every row reads the cells of all the rows inside it
        table = "<ROW>" * depth + f"<ENT>{text}</ENT>" + "</ROW>" * depth
    return f'<DIV5 N="744"><HEAD>PART 744</HEAD><GPOTABLE>{table}</GPOTABLE></DIV5>'.encode()


@pytest.mark.parametrize("wrapper", ["ENT", "ROW", "TTITLE"])
def test_nested_table_cells_read_each_text_once(wrapper):
    text = "Entity List entry " * 50  # 900 characters
    body = nested_table(wrapper, 200, text)
    content = ecfr_content(snapshot(body))
    read = sum(len(b.text) for b in content.blocks)
    # Every character of the part is read once (plus separators), never once per level of nesting.
    assert read <= 2 * len(body), f"{len(body)} bytes of XML read as {read} characters"

"""Reading Federal Register records: golden files of saved API responses, and volatile fields.

Each case is a saved record (a document's JSON, or a public-inspection record)
with its saved full text; `<name>.expected.json` is the reviewed parse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import FILES
from tracker.items import Snapshot
from tracker.kinds import KINDS
from tracker.kinds.federal_register.content import fr_content
from tracker.reading.content import content_hash
from tracker.reading.errors import ContentError

FR_FILES = FILES / "federal_register"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


def inspection_record(number: str) -> bytes:
    """One record of the saved current.json, as the spider stores it."""
    listing = json.loads((FR_FILES / "public_inspection_current.json").read_text(encoding="utf-8"))
    [record] = [r for r in listing["results"] if r["document_number"] == number]
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode()


# name -> (record bytes, stage, full-text file, its content type)
CASES = {
    "2025-00636": ((FR_FILES / "2025-00636.json").read_bytes(), "published", "2025-00636.html", HTML),
    "2025-00637": ((FR_FILES / "2025-00637.json").read_bytes(), "published", "2025-00637.html", HTML),
    "2026-00789": ((FR_FILES / "2026-00789.json").read_bytes(), "published", "2026-00789.html", HTML),
    "2026-24110": ((FR_FILES / "2026-24110.json").read_bytes(), "published", "2026-24110.html", HTML),
    "2026-24110.pi": (inspection_record("2026-24110"), "public_inspection", "2026-24110.pi.txt", TEXT),
    "C1-2026-24110": ((FR_FILES / "C1-2026-24110.json").read_bytes(), "published", "C1-2026-24110.html", HTML),
}


def snapshot(record: bytes, stage: str = "published", text: bytes | None = None, content_type: str = HTML) -> Snapshot:
    attachments = []
    if text is not None:
        attachments.append(
            {
                "role": "full_text",
                "url": "https://www.federalregister.gov/full_text",
                "status": 200,
                "content_type": content_type,
                "body": text,
            }
        )
    return Snapshot(
        source="federal-register",
        key="2025-00636",
        url="https://www.federalregister.gov/documents/2025/01/15/2025-00636/framework-for-artificial-intelligence-diffusion",
        final_url="https://www.federalregister.gov/api/v1/documents/2025-00636.json",
        status=200,
        headers={"Content-Type": "application/json; charset=utf-8"},
        body=record,
        fetched_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        extra={"format": "federal_register", "stage": stage, "attachments": attachments},
    )


def case_snapshot(name: str) -> Snapshot:
    record, stage, text_file, content_type = CASES[name]
    return snapshot(record, stage, (FR_FILES / text_file).read_bytes(), content_type)


def texts(content) -> list[str]:
    return [block.text for block in content.blocks]


@pytest.mark.parametrize("name", sorted(CASES))
def test_saved_record_matches_reviewed_parse(name):
    content = fr_content(case_snapshot(name))
    expected_file = FR_FILES / f"{name}.expected.json"
    if not expected_file.exists():
        # Juriscraper style: write the parse once, and fail until a person has reviewed it.
        expected_file.write_text(json.dumps(content.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(f"wrote {expected_file.name}: review it, then run again")
    assert content.to_json() == json.loads(expected_file.read_text(encoding="utf-8"))


def test_the_registry_hands_federal_register_snapshots_here():
    assert KINDS["federal_register"].read(case_snapshot("2025-00636"), source=None) == fr_content(
        case_snapshot("2025-00636")
    )


def test_the_header_holds_the_meaningful_fields():
    lines = texts(fr_content(case_snapshot("2025-00636")))
    for line in (
        "Document number: 2025-00636",
        "Type: Rule",
        "Action: Interim final rule; request for comments.",
        "Status: Published in the Federal Register on 2025-01-15",
        "Citation: 90 FR 4544",
        "Effective date: 2025-01-13",
        "CFR references: 15 CFR 740, 15 CFR 742, 15 CFR 744, 15 CFR 748, 15 CFR 758, 15 CFR 772, 15 CFR 774",
        "RIN: 0694-AJ90",
        "Dockets: BIS-2025-0001",
        "Agencies: Commerce Department, Industry and Security Bureau",
    ):
        assert line in lines


def test_the_full_text_keeps_its_sections_without_page_markers():
    content = fr_content(case_snapshot("2025-00636"))
    paragraph = next(b for b in content.blocks if b.text.startswith("(2) Advanced computing."))
    assert paragraph.section == "§ 744.23(a)(2)"
    assert "ECCN 3A090, 4A090, or 4E091" in paragraph.text
    assert "Start Printed Page" not in content.text()


def test_volatile_fields_are_never_read():
    original = fr_content(case_snapshot("2025-00636"))
    noisy = json.loads(CASES["2025-00636"][0])
    noisy["page_views"] = {"count": 99999, "last_updated": "2026-11-26 01:00:00 -0500"}
    noisy["regulations_dot_gov_info"] = {"checked_regulationsdotgov_at": "2026-11-26T06:00:00Z"}
    noisy["public_inspection_pdf_url"] = "https://public-inspection.federalregister.gov/2025-00636.pdf?1799999999"
    noisy["excerpts"] = "<span class='match'>diffusion</span> of AI"
    text = (FR_FILES / "2025-00636.html").read_bytes()
    assert fr_content(snapshot(json.dumps(noisy).encode(), text=text)) == original
    for volatile in ("48213", "page_views", "1736514614", "checked_regulationsdotgov_at", "2026-11-24"):
        assert volatile not in original.text()


def test_the_saved_page_views_change_gives_the_same_content():
    text = (FR_FILES / "2025-00636.html").read_bytes()
    before = fr_content(snapshot((FR_FILES / "2025-00636.json").read_bytes(), text=text))
    after = fr_content(snapshot((FR_FILES / "2025-00636.page_views.json").read_bytes(), text=text))
    assert content_hash(before) == content_hash(after)


def test_public_inspection_and_publication_differ_in_status_and_citation():
    filed = texts(fr_content(case_snapshot("2026-24110.pi")))
    published = texts(fr_content(case_snapshot("2026-24110")))
    assert "Status: On public inspection since 2026-11-24 08:45-05:00, scheduled for publication on 2026-11-25" in filed
    assert not any(line.startswith("Citation:") for line in filed)
    assert "Status: Published in the Federal Register on 2026-11-25" in published
    assert "Citation: 91 FR 82417" in published
    assert "RIN 0694-AJ90" in filed  # the record has no RIN: its text does


def test_corrections_link_both_ways():
    correction = texts(fr_content(case_snapshot("C1-2026-24110")))
    assert "Correction of: 2026-24110" in correction
    corrected = (FR_FILES / "2026-24110.corrected.json").read_bytes()
    lines = texts(fr_content(snapshot(corrected, text=(FR_FILES / "2026-24110.html").read_bytes())))
    assert "Corrections: C1-2026-24110" in lines


def test_a_record_without_its_text_is_its_header_alone():
    content = fr_content(snapshot((FR_FILES / "2025-00637.json").read_bytes()))
    assert content.title == "Public Briefing on the Framework for Artificial Intelligence Diffusion Interim Final Rule"
    assert all(block.section for block in content.blocks)  # header blocks only, each with its field name


def test_same_record_same_content():
    assert fr_content(case_snapshot("2026-00789")) == fr_content(case_snapshot("2026-00789"))


@pytest.mark.parametrize(
    "body, message",
    [
        ((FR_FILES / "malformed.json").read_bytes(), "malformed JSON"),
        (b'["2025-00636"]', "malformed JSON"),
        (b'{"title": "Framework for Artificial Intelligence Diffusion"}', "no document_number"),
    ],
)
def test_unreadable_records_are_content_errors(body, message):
    with pytest.raises(ContentError, match=message):
        fr_content(snapshot(body))


# --- genuine recorded answers (tests/files/genuine/federal_register) ------------

GENUINE = FILES / "genuine" / "federal_register"


def genuine(number: str, text: str | None = None, content_type: str = TEXT) -> Snapshot:
    body = (GENUINE / text).read_bytes() if text else None
    return snapshot((GENUINE / f"{number}.json").read_bytes(), text=body, content_type=content_type)


def test_gpo_subscripts_in_a_genuine_abstract_read_as_plain_text():
    [abstract] = [line for line in texts(fr_content(genuine("2024-29463"))) if line.startswith("Abstract:")]
    assert "oxides of sulfur (SOX), and particulate matter" in abstract
    assert "secondary sulfur dioxide (SO2) standard" in abstract
    assert abstract.endswith("for the secondary SO2 NAAQS.")
    assert "<" not in abstract and "INF" not in abstract


@pytest.mark.parametrize(
    "raw, shown",
    [
        ('Revisions to the <E T="03">Entity List</E>', "Revisions to the Entity List"),
        ("emissions of NO<INF>X</INF> and SO<INF>2</INF>", "emissions of NOX and SO2"),
        ("a level of 15 g/m<SU>3</SU> and 10<SU>6</SU> units", "a level of 15 g/m^3 and 10^6 units"),
        ("as the Act requires.<SU>1</SU> The rule", "as the Act requires.^1 The rule"),
        ('<E T="04">Nested <E T="03">emphasis</E> kept</E>', "Nested emphasis kept"),
        ("fewer than <5 percent & rising", "fewer than <5 percent & rising"),  # not markup: left alone
    ],
)
def test_gpo_inline_markup_in_titles_and_abstracts_reads_as_plain_text(raw, shown):
    record = json.loads(CASES["2025-00637"][0])
    record["title"], record["abstract"] = raw, raw
    content = fr_content(snapshot(json.dumps(record).encode()))
    assert content.title == shown
    assert f"Abstract: {shown}" in texts(content)


def test_gpo_text_rendition_reads_as_paragraphs_not_lines():
    # raw_text_url of a 1994 document: text/plain, yet an HTML page with the text hard-wrapped in <pre>.
    content = fr_content(genuine("93-32104", "93-32104.raw.txt"))
    lines = texts(content)
    assert (
        "Pursuant to the authority vested in me by section 552(c)(2) of the Foreign Assistance Act of 1961, "
        "as amended, 22 U.S.C. 2348a(c)(2) (the ``Act''), I hereby determine that:"
    ) in lines
    first = next(b for b in content.blocks if b.text.startswith("(1) as a result"))
    assert first.text.endswith("important to the national interests of the United States; and")
    assert (first.label, first.section) == ("(1)", "(1)")
    second = next(b for b in content.blocks if b.text.startswith("(2) such unforeseen"))
    assert second.text.endswith("under Chapter 6 of Part II of the Act.")
    assert (
        "Drawdown of Commodities and Services From the Inventory and Resources of the Department of Defense "
        "To Maintain Egypt's Military Readiness and Security"
    ) in lines


def test_a_pre_2000_publication_date_is_not_shown_as_a_docket():
    # Old records carry "Federal Register: January 3, 1994" in docket_ids: the issue, not a docket.
    lines = texts(fr_content(genuine("93-32104")))
    assert not any(line.startswith("Dockets:") for line in lines)
    assert "Citation: 59 FR 1" in lines

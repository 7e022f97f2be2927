"""Reading saved reginfo.gov answers in process (no server): the spider's extraction, the
reader's blocks, and the reasons `judge` gives a change."""

from datetime import UTC, date, datetime

import pytest

from tests.conftest import FILES
from tracker.items import Snapshot
from tracker.kinds import KINDS
from tracker.kinds.reginfo.config import ReginfoConfig
from tracker.kinds.reginfo.content import agenda_date, judge
from tracker.kinds.reginfo.spider import (
    NotAReport,
    ReportError,
    editions,
    editions_to_try,
    read_agenda,
    read_reviews,
    rin_document,
)
from tracker.reading.content import Content
from tracker.reading.errors import ContentError
from tracker.redline.compute import diff_contents
from tracker.severity import assess

AGENDA = (FILES / "genuine" / "reginfo" / "reginfo-rin-data-202510.xml").read_bytes()
UNDER_REVIEW = (FILES / "reginfo" / "eo_rules_under_review.xml").read_bytes()
COMPLETED = (FILES / "reginfo" / "eo_rule_completed_ytd.xml").read_bytes()
SOURCE = ReginfoConfig(name="reginfo", kind="reginfo", interval=3600, rins=("0694-AJ90",), agencies=("0503",))
KIND = KINDS["reginfo"]


def snapshot(rin: str, agenda: bytes = AGENDA, reviews: tuple[bytes, ...] = (UNDER_REVIEW, COMPLETED)) -> Snapshot:
    entry = read_agenda(agenda, SOURCE.follows).get(rin)
    found = [r for body in reviews for r in read_reviews(body, SOURCE.follows) if r.findtext("RIN") == rin]
    body = rin_document(rin, "202510", entry, found)
    url = f"https://www.reginfo.gov/public/do/eAgendaViewRule?pubId=202510&RIN={rin}"
    return Snapshot("reginfo", f"RIN {rin}", url, url, 200, {}, body, datetime(2026, 12, 6, tzinfo=UTC))


def read(rin: str, **options) -> Content:
    return KIND.read(snapshot(rin, **options), SOURCE)


def change(old: Content, new: Content):
    return KIND.assessed(old, new, assess(diff_contents(old, new)))


def test_the_agenda_report_gives_the_entries_of_followed_rins_only():
    assert list(read_agenda(AGENDA, SOURCE.follows)) == ["0503-AA90", "0503-AA80"]
    assert read_agenda(AGENDA, lambda rin: rin == "0503-AA80").keys() == {"0503-AA80"}
    assert read_agenda(AGENDA, lambda rin: False) == {}


def test_review_reports_give_the_reviews_of_followed_rins_only():
    assert [r.findtext("RIN") for r in read_reviews(UNDER_REVIEW, SOURCE.follows)] == ["0694-AJ90", "0503-AA90"]
    assert [r.findtext("RIN") for r in read_reviews(COMPLETED, SOURCE.follows)] == ["0503-AA80"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>Service Unavailable</body></html>", "expected a Unified Agenda report"),
        (AGENDA[:4000], "malformed Unified Agenda XML"),
        (b"", "malformed Unified Agenda XML|empty"),
        (b'<!DOCTYPE x [<!ENTITY big "' + b"a" * 50 + b'">]><REGINFO_RIN_DATA>&big;</REGINFO_RIN_DATA>', ""),
    ],
)
def test_an_agenda_report_that_is_not_one_is_refused_or_read_without_its_entities(body, message):
    if not message:  # a DTD's entity is never expanded: nothing is followed, nothing is read from it
        assert read_agenda(body, lambda rin: True) == {}
        return
    with pytest.raises(ReportError, match=message):
        read_agenda(body, SOURCE.follows)


def test_a_review_report_that_is_not_one_is_refused():
    with pytest.raises(ReportError, match="expected an EO 12866 review report"):
        read_reviews(AGENDA, SOURCE.follows)
    with pytest.raises(ReportError, match="malformed review XML"):
        read_reviews(UNDER_REVIEW[:200], SOURCE.follows)


def test_editions_are_tried_newest_first_from_today():
    assert editions(date(2026, 12, 6)) == ["202610", "202604", "202510"]
    assert editions(date(2027, 3, 31)) == ["202610", "202604", "202510"]
    assert editions(date(2026, 4, 1)) == ["202604", "202510", "202504"]


def test_no_edition_older_than_the_newest_stored_is_tried():
    today = date(2026, 12, 6)
    assert editions_to_try(today, set()) == ["202610", "202604", "202510"]
    assert editions_to_try(today, {"202510", "202604"}) == ["202610", "202604"]
    assert editions_to_try(today, {"202704"}) == ["202610"]  # a clock behind the stored data: the newest only


def test_only_another_document_than_an_agenda_lets_the_spider_try_the_edition_before():
    with pytest.raises(NotAReport):
        read_agenda(b"<html><body>No such file</body></html>", SOURCE.follows)
    with pytest.raises(ReportError) as malformed:
        read_agenda(AGENDA[:4000], SOURCE.follows)
    assert not isinstance(malformed.value, NotAReport)


def test_agenda_dates_read_as_written_with_a_month_when_the_day_is_unknown():
    assert agenda_date("06/00/2026") == "June 2026"
    assert agenda_date("11/20/2024") == "2024-11-20"
    assert agenda_date("2026-12-01") == "2026-12-01"
    assert agenda_date("To Be Determined") == "To Be Determined"
    assert agenda_date("13/00/2026") == "13/00/2026"


def test_a_rin_reads_as_its_entry_fields_timetable_and_reviews():
    content = read("0503-AA90")
    assert content.title == (
        "Equal Participation of Faith-Based Organizations in USDA's Programs and Activities:"
        " Implementation of Executive Order 14205"
    )
    texts = [b.text for b in content.blocks]
    assert texts[:5] == [
        "RIN: 0503-AA90",
        "Agency: Office of the Secretary (AgSEC), Department of Agriculture (USDA)",
        "Stage: Proposed Rule Stage",
        "Priority: Other Significant",
        "Major: No",
    ]
    abstract = next(b for b in content.blocks if b.section == "Abstract")
    assert abstract.text.startswith("Abstract: This proposed rule would amend USDA's regulations")
    assert "<p>" not in abstract.text and "participating in USDA programs" in abstract.text
    timetable = [b for b in content.blocks if b.section == "Timetable"]
    assert [(b.label, b.text) for b in timetable] == [("NPRM", "NPRM: November 2026")]
    [review] = [b for b in content.blocks if b.section == "EO 12866 review"]
    assert review.text == "OIRA review received 2026-11-20: Proposed Rule"


def test_a_concluded_review_and_an_fr_citation_are_read():
    content = read("0503-AA80")
    assert "Interim Final Rule and Request for Comments: 2024-11-20 (89 FR 91529)" in [b.text for b in content.blocks]
    assert content.blocks[-1].text == (
        "OIRA review received 2026-05-04: Final Rule; concluded 2026-06-30: Consistent with Change"
    )


def test_a_rin_under_review_but_not_in_the_agenda_reads_from_its_review():
    content = read("0694-AJ90")
    assert content.title.startswith("Export Administration Regulations: Rescission of the AI Diffusion Rule")
    assert [b.text for b in content.blocks] == [
        "RIN: 0694-AJ90",
        "OIRA review received 2026-12-01: Interim Final Rule",
    ]


def test_a_rin_with_nothing_or_a_body_that_is_no_rin_document_is_a_content_error():
    with pytest.raises(ContentError, match="neither an agenda entry nor a review"):
        read("0503-AA99")
    bad = Snapshot("reginfo", "RIN 0503-AA90", "u", "u", 200, {}, AGENDA, datetime(2026, 12, 6, tzinfo=UTC))
    with pytest.raises(ContentError, match="expected a RIN document"):
        KIND.read(bad, SOURCE)


def test_a_review_received_is_substantive_with_its_own_reason_first():
    before = read("0503-AA90", reviews=())
    after = read("0503-AA90")
    assessment = change(before, after)
    assert assessment.severity == "substantive"
    assert assessment.reasons[0] == "OIRA review received 2026-11-20: Proposed Rule"


def test_a_review_concluded_a_new_stage_and_a_new_timetable_date_are_named():
    before = read("0503-AA90")
    concluded = UNDER_REVIEW.replace(
        b"<DATE_RECEIVED>2026-11-20</DATE_RECEIVED>",
        b"<DATE_RECEIVED>2026-11-20</DATE_RECEIVED><DATE_COMPLETED>2026-12-04</DATE_COMPLETED>"
        b"<DECISION>Consistent with Change</DECISION>",
    )
    moved = AGENDA.replace(
        b"<RULE_STAGE>Proposed Rule Stage</RULE_STAGE>", b"<RULE_STAGE>Final Rule Stage</RULE_STAGE>", 1
    )
    moved = moved.replace(b"<TTBL_DATE>11/00/2026</TTBL_DATE>", b"<TTBL_DATE>02/00/2027</TTBL_DATE>", 1)
    after = read("0503-AA90", agenda=moved, reviews=(concluded, COMPLETED))
    assessment = change(before, after)
    assert assessment.severity == "substantive"
    assert assessment.reasons[:3] == (
        "stage: Proposed Rule Stage → Final Rule Stage",
        "timetable: NPRM November 2026 → February 2027",
        "OIRA review concluded 2026-12-04: Consistent with Change (Proposed Rule, received 2026-11-20)",
    )


def test_judge_names_nothing_when_only_other_fields_change():
    before = read("0503-AA80")
    edited = AGENDA.replace(
        b"5 U.S.C. 301</LEGAL_AUTHORITY>\n            <LEGAL_AUTHORITY>22",
        b"5 U.S.C. 302</LEGAL_AUTHORITY>\n            <LEGAL_AUTHORITY>22",
    )
    after = read("0503-AA80", agenda=edited)
    assert judge(before, after) == []
    assert judge(before, before) == []
    assert change(before, after).reasons == ("citation changed: 5 U.S.C. 301 → 5 U.S.C. 302 in Legal authority",)


def test_a_timetable_action_added_or_removed_and_a_review_gone_are_named():
    before = read("0503-AA80")
    fewer = AGENDA.replace(
        b"""            <TIMETABLE>
                <TTBL_ACTION>Final Action</TTBL_ACTION>
                <TTBL_DATE>07/00/2026</TTBL_DATE>
            </TIMETABLE>
""",
        b"",
    )
    after = read("0503-AA80", agenda=fewer, reviews=(UNDER_REVIEW,))
    assert judge(before, after) == [
        ("substantive", "timetable: Final Action July 2026 removed"),
        ("substantive", "OIRA review received 2026-05-04: Final Rule: no longer listed by OIRA"),
    ]
    assert judge(after, before)[0] == ("substantive", "timetable: Final Action July 2026")

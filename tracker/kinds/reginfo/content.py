"""Reading one RIN (tracker.kinds.reginfo.spider's RULEWATCH_RIN document) into `Content`,
and naming what changed between two readings.

The blocks, each in a section named for what it says, so a redline reads as the agenda does:

- "RIN", "Agency", "Stage", "Priority", "Major", "CFR", "Legal authority", "Abstract": the
  Unified Agenda entry's fields, "Stage: Final Rule Stage";
- "Timetable": one block per action, labelled by it, "NPRM: June 2026 (90 FR 1234)"
  (a date "06/00/2026" is a month: "June 2026");
- "EO 12866 review": one block per review, labelled by its received date,
  "OIRA review received 2026-12-01: Interim Final Rule; economically significant;
  concluded 2026-12-20: Consistent with Change".

The edition and the entry's status ("Previously Published in The Unified Agenda") change
every half year by themselves and are left out: they are in each version's evidence.
`judge` names a new stage, timetable date or review as a substantive change.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from lxml import etree, html

from tracker.items import Snapshot
from tracker.kinds.base import UNDER_REVIEW, Signal
from tracker.reading.blocks import fold
from tracker.reading.content import Block, Content
from tracker.reading.errors import ContentError
from tracker.safexml import safe_xml_parser

TIMETABLE = "Timetable"
REVIEW = "EO 12866 review"
REVIEW_PREFIX = "OIRA review received "
CONCLUDED = "; concluded "
# Fields whose change is named by `judge`, with the words of its reason.
JUDGED_FIELDS = {"Stage": "stage", "Priority": "priority", "Major": "major rule"}
MAX_BODY_BYTES = 2 * 1024 * 1024  # one RIN's entry and reviews; the spider's are a few KB
_MONTH_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def read(snapshot: Snapshot, source: object) -> Content:
    """The kind's reader (tracker.kinds)."""
    root = _parse(snapshot)
    rin = root.get("RIN") or ""
    entry = root.find("RIN_INFO")
    reviews = root.findall("EO_REVIEWS/REGACT")
    if entry is None and not reviews:
        raise ContentError(f"RIN {rin} has neither an agenda entry nor a review in {snapshot.final_url}")
    blocks = [Block(f"RIN: {rin}", section="RIN")]
    if entry is not None:
        blocks += _entry_blocks(entry)
    blocks += [_review_block(review) for review in reviews]
    title = _text(entry.find("RULE_TITLE")) if entry is not None else _text(reviews[-1].find("TITLE"))
    return Content(title=title, blocks=tuple(b for b in blocks if b.text))


def _parse(snapshot: Snapshot) -> etree._Element:
    if len(snapshot.body) > MAX_BODY_BYTES:
        raise ContentError(f"a RIN document of {len(snapshot.body)} bytes, more than {MAX_BODY_BYTES} ({snapshot.url})")
    parser = safe_xml_parser(recover=False)
    try:
        root = etree.fromstring(snapshot.body, parser)
    except etree.XMLSyntaxError as exc:
        raise ContentError(f"malformed RIN XML from {snapshot.final_url}: {exc}") from None
    if root.tag != "RULEWATCH_RIN":
        raise ContentError(f"expected a RIN document (RULEWATCH_RIN) from {snapshot.final_url}, got <{root.tag}>")
    return root


def _entry_blocks(entry: etree._Element) -> list[Block]:
    fields = [
        ("Agency", _agency(entry)),
        ("Stage", _text(entry.find("RULE_STAGE"))),
        ("Priority", _text(entry.find("PRIORITY_CATEGORY"))),
        ("Major", _text(entry.find("MAJOR"))),
        ("CFR", "; ".join(_texts(entry, "CFR_LIST/CFR"))),
        ("Legal authority", "; ".join(_texts(entry, "LEGAL_AUTHORITY_LIST/LEGAL_AUTHORITY"))),
        ("Abstract", _abstract(entry.find("ABSTRACT"))),
    ]
    blocks = [Block(f"{name}: {value}", section=name) for name, value in fields if value]
    for row in entry.findall("TIMETABLE_LIST/TIMETABLE"):
        action = _text(row.find("TTBL_ACTION"))
        when = agenda_date(_text(row.find("TTBL_DATE")))
        citation = _text(row.find("FR_CITATION"))
        if not action:
            continue
        text = f"{action}: {when or 'no date'}" + (f" ({citation})" if citation else "")
        blocks.append(Block(text, label=action, section=TIMETABLE))
    return blocks


def _review_block(review: etree._Element) -> Block:
    received = agenda_date(_text(review.find("DATE_RECEIVED"))) or "(no date)"
    stage = _text(review.find("STAGE")) or "stage not given"
    text = f"{REVIEW_PREFIX}{received}: {stage}"
    if _text(review.find("ECONOMICALLY_SIGNIFICANT")).lower() in ("yes", "y"):
        text += "; economically significant"
    completed = agenda_date(_text(review.find("DATE_COMPLETED")))
    if completed:
        text += f"{CONCLUDED}{completed}: {_text(review.find('DECISION')) or 'conclusion not given'}"
    return Block(text, label=f"{REVIEW_PREFIX}{received}", section=REVIEW)


def agenda_date(value: str) -> str:
    """'06/00/2026' -> 'June 2026', '11/20/2024' or '2024-11-20 00:00' -> '2024-11-20'; anything else as written."""
    if match := _MONTH_DATE.match(value):
        month, day, year = (int(part) for part in match.groups())
        if day == 0 and 1 <= month <= 12:
            return f"{MONTHS[month - 1]} {year}"
        return _iso(year, month, day) or value
    if match := _ISO_DATE.match(value):
        year, month, day = (int(part) for part in match.groups())
        return _iso(year, month, day) or value
    return value


def _iso(year: int, month: int, day: int) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


def _agency(entry: etree._Element) -> str:
    def named(element: etree._Element | None) -> str:
        if element is None:
            return ""
        name, acronym = _text(element.find("NAME")), _text(element.find("ACRONYM"))
        return f"{name} ({acronym})" if name and acronym else name or acronym

    return ", ".join(part for part in (named(entry.find("AGENCY")), named(entry.find("PARENT_AGENCY"))) if part)


def _abstract(element: etree._Element | None) -> str:
    """Abstracts carry HTML inside CDATA (since about 2020): its text, as a reader sees it."""
    text = _text(element)
    if "<" not in text:
        return text
    try:
        return fold(html.fromstring(text).text_content())
    except (etree.ParserError, ValueError):
        return text


def _text(element: etree._Element | None) -> str:
    return fold("".join(element.itertext())) if element is not None else ""


def _texts(entry: etree._Element, path: str) -> list[str]:
    return [text for element in entry.findall(path) if (text := _text(element))]


# --- the earliest signal -------------------------------------------------------------


def signal(previous_evidence: dict | None, extra: dict, content: Content) -> Signal | None:
    """A review received that the previous version did not list: the first public trace of the
    rule, which meets an expectation naming this RIN (tracker.kinds.base.Signal)."""
    before = set(previous_evidence.get("reviews_received", [])) if previous_evidence is not None else set()
    received = sorted(agenda_date(day) or "(no date)" for day in extra.get("reviews_received", []) if day not in before)
    rin = next((b.text.removeprefix("RIN: ") for b in content.blocks if b.section == "RIN"), "")
    if not received or not rin:
        return None
    return Signal(UNDER_REVIEW, f"{REVIEW_PREFIX}{received[-1]} for RIN {rin}", rin=rin, formal=True)


# --- judging a change ------------------------------------------------------------------


def judge(old: Content, new: Content) -> list[tuple[str, str]]:
    """(severity, reason) of each change in a stage, priority, timetable or review."""
    before, after = _judged_blocks(old), _judged_blocks(new)
    found = []
    for key, text in after.items():
        if key not in before:
            found.append(_added(key, text))
        elif before[key] != text:
            found.append(_changed(key, before[key], text))
    found += [_removed(key, text) for key, text in before.items() if key not in after]
    return [("substantive", reason) for reason in found if reason]


def _judged_blocks(content: Content) -> dict[tuple[str, str, int], str]:
    """The blocks `judge` reads, by (section, label, n-th of that label)."""
    seen: Counter = Counter()
    found = {}
    for block in content.blocks:
        if block.section in JUDGED_FIELDS or block.section in (TIMETABLE, REVIEW):
            key = (block.section, block.label, seen[(block.section, block.label)])
            seen[(block.section, block.label)] += 1
            found[key] = block.text
    return found


def _value(key: tuple[str, str, int], text: str) -> str:
    """What a block says after its name: "Stage: Final Rule Stage" -> "Final Rule Stage"."""
    name = key[1] if key[0] in (TIMETABLE, REVIEW) else key[0]
    return text.removeprefix(name).removeprefix(":").strip()


def _added(key, text: str) -> str:
    section, label, _ = key
    if section == REVIEW:
        received = text.split(";", maxsplit=1)[0]  # "OIRA review received 2026-12-01: Interim Final Rule"
        concluded = text.partition(CONCLUDED)[2]
        return received + (f"; concluded {concluded}" if concluded else "")
    if section == TIMETABLE:
        return f"timetable: {label} {_value(key, text)}"
    return f"{JUDGED_FIELDS[section]}: {_value(key, text)}"


def _changed(key, old: str, new: str) -> str:
    section, label, _ = key
    if section == REVIEW:
        stage = new.split(";", maxsplit=1)[0].partition(": ")[2]
        received = label.removeprefix(REVIEW_PREFIX)
        concluded = new.partition(CONCLUDED)[2]
        if concluded and concluded != old.partition(CONCLUDED)[2]:
            return f"OIRA review concluded {concluded} ({stage}, received {received})"
        return f"OIRA review received {received} now reads: {_value(key, new)}"
    if section == TIMETABLE:
        return f"timetable: {label} {_value(key, old)} → {_value(key, new)}"
    return f"{JUDGED_FIELDS[section]}: {_value(key, old)} → {_value(key, new)}"


def _removed(key, text: str) -> str:
    section, label, _ = key
    if section == REVIEW:
        return f"{text.split(';', maxsplit=1)[0]}: no longer listed by OIRA"
    if section == TIMETABLE:
        return f"timetable: {label} {_value(key, text)} removed"
    return f"{JUDGED_FIELDS[section]} no longer given (was {_value(key, text)})"

"""The scheduler's heartbeat: one settings row, one format, written and read only here.

The process holding the scheduler writes `{"at": ISO time, "holder": "host:pid"}` under
HEARTBEAT_KEY every HEARTBEAT_INTERVAL seconds; /healthz reads it back and calls the
scheduler active while the last beat is younger than HEARTBEAT_FRESH.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from storage.db import utcnow
from storage.models import Setting
from tracker.shapes import iso

HEARTBEAT_KEY = "scheduler_heartbeat"
HEARTBEAT_INTERVAL = 30  # seconds between two beats of a running scheduler
HEARTBEAT_FRESH = timedelta(minutes=2)  # four beats missed: the scheduler is stale


@dataclass(frozen=True)
class Heartbeat:
    at: datetime | None  # None: the row cannot be read
    holder: str | None  # the process that beat, "host:pid"

    def fresh(self, now: datetime | None = None) -> bool:
        return self.at is not None and (now or utcnow()) - self.at < HEARTBEAT_FRESH


def beat(session: Session, holder: str, now: datetime | None = None) -> None:
    """Record that the scheduler held by `holder` is alive."""
    value = json.dumps({"at": iso(now or utcnow()), "holder": holder})
    row = session.get(Setting, HEARTBEAT_KEY)
    if row is None:
        session.add(Setting(key=HEARTBEAT_KEY, value=value))
    else:
        row.value = value


def last_heartbeat(session: Session) -> Heartbeat | None:
    """The last beat; None when no scheduler ever beat."""
    row = session.get(Setting, HEARTBEAT_KEY)
    return parse(row.value) if row is not None and row.value else None


def parse(value: str) -> Heartbeat:
    """A heartbeat row's value; what is not the format above reads as a beat at no known time."""
    try:
        data = json.loads(value)
    except ValueError:
        return Heartbeat(None, None)
    if not isinstance(data, dict):
        return Heartbeat(None, None)
    holder = data.get("holder")
    return Heartbeat(_moment(data.get("at")), holder if isinstance(holder, str) else None)


def scheduler_state(heartbeat: Heartbeat | None, now: datetime | None = None) -> dict:
    """/healthz's scheduler fields: absent (never beat), active (a fresh beat) or stale."""
    if heartbeat is None:
        return {"scheduler": "absent", "last_heartbeat": None, "scheduler_holder": None}
    return {
        "scheduler": "active" if heartbeat.fresh(now) else "stale",
        "last_heartbeat": iso(heartbeat.at),
        "scheduler_holder": heartbeat.holder,
    }


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored times are UTC

"""The audit log: every review action, sign-in and sign-out, and change to an account, kept as a row."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import AuditEntry

ADMIN_TOKEN_ACTOR = "admin token"  # who acted, when it was someone holding [web] admin_token
COMMAND_LINE_ACTOR = "command line"  # an account added or removed with `rulewatch users`


def record(
    session: Session,
    actor: str,
    action: str,
    at: datetime,
    *,
    event_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    subject: str | None = None,
    detail: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        event_id=event_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
        subject=subject,
        detail=detail[:300] if detail else detail,
    )
    session.add(entry)
    return entry

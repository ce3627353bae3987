"""An officer's visits: "new since my last visit" means stored after the login before this one.

Each login moves the officer's current visit to ``previous_at`` and starts a new one, so
the marker survives page reloads and logouts within a visit and clears on the next login.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from service.store.tables import OfficerVisit


def start_visit(session: Session, username: str, now: datetime | None = None) -> None:
    """Record a login of ``username`` (in the login's transaction)."""
    now = now or datetime.now(UTC)
    visit = session.get(OfficerVisit, username)
    if visit is None:
        session.add(OfficerVisit(username=username, previous_at=None, current_at=now))
    else:
        visit.previous_at, visit.current_at = visit.current_at, now


def last_visit(session: Session, username: str) -> datetime | None:
    """When the officer's visit before this one began; ``None`` on the first visit."""
    visit = session.get(OfficerVisit, username)
    return None if visit is None else visit.previous_at

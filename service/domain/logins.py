"""Officers' sessions, kept server-side, and the login throttle.

The session cookie (Flask's signed cookie) carries only a random token; the table
``officer_sessions`` holds its SHA-256, the officer, the login time and the last request.
A session is valid while its row exists, the officer is not disabled, it is younger than
the absolute lifetime (8 h) and was used within the idle limit (30 min).  Logout deletes
the row; disabling an officer or changing the password deletes all of them
(:func:`end_all`), so a cookie copied before stops working at once.

Failed logins are counted per account and per client address (``login_throttle``).  After
``login_max_failures`` failures each further one doubles the wait
(``login_backoff_seconds`` · 2ⁿ, at most ``login_backoff_max_seconds``); while a key must
wait, the password is not even checked.  A success clears the account's count (never the
address's: one valid account must not reset an address that guesses others).  Quiet for
``login_backoff_max_seconds``, a count starts again.  Every refusal is audited.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.config import Settings
from service.store import audit
from service.store.db import Database
from service.store.tables import LoginThrottle, Officer, OfficerSession

TOUCH_EVERY = timedelta(seconds=60)
"""``last_seen_at`` is written at most this often (a write per request would queue every
page behind renders on SQLite); the idle limit is therefore exact to a minute."""

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    absolute: timedelta
    idle: timedelta
    max_failures: int
    backoff: timedelta
    backoff_max: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            absolute=timedelta(minutes=settings.session_absolute_minutes),
            idle=timedelta(minutes=settings.session_idle_minutes),
            max_failures=settings.login_max_failures,
            backoff=timedelta(seconds=settings.login_backoff_seconds),
            backoff_max=timedelta(seconds=settings.login_backoff_max_seconds),
        )


@dataclass(frozen=True)
class SessionOfficer:
    """The officer behind a valid session."""

    username: str
    full_name: str
    authority: str


def end_all(db: Session, username: str) -> int:
    """Delete every session of ``username`` (disable, password change); return how many."""
    result = db.execute(delete(OfficerSession).where(OfficerSession.username == username))
    return int(getattr(result, "rowcount", 0) or 0)


def account_key(username: str) -> str:
    return f"account:{username[:64]}"


def address_key(address: str) -> str:
    return f"address:{address[:64]}"


class Logins:
    """Sessions and throttle of one app; ``clock`` may be replaced (tests)."""

    def __init__(self, database: Database, policy: SessionPolicy, clock: Clock = _now) -> None:
        self.database = database
        self.policy = policy
        self.clock = clock

    # ----- sessions -------------------------------------------------------------------

    def start(self, db: Session, username: str, address: str) -> str:
        """A new session for ``username`` in the caller's transaction; return its token.

        The officer's expired sessions are swept on the way (their rows are useless)."""
        now = self.clock()
        db.execute(
            delete(OfficerSession).where(
                OfficerSession.username == username,
                (OfficerSession.created_at <= now - self.policy.absolute)
                | (OfficerSession.last_seen_at <= now - self.policy.idle),
            )
        )
        token = secrets.token_urlsafe(32)
        db.add(
            OfficerSession(
                id=_digest(token),
                username=username,
                created_at=now,
                last_seen_at=now,
                address=address[:64],
            )
        )
        return token

    def _expiry(self, row: OfficerSession, now: datetime) -> str | None:
        if now >= row.created_at + self.policy.absolute:
            return "absolute"
        if now >= row.last_seen_at + self.policy.idle:
            return "idle"
        return None

    def resolve(self, token: str, address: str) -> SessionOfficer | None:
        """The officer of a valid session; an expired session is deleted and audited."""
        now = self.clock()
        key = _digest(token)
        with self.database.reading() as db:
            found = db.execute(
                select(OfficerSession, Officer)
                .join(Officer, Officer.username == OfficerSession.username)
                .where(OfficerSession.id == key)
            ).one_or_none()
            if found is None:
                return None
            row, officer = found
            expired = self._expiry(row, now)
            stale = now - row.last_seen_at >= TOUCH_EVERY
            username = row.username
            who = (
                None
                if officer.disabled_at is not None
                else SessionOfficer(officer.username, officer.full_name, officer.authority)
            )
        if expired is not None or who is None:
            with self.database.transaction() as db:
                db.execute(delete(OfficerSession).where(OfficerSession.id == key))
                audit.record(
                    db,
                    actor=f"officer:{username}",
                    action="session.expired",
                    address=address,
                    details={"reason": expired or "disabled"},
                )
            return None
        if stale:
            with self.database.transaction() as db:
                touched = db.get(OfficerSession, key)
                if touched is not None:
                    touched.last_seen_at = now
        return who

    def end(self, db: Session, token: str) -> None:
        db.execute(delete(OfficerSession).where(OfficerSession.id == _digest(token)))

    # ----- throttle -------------------------------------------------------------------

    def wait_seconds(self, username: str, address: str) -> int:
        """Seconds before this account or address may try again (0: now)."""
        now = self.clock()
        keys = [account_key(username), address_key(address)]
        with self.database.reading() as db:
            rows = db.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).scalars()
            waits = [
                (row.blocked_until - now).total_seconds()
                for row in rows
                if row.blocked_until is not None and row.blocked_until > now
            ]
        return math.ceil(max(waits)) if waits else 0

    def failed(self, db: Session, username: str, address: str) -> int:
        """Count a failure for the account and the address; return the new wait (s)."""
        now = self.clock()
        wait = 0.0
        for key in (account_key(username), address_key(address)):
            row = self._locked_row(db, key, now)
            if now - row.last_failure_at >= self.policy.backoff_max:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= self.policy.max_failures:
                exponent = min(row.failures - self.policy.max_failures, 30)
                delay = min(self.policy.backoff * 2**exponent, self.policy.backoff_max)
                row.blocked_until = now + delay
                wait = max(wait, delay.total_seconds())
        return math.ceil(wait)

    @staticmethod
    def _locked_row(db: Session, key: str, now: datetime) -> LoginThrottle:
        """The key's row, locked; created if missing (a concurrent insert is retried)."""
        row = db.get(LoginThrottle, key, with_for_update=True)
        if row is not None:
            return row
        try:
            with db.begin_nested():
                row = LoginThrottle(key=key, failures=0, last_failure_at=now)
                db.add(row)
                db.flush()
            return row
        except IntegrityError:
            found = db.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
            assert found is not None
            return found

    def succeeded(self, db: Session, username: str) -> None:
        row = db.get(LoginThrottle, account_key(username))
        if row is not None:
            db.delete(row)

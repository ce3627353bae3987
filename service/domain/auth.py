"""API keys for upstream systems and passwords for officers.

An API key reads ``mdk_<id>_<secret>``: the id finds the row, only SHA-256 of the
256-bit random secret is stored (a slow hash adds nothing to a secret of that entropy).
Officer passwords are hashed with scrypt (n=2**15, r=8, p=1) and a random salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from service.domain.logins import end_all
from service.errors import MigdocsError
from service.pipeline.vocabulary import AUTHORITIES
from service.store.tables import ApiKey, Officer

KEY_PREFIX = "mdk"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


class Unauthenticated(MigdocsError):
    code = "unauthorized"


class AuthorityUnknown(MigdocsError):
    code = "unknown_authority"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an upstream system (API key) or an officer, and for which authority."""

    kind: str
    """``apikey`` or ``officer``."""
    name: str
    authority: str

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def _check_authority(authority: str) -> None:
    if authority not in AUTHORITIES:
        raise AuthorityUnknown(
            f"unknown authority {authority!r}; expected one of {', '.join(AUTHORITIES)}"
        )


def create_api_key(session: Session, authority: str, label: str) -> tuple[ApiKey, str]:
    """Create a key; return the row and the full key, which is never shown again."""
    _check_authority(authority)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        authority=authority,
        label=label,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    return row, f"{KEY_PREFIX}_{key_id}_{secret}"


_KEY_LOOKUP = select(
    ApiKey.__table__.c.id,
    ApiKey.__table__.c.secret_sha256,
    ApiKey.__table__.c.authority,
    ApiKey.__table__.c.revoked_at,
).where(ApiKey.__table__.c.id == bindparam("key_id"))
"""Built once: every API request runs it (a plain row; no ORM object to load)."""


def authenticate_api_key(db: Session | Connection, presented: str | None) -> Principal:
    """The principal of a presented key; :class:`Unauthenticated` if missing or wrong."""
    if not presented:
        raise Unauthenticated("missing API key: send it in the X-API-Key header")
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("malformed API key")
    row = db.execute(_KEY_LOOKUP, {"key_id": parts[1]}).first()
    digest = hashlib.sha256(parts[2].encode()).hexdigest()
    # Compare even when the row is missing, so timing does not tell which part was wrong.
    expected = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(digest, expected) or row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid or revoked API key")
    return Principal("apikey", row.id, row.authority)


def revoke_api_key(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise MigdocsError(f"no API key with id {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars())


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)
    b64 = base64.b64encode
    return (
        f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
        f"{b64(salt).decode()}${b64(digest).decode()}"
    )


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def add_officer(
    session: Session, username: str, full_name: str, authority: str, password: str
) -> Officer:
    _check_authority(authority)
    if len(password) < 10:
        raise MigdocsError("password must have at least 10 characters")
    if session.get(Officer, username) is not None:
        raise MigdocsError(f"officer {username!r} already exists")
    row = Officer(
        username=username,
        full_name=full_name,
        authority=authority,
        password_hash=hash_password(password),
        created_at=datetime.now(UTC),
    )
    session.add(row)
    return row


def disable_officer(session: Session, username: str) -> Officer:
    row = session.get(Officer, username)
    if row is None:
        raise MigdocsError(f"no officer {username!r}")
    if row.disabled_at is None:
        row.disabled_at = datetime.now(UTC)
    end_all(session, username)
    return row


def set_officer_password(session: Session, username: str, password: str) -> Officer:
    """Change an officer's password; every session of the officer ends with it."""
    row = session.get(Officer, username)
    if row is None:
        raise MigdocsError(f"no officer {username!r}")
    if len(password) < 10:
        raise MigdocsError("password must have at least 10 characters")
    row.password_hash = hash_password(password)
    end_all(session, username)
    return row


def authenticate_officer(session: Session, username: str, password: str) -> Principal:
    row = session.get(Officer, username)
    # Hash even for unknown users, so response time does not reveal which names exist.
    ok = check_password(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not ok or row.disabled_at is not None:
        raise Unauthenticated("wrong user name or password")
    return Principal("officer", row.username, row.authority)

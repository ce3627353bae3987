"""Officers' sessions are server-side: logout, disable and password change end them; idle
and absolute lifetimes; the login throttle (issue 10 item 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.domain.auth import disable_officer, set_officer_password
from service.domain.logins import Logins
from service.store.tables import AuditEntry, LoginThrottle, OfficerSession
from tests.service.conftest import OFFICER_PASSWORD, Env
from tests.service.test_officers import csrf_from, login

NEW_PASSWORD = "a new long password"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(env: Env) -> Iterator[FakeClock]:
    fake = FakeClock()
    logins: Logins = env.app.extensions["migdocs.logins"]
    logins.clock = fake
    yield fake


def copy_of(env: Env, client: FlaskClient) -> FlaskClient:
    """A second client carrying the same session cookie (a copied cookie)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = env.app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def actions(env: Env, prefix: str) -> list[tuple[str, str, str]]:
    with env.services.database.reading() as db:
        rows = db.execute(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.seq)
        ).scalars()
        return [(e.action, e.target, e.details) for e in rows]


def test_a_cookie_copied_before_logout_no_longer_works(env: Env) -> None:
    assert login(env.client).status_code == 302
    stolen = copy_of(env, env.client)
    assert stolen.get("/documents").status_code == 200
    assert stolen.get("/api/v1/documents").status_code == 200
    token = csrf_from(env.client, "/documents")
    assert env.client.post("/logout", data={"csrf_token": token}).status_code == 302
    response = stolen.get("/documents")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert stolen.get("/api/v1/documents").status_code == 401
    with env.services.database.reading() as db:
        assert db.execute(select(OfficerSession)).first() is None


def test_the_cookie_carries_a_token_not_the_officer(env: Env) -> None:
    login(env.client)
    with env.app.test_request_context():
        cookie = env.client.get_cookie("session")
        assert cookie is not None
        data = env.app.session_interface.get_signing_serializer(env.app).loads(cookie.value)  # type: ignore[attr-defined]
    assert set(data) == {"_permanent", "sid", "csrf_token"}
    assert "officer-kz-mvd" not in json.dumps(data)
    with env.services.database.reading() as db:
        row = db.execute(select(OfficerSession)).scalar_one()
    assert row.username == "officer-kz-mvd" and row.id != data["sid"]  # only its hash


def test_disable_and_password_change_end_every_session(env: Env) -> None:
    first, second = env.app.test_client(), env.app.test_client()
    assert login(first).status_code == 302 and login(second).status_code == 302
    with env.services.database.transaction() as db:
        set_officer_password(db, "officer-kz-mvd", NEW_PASSWORD)
    assert first.get("/documents").status_code == 302
    assert second.get("/api/v1/documents").status_code == 401
    assert login(first, password=OFFICER_PASSWORD).status_code == 401
    assert login(first, password=NEW_PASSWORD).status_code == 302
    assert first.get("/documents").status_code == 200
    with env.services.database.transaction() as db:
        disable_officer(db, "officer-kz-mvd")
    assert first.get("/documents").status_code == 302
    with env.services.database.reading() as db:
        assert db.execute(select(OfficerSession)).first() is None


def test_idle_expiry(env: Env, clock: FakeClock) -> None:
    login(env.client)
    clock.advance(minutes=29)
    assert env.client.get("/documents").status_code == 200  # and that counts as activity
    clock.advance(minutes=29)
    assert env.client.get("/documents").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = env.client.get("/documents")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert actions(env, "session.")[-1][2] == '{"reason":"idle"}'


def test_absolute_expiry_even_when_active(env: Env, clock: FakeClock) -> None:
    login(env.client)
    for _ in range(16):  # 16 × 29 min = 7 h 44 min of steady work
        clock.advance(minutes=29)
        assert env.client.get("/documents").status_code == 200
    clock.advance(minutes=17)  # 8 h 01 min after login
    assert env.client.get("/documents").status_code == 302
    assert actions(env, "session.")[-1][2] == '{"reason":"absolute"}'


def test_login_is_throttled_per_account_and_audited(env: Env, clock: FakeClock) -> None:
    for _ in range(5):
        assert login(env.client, password="wrong password!").status_code == 401
    # Sixth try, even with the right password: refused without checking it.
    refused = login(env.client)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert "Слишком много неудачных попыток входа" in refused.get_data(as_text=True)
    clock.advance(seconds=3)
    assert login(env.client, password="wrong password!").status_code == 401
    again = login(env.client)
    assert again.status_code == 429 and again.headers["Retry-After"] == "4"  # doubled
    clock.advance(seconds=5)
    assert login(env.client).status_code == 302
    with env.services.database.reading() as db:
        keys = {row.key: row.failures for row in db.execute(select(LoginThrottle)).scalars()}
    assert "account:officer-kz-mvd" not in keys  # success forgets the account's failures
    assert keys["address:127.0.0.1"] == 6  # ... but not the address's
    logged = actions(env, "login.")
    assert [a for a, _, _ in logged].count("login.failure") == 6
    throttled = [(t, d) for a, t, d in logged if a == "login.throttled"]
    assert throttled == [
        ("officer-kz-mvd", '{"retry_after":2}'),
        ("officer-kz-mvd", '{"retry_after":4}'),
    ]


def test_login_is_throttled_per_address_across_accounts(env: Env, clock: FakeClock) -> None:
    client = env.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert login(client, name, "guess guess guess").status_code == 401
    assert login(client, "officer-by-mvd").status_code == 429
    # Another address is not affected; the back-off is long over after 15 min of quiet.
    assert login(env.app.test_client(), "officer-by-mvd").status_code == 302
    clock.advance(minutes=16)
    assert login(client, "officer-by-mvd").status_code == 302

"""Pooled PostgreSQL connections are pinged after being idle, not at every checkout
(issue 15: one round trip less per transaction), and a connection that died while idle
is replaced without an error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from service.store import db as db_module
from service.store.db import Database
from tests.service.conftest import POSTGRES_ADMIN_URL, _postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def _terminate(database: Database) -> int:
    """Kill the server process of the pooled connection (as a restart would); its pid."""
    with database.reading() as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        admin.dispose()
    return pid


def test_a_connection_used_just_now_is_not_pinged(postgres_url: str) -> None:
    """No ping at a busy checkout: a connection killed a moment after its last use is
    found dead by the request itself (one error), then the pool is replaced."""
    database = Database(postgres_url)
    try:
        _terminate(database)
        with pytest.raises(OperationalError), database.reading() as session:
            session.execute(text("SELECT 1"))
        with database.reading() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        database.dispose()


def test_a_connection_that_died_while_idle_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(postgres_url)
    try:
        pid = _terminate(database)
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        with database.reading() as session:  # the ping fails, the pool reconnects
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        database.dispose()

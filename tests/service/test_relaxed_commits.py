"""``Database.write_connection(durable=False)`` (the verification audit entry, issue 15):
the commit does not wait for the disk, the row is committed all the same, and the pooled
connection goes back with durable commits for everyone else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from service.store.db import Database
from tests.service.conftest import _postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def _scratch_table(database: Database) -> None:
    with database.write_connection() as connection:
        connection.exec_driver_sql("CREATE TABLE scratch (n INTEGER)")


def test_sqlite_relaxed_commit_then_back_to_full(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _scratch_table(database)
    with database.write_connection(durable=False) as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        connection.exec_driver_sql("INSERT INTO scratch VALUES (1)")
    assert database.engine.pool.checkedin() == 1  # type: ignore[attr-defined]  # one connection
    with database.write_connection() as connection:  # the same pooled connection
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM scratch")).scalar() == 1
    database.dispose()


def test_sqlite_relaxed_commit_rolls_back_on_error(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _scratch_table(database)
    with pytest.raises(RuntimeError), database.write_connection(durable=False) as connection:
        connection.exec_driver_sql("INSERT INTO scratch VALUES (1)")
        raise RuntimeError("boom")
    with database.write_connection() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert connection.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 0
    database.dispose()


def test_postgresql_relaxed_commit_is_local_to_its_transaction(postgres_url: str) -> None:
    database = Database(postgres_url)
    _scratch_table(database)
    with database.write_connection(durable=False) as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        connection.exec_driver_sql("INSERT INTO scratch VALUES (1)")
    with database.write_connection() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert connection.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 1
    database.dispose()

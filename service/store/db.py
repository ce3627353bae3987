"""Database access for the service: one engine per app, short transactions."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from service.store import exchange_tables  # noqa: F401  (registers the exchange's tables)
from service.store import tables as models  # noqa: F401  (registers the service tables on the shared metadata)
from signing.db import make_engine

WRITE_OPTION = "migdocs_write"


def create_engine_for(url: str) -> Engine:
    """An engine whose write transactions take the write lock they will need up front.

    On SQLite (in WAL mode, so readers never wait for writers), a connection with the
    execution option ``migdocs_write`` starts with ``BEGIN IMMEDIATE``: a transaction that
    reads then writes (audit head, registration counter) then waits for the lock instead
    of failing with "database is locked" when it upgrades.  PostgreSQL uses
    ``SELECT … FOR UPDATE`` on the same rows.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        _ping_after_idle(engine)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            write = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled connection idle this long is pinged before use (see :func:`_ping_after_idle`)."""


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection only when it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip at every checkout — four per POST.
    Connections that die do so while idle (server restart, a firewall dropping idle
    sessions), so only those are pinged; a failed ping makes the pool retry with a fresh
    connection (``DisconnectionError``).  A connection lost during a burst still fails one
    request, and SQLAlchemy then replaces the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()  # end the transaction the driver began
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """Exclusive ``flock`` on ``path`` (blocking, no timeout); a no-op without a path.

    SQLite's own busy handler polls with growing sleeps and is unfair: under steady load
    one writer can starve past any timeout.  Writers of one SQLite database therefore
    queue on a kernel lock first (each acquisition opens its own file description, so
    threads of one process queue too).
    """
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Database:
    """The app's engine and session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine_for(url)
        database = self.engine.url.database
        self._write_lock = (
            Path(f"{database}.writelock")
            if self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
            else None
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        """Sessions for reading (and for the registry lookups of the signer)."""
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._autocommit_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else self.engine
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any error."""
        with _file_lock(self._write_lock), self.write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self, durable: bool = True) -> Iterator[Connection]:
        """A write transaction on a bare connection, for one-statement appends on hot
        paths (the audit entry of an anonymous verification): no ORM session to build.

        ``durable=False`` commits without waiting for the disk: the transaction is atomic
        and ordered as any other, but a power failure (not a crash of the process) may
        lose the last such commits — SQLite ``synchronous=NORMAL`` in WAL mode,
        PostgreSQL ``synchronous_commit = off``.  The next durable commit makes them
        durable too.  Meant for records whose loss in a power cut costs nothing lasting
        (a verification's audit entry); otherwise every anonymous upload would cost an
        ``fsync``, serialised across all workers on SQLite.
        """
        dialect = self.engine.dialect.name
        relaxed_sqlite = not durable and dialect == "sqlite"
        with _file_lock(self._write_lock), self._write_engine.connect() as connection:
            driver: Any = connection.connection.driver_connection
            if relaxed_sqlite:  # per connection, and outside a transaction
                driver.execute("PRAGMA synchronous = NORMAL")
            try:
                with connection.begin():
                    if not durable and dialect == "postgresql":
                        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    yield connection
            finally:
                if relaxed_sqlite:  # the pooled connection goes back as it came
                    try:
                        driver.execute("PRAGMA synchronous = FULL")
                    except Exception:
                        connection.invalidate()  # never reused with relaxed commits
                        raise

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A bare connection for one-statement reads on hot paths (the API key of every
        request): no ORM session to build, no transaction to begin and end."""
        with self._autocommit_engine.connect() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (never takes the write lock)."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

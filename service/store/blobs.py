"""The ``database`` storage backend: files as rows of ``blobs``, in their row's transaction.

With it, an application host keeps nothing of its own: any number of hosts behind a load
balancer share one PostgreSQL database, and a document written through one is read
through another.  :func:`open_storage` picks the backend named by the ``storage_backend``
setting (``files``, the default, or ``database``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.store.db import Database
from service.store.storage import _KEY, LocalStorage, Storage, StoredFile
from service.store.tables import StoredBlob

BACKENDS = ("files", "database")


_COLUMNS = StoredBlob.__table__.c
_UPSERT = text(
    f"INSERT INTO {StoredBlob.__tablename__} (key, data, stored_at) "
    "VALUES (:key, :data, :stored_at) "
    "ON CONFLICT (key) DO UPDATE SET data = excluded.data, stored_at = excluded.stored_at"
).bindparams(
    bindparam("key", type_=_COLUMNS.key.type),
    bindparam("data", type_=_COLUMNS.data.type),
    bindparam("stored_at", type_=_COLUMNS.stored_at.type),
)
"""The same SQL on PostgreSQL and SQLite, as text: SQLAlchemy 2.0 never caches its
``on_conflict_do_update`` constructs (``inherit_cache = False``) and compiled one on every
execution."""


class DatabaseStorage:
    """Files in the ``blobs`` table of the service's own PostgreSQL database.

    ``put``/``get``/``delete`` run in their own short transactions (on another connection
    when the caller is inside one); ``put_in``/``delete_in`` in the caller's.  The setting
    refuses SQLite, whose single writer would wait for itself there.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    @staticmethod
    def _check(key: str) -> str:
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid storage key {key!r}")
        return key

    def put_in(self, session: Session, key: str, data: bytes) -> None:
        self.put_all_in(session, {key: data})

    def put_all_in(self, session: Session, files: Mapping[str, bytes]) -> None:
        """One ``INSERT … ON CONFLICT DO UPDATE`` for all ``files``, in the caller's
        transaction (one round trip however many files)."""
        now = datetime.now(UTC)
        rows = [
            {"key": self._check(key), "data": data, "stored_at": now} for key, data in files.items()
        ]
        session.execute(_UPSERT, rows)

    def put(self, key: str, data: bytes) -> None:
        with self.database.transaction() as session:
            self.put_in(session, key, data)

    def get(self, key: str) -> bytes:
        with self.database.reading() as session:
            data = session.execute(
                select(StoredBlob.data).where(StoredBlob.key == self._check(key))
            ).scalar_one_or_none()
        if data is None:
            raise NotFound(f"stored file {key} is missing")
        return bytes(data)

    def delete_in(self, session: Session, key: str) -> None:
        session.execute(delete(StoredBlob).where(StoredBlob.key == self._check(key)))

    def delete(self, key: str) -> None:
        with self.database.transaction() as session:
            self.delete_in(session, key)

    def exists(self, key: str) -> bool:
        with self.database.reading() as session:
            found = session.execute(
                select(StoredBlob.key).where(StoredBlob.key == self._check(key))
            ).scalar_one_or_none()
        return found is not None

    def scan(self) -> Iterator[StoredFile]:
        with self.database.reading() as session:
            rows = session.execute(
                select(StoredBlob.key, StoredBlob.stored_at).order_by(StoredBlob.key)
            ).all()
        for key, stored_at in rows:
            yield StoredFile(key, "key", stored_at)

    def remove(self, found: StoredFile) -> None:
        self.delete(found.name)


def open_storage(backend: str, root: Path, database: Database) -> Storage:
    """The storage of the ``storage_backend`` setting: ``files`` under ``root`` or
    ``database`` (``root`` unused)."""
    if backend == "database":
        return DatabaseStorage(database)
    if backend == "files":
        return LocalStorage(root)
    raise ValueError(f"unknown storage backend {backend!r}; known: {', '.join(BACKENDS)}")

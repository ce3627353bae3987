"""Where PDFs and XML live: an interface with a local-filesystem implementation.

The ``database`` backend (:mod:`service.store.blobs`) keeps them in PostgreSQL instead,
written in the transaction of their row, so that application hosts keep no state.

Files are written atomically (temporary file, fsync, rename, fsync of the directory), so a
reader never sees half a file and a crash leaves at most an unreferenced file or a
temporary one, never a database row pointing at nothing: rows are committed only after
their files are written.  :meth:`Storage.scan` lists everything under the root so that
``migdocs fsck`` can find what a crash left behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from service.errors import NotFound
from signing.files import atomic_write_bytes

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
_TEMPORARY = re.compile(r"\..+\.tmp")
"""Name of an unfinished write of :func:`signing.files.atomic_write_bytes`."""


@dataclass(frozen=True)
class StoredFile:
    """One entry found by :meth:`Storage.scan`."""

    name: str
    """The key of a stored file, else the path relative to the storage root."""
    kind: Literal["key", "temporary", "stray"]
    """``key``: a stored file; ``temporary``: an unfinished write; ``stray``: neither."""
    modified: datetime


class Storage(Protocol):
    """Files by key (``<document id>.pdf``, ``<document id>.xml``, receipts, lists).

    An implementation (files, PostgreSQL, or an S3-compatible store) provides:

    - ``put``: store the bytes under the key, replacing any; atomic — a reader sees the
      old bytes or the new ones, never a mixture; durable when it returns.
    - ``put_in``: the same as part of the caller's database transaction where the
      backend can (``database``); a backend outside the database writes at once, so
      the file exists before the row that refers to it is committed, and a crash leaves
      at most an unreferenced file that ``migdocs fsck --repair`` removes.  An S3 store
      would ``PUT`` the object here (a failed ``PUT`` aborts the transaction).
    - ``get``: the bytes, or :class:`~service.errors.NotFound`; ``exists``; ``delete``
      (no error if missing); ``delete_in``: in the caller's transaction where it can.
    - ``scan``/``remove``: every entry, for ``migdocs fsck`` (S3: ``ListObjectsV2`` of
      the bucket prefix; ``modified`` is the object's ``LastModified``).

    Keys match ``[A-Za-z0-9][A-Za-z0-9._-]{0,200}``.
    """

    def put(self, key: str, data: bytes) -> None: ...
    def put_in(self, session: Session, key: str, data: bytes) -> None: ...
    def put_all_in(self, session: Session, files: Mapping[str, bytes]) -> None:
        """:meth:`put_in` for each of ``files`` (storage key → bytes)."""

    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def delete_in(self, session: Session, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def scan(self) -> Iterator[StoredFile]: ...
    def remove(self, found: StoredFile) -> None:
        """Delete an entry found by :meth:`scan` (any kind)."""


class LocalStorage:
    """Files under one root directory, two levels of fan-out by key prefix."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Documents carry personal data (Art. 6): readable by the service account only.
        atomic_write_bytes(path, data, mode=0o600)

    def put_in(self, session: Session, key: str, data: bytes) -> None:
        """Written at once (before the caller's transaction commits)."""
        self.put(key, data)

    def put_all_in(self, session: Session, files: Mapping[str, bytes]) -> None:
        for key, data in files.items():
            self.put(key, data)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"stored file {key} is missing") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_in(self, session: Session, key: str) -> None:
        """Deleted at once (before the caller's transaction commits)."""
        self.delete(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def scan(self) -> Iterator[StoredFile]:
        for path in sorted(self.root.rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(self.root).as_posix()
            modified = datetime.fromtimestamp(path.lstat().st_mtime, UTC)
            parent, _, name = relative.rpartition("/")
            if _TEMPORARY.fullmatch(name):
                yield StoredFile(relative, "temporary", modified)
            elif _KEY.fullmatch(name) and parent == name[:2] and path.is_file():
                yield StoredFile(name, "key", modified)
            else:
                yield StoredFile(relative, "stray", modified)

    def remove(self, found: StoredFile) -> None:
        if found.kind == "key":
            self.delete(found.name)
            return
        # abspath, not resolve: a stray symlink is removed itself, never its target
        path = Path(os.path.abspath(self.root / found.name))
        if Path(os.path.abspath(self.root)) not in path.parents:
            raise ValueError(f"{found.name} is not under the storage root")
        path.unlink(missing_ok=True)

"""Where PDFs and XML live: an interface with a local-filesystem implementation.

Files are written atomically (temporary file, fsync, rename, fsync of the directory), so a
reader never sees half a file and a crash leaves at most an unreferenced file or a
temporary one, never a database row pointing at nothing: rows are committed only after
their files are written.  :meth:`Storage.scan` lists everything under the root so that
``migdocs fsck`` can find what a crash left behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

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
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
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

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"stored file {key} is missing") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

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

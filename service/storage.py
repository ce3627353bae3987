"""Where PDFs and XML live: an interface with a local-filesystem implementation.

Files are written atomically (temporary file, fsync, rename, fsync of the directory), so a
reader never sees half a file and a crash leaves at most an unreferenced file, never a
database row pointing at nothing: rows are committed only after their files are written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from signing.files import atomic_write_bytes

from .errors import NotFound

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


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

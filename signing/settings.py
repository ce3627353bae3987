"""Defaults shared by the signing library, its CLI and the service.

Only small pure functions: configuration is read when called, never at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

INSTANCE_ENV = "MIGDOCS_INSTANCE"
DATABASE_URL_ENV = "DATABASE_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def instance_dir(env: Mapping[str, str] | None = None) -> Path:
    """The instance directory: ``$MIGDOCS_INSTANCE``, default ``./instance``."""
    env = os.environ if env is None else env
    return Path(env.get(INSTANCE_ENV) or "instance").absolute()


def database_url(env: Mapping[str, str] | None = None) -> str:
    """Registry database URL: ``$DATABASE_URL``, default SQLite in the instance dir."""
    env = os.environ if env is None else env
    url = env.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{instance_dir(env) / 'migdocs.sqlite3'}"

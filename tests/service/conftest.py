"""Fixtures for the service: a demo PKI and registry, databases (SQLite and the real
PostgreSQL on 127.0.0.1), the app, API keys and officers."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from service.app import create_app
from service.domain.auth import add_officer, create_api_key
from service.store.db import Database
from service.store.migrate import upgrade
from service.web.context import Services
from signing.demo import build_demo

POSTGRES_ADMIN_URL = os.environ.get(
    "MIGDOCS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
OFFICER_PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo PKI + registry built once; each test copies it (keys are slow to make)."""
    instance = tmp_path_factory.mktemp("demo-instance")
    url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    _upgrade(url)
    build_demo(instance, url)
    return instance


def _upgrade(url: str) -> None:
    database = Database(url)
    try:
        upgrade(database)
    finally:
        database.dispose()


def _postgres_database() -> Iterator[str]:
    name = f"migdocs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test using this runs twice: on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'migdocs.sqlite3'}"
    else:
        yield from _postgres_database()


@dataclass
class Env:
    app: Flask
    client: FlaskClient
    services: Services
    instance: Path
    keys: dict[str, str]
    """Authority code → API key."""

    def post_xml(self, raw: bytes, authority: str = "KZ-MVD", **headers: str):  # type: ignore[no-untyped-def]
        return self.client.post(
            "/api/v1/documents",
            data=raw,
            headers={
                "X-API-Key": self.keys[authority],
                "Content-Type": "application/xml",
                **headers,
            },
        )


def make_env(
    demo_template: Path,
    tmp_path: Path,
    database_url: str,
    config: dict[str, object] | None = None,
) -> Env:
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance, dirs_exist_ok=True)
    if not database_url.startswith("sqlite"):
        # Register the demo signatories (same keys) in the fresh PostgreSQL database.
        _upgrade(database_url)
        build_demo(instance, database_url)
    app = create_app(
        {
            "instance_dir": str(instance),
            "database_url": database_url,
            "testing": True,
            "session_cookie_secure": False,
            **(config or {}),
        }
    )
    services: Services = app.extensions["migdocs"]
    upgrade(services.database)
    keys = {}
    with services.database.transaction() as session:
        for authority in ("KZ-MVD", "KZ-MTSZN", "BY-MVD", "BY-GPK"):
            _, keys[authority] = create_api_key(session, authority, f"tests {authority}")
            add_officer(
                session,
                f"officer-{authority.lower()}",
                f"Офицер {authority}",
                authority,
                OFFICER_PASSWORD,
            )
    return Env(app, app.test_client(), services, instance, keys)


@pytest.fixture
def env(demo_template: Path, tmp_path: Path, database_url: str) -> Iterator[Env]:
    environment = make_env(demo_template, tmp_path, database_url)
    yield environment
    environment.services.database.dispose()


@pytest.fixture
def sqlite_env(demo_template: Path, tmp_path: Path) -> Iterator[Env]:
    environment = make_env(
        demo_template, tmp_path, f"sqlite:///{tmp_path / 'instance' / 'migdocs.sqlite3'}"
    )
    yield environment
    environment.services.database.dispose()

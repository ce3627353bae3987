"""Issue 15 item 3: the ``database`` storage backend (PDF and XML in PostgreSQL).

Real PostgreSQL, real rendering and signing: a document's files live in ``blobs``,
written in the transaction of its row (a rolled-back transaction leaves no file), read
back through the API; ``migdocs fsck`` sees them; the setting refuses what cannot work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from service.config import ConfigError, load_settings
from service.domain import fsck, retention
from service.store.blobs import DatabaseStorage
from service.store.tables import StoredBlob
from tests.service.conftest import Env, _postgres_database, make_env
from tests.service.test_api import REQUEST, with_new_id


@pytest.fixture
def pg_env(demo_template: Path, tmp_path: Path) -> Iterator[Env]:
    for url in _postgres_database():
        environment = make_env(demo_template, tmp_path, url, {"storage_backend": "database"})
        yield environment
        environment.services.database.dispose()


def test_documents_live_in_the_database_and_no_file_on_disk(pg_env: Env) -> None:
    assert isinstance(pg_env.services.storage, DatabaseStorage)
    raw = with_new_id(REQUEST)
    created = pg_env.post_xml(raw)
    assert created.status_code == 201
    body = created.get_json()
    headers = {"X-API-Key": pg_env.keys["KZ-MVD"]}
    pdf = pg_env.client.get(body["links"]["pdf"], headers=headers)
    assert hashlib.sha256(pdf.data).hexdigest() == body["sha256"]
    assert pg_env.client.get(body["links"]["xml"], headers=headers).data == raw
    with pg_env.services.database.reading() as session:
        keys = set(session.execute(select(StoredBlob.key)).scalars())
    assert keys == {f"{body['id']}.pdf", f"{body['id']}.xml"}
    storage_dir = pg_env.services.settings.storage_dir
    assert storage_dir is not None
    assert not storage_dir.exists() or not any(p.is_file() for p in storage_dir.rglob("*"))
    assert fsck.check(pg_env.services.database, pg_env.services.storage).remaining == []

    # Retention destroys the files in the transaction that marks the row destroyed.
    retention.purge(
        pg_env.services.database,
        pg_env.services.storage,
        {"default": 1},
        actor="test",
        now=datetime(2100, 1, 1, tzinfo=UTC),
    )
    with pg_env.services.database.reading() as session:
        assert session.execute(select(StoredBlob.key)).scalars().all() == []


def test_a_rolled_back_transaction_leaves_no_file(pg_env: Env) -> None:
    storage = pg_env.services.storage
    with pytest.raises(RuntimeError), pg_env.services.database.transaction() as session:
        storage.put_in(session, "rolled-back.pdf", b"%PDF-")
        raise RuntimeError("the row could not be stored")
    assert not storage.exists("rolled-back.pdf")
    storage.put("replaced.pdf", b"one")
    storage.put("replaced.pdf", b"two")
    assert storage.get("replaced.pdf") == b"two"
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put("../escape", b"x")


def test_fsck_finds_and_removes_a_blob_without_a_row(pg_env: Env) -> None:
    storage, database = pg_env.services.storage, pg_env.services.database
    storage.put("0123-no-such-document.pdf", b"%PDF-")
    report = fsck.check(database, storage)
    assert [p.kind for p in report.remaining] == ["file-without-row"]
    repaired = fsck.check(database, storage, repair=True)
    assert repaired.remaining == []
    assert not storage.exists("0123-no-such-document.pdf")


def test_the_setting_refuses_sqlite_and_unknown_backends(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    with pytest.raises(ConfigError, match="database needs PostgreSQL"):
        load_settings(
            {
                "instance_dir": str(tmp_path),
                "database_url": sqlite_url,
                "storage_backend": "database",
            },
            environ={},
        )
    with pytest.raises(ConfigError, match="'s3' is not files or database"):
        load_settings({"instance_dir": str(tmp_path), "storage_backend": "s3"}, environ={})

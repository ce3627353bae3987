"""Retention (Art. 11.5): dry run lists, purge destroys and records, a rerun does nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from service.cli.main import main
from service.config import ConfigError, load_settings
from service.paths import SAMPLES_DIR
from service.store.tables import AuditEntry, StoredDocument
from tests.service.conftest import Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()


def _cli(env: Env, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        list(args),
        env={
            "MIGDOCS_INSTANCE": str(env.instance),
            "DATABASE_URL": env.services.settings.database_url,
            "MIGDOCS_RETENTION_DAYS": "request=1825,default=3650",
        },
    )
    return result.exit_code, result.output


def test_purge_destroys_documents_past_retention_once(env: Env) -> None:
    old = env.post_xml(REQUEST).json
    fresh = env.post_xml(with_new_id(REQUEST)).json
    headers = {"X-API-Key": env.keys["KZ-MVD"]}
    old_pdf = env.client.get(old["links"]["pdf"], headers=headers).data
    with env.services.database.transaction() as session:
        session.execute(
            update(StoredDocument)
            .where(StoredDocument.id == old["id"])
            .values(created_at=datetime.now(UTC) - timedelta(days=1826))
        )

    code, output = _cli(env, "purge", "--dry-run")
    assert code == 0, output
    assert f"due: {old['registration_number']} (request)" in output
    assert fresh["registration_number"] not in output
    assert env.services.storage.exists(f"{old['id']}.pdf")

    code, output = _cli(env, "purge")
    assert code == 0, output
    assert "1 document(s) destroyed" in output
    assert not env.services.storage.exists(f"{old['id']}.pdf")
    assert not env.services.storage.exists(f"{old['id']}.xml")
    assert env.services.storage.exists(f"{fresh['id']}.pdf")

    gone = env.client.get(old["links"]["pdf"], headers=headers)
    assert gone.status_code == 410 and gone.json["error"] == "gone"
    meta = env.client.get(old["links"]["self"], headers=headers)
    assert meta.status_code == 200 and meta.json["sha256"] == old["sha256"]
    with env.services.database.reading() as session:
        [record] = session.query(AuditEntry).filter(AuditEntry.action == "document.destroy")
        assert record.target == old["id"]
        assert old["sha256"] in record.details and old["registration_number"] in record.details

    code, output = _cli(env, "purge")
    assert code == 0 and "0 document(s) destroyed" in output
    code, output = _cli(env, "audit", "verify")
    assert code == 0, output

    report = env.client.post(
        "/api/v1/verifications", data=old_pdf, headers={"Content-Type": "application/pdf"}
    ).json
    known = next(c for c in report["checks"] if c["code"] == "known_document")
    assert known["status"] == "PASSED"
    assert f"уничтожена {datetime.now(UTC):%Y-%m-%d}" in known["message"]


def test_retention_setting_is_validated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"MIGDOCS_INSTANCE": str(tmp_path)}
    settings = load_settings(None, {**base, "MIGDOCS_RETENTION_DAYS": "request=30"})
    assert settings.retention_days == {"request": 30, "default": 1825}
    for bad in ("request", "request=soon", "request=0"):
        with pytest.raises(ConfigError, match="retention_days"):
            load_settings(None, {**base, "MIGDOCS_RETENTION_DAYS": bad})

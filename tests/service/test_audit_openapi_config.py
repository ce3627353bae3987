"""Audit chain tampering, the OpenAPI document, layered configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate
from sqlalchemy import delete, text

from service.cli.main import main
from service.config import ConfigError, load_settings
from service.paths import SAMPLES_DIR
from service.store.tables import AuditEntry
from tests.service.conftest import Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()


def _audit_verify(env: Env) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["audit", "verify"],
        env={
            "MIGDOCS_INSTANCE": str(env.instance),
            "DATABASE_URL": env.services.settings.database_url,
        },
    )
    return result.exit_code, result.output


def _fill_log(env: Env) -> None:
    for _ in range(2):
        body = env.post_xml(with_new_id(REQUEST)).json
        env.client.get(body["links"]["pdf"], headers={"X-API-Key": env.keys["KZ-MVD"]})


def test_audit_verify_passes_on_untouched_log(env: Env) -> None:
    _fill_log(env)
    code, output = _audit_verify(env)
    assert code == 0, output
    assert "audit log intact" in output


def test_editing_one_row_breaks_the_chain(env: Env) -> None:
    _fill_log(env)
    with env.services.database.transaction() as session:
        session.execute(text("UPDATE audit_log SET address = '10.9.9.9' WHERE seq = 3"))
    code, output = _audit_verify(env)
    assert code == 1
    assert "entry 3: content was changed" in output


def test_deleting_a_middle_row_breaks_the_chain(env: Env) -> None:
    _fill_log(env)
    with env.services.database.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    code, output = _audit_verify(env)
    assert code == 1
    assert "entries are missing" in output


def test_deleting_the_newest_row_is_detected(env: Env) -> None:
    _fill_log(env)
    with env.services.database.transaction() as session:
        last = session.query(AuditEntry).order_by(AuditEntry.seq.desc()).first()
        assert last is not None
        session.delete(last)
    code, output = _audit_verify(env)
    assert code == 1
    assert "entries were deleted" in output


def test_openapi_is_valid_and_describes_every_route(sqlite_env: Env) -> None:
    spec = sqlite_env.client.get("/api/v1/openapi.json").json
    validate(spec)
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in sqlite_env.app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} missing from OpenAPI"


def test_config_layers_and_unknown_keys(tmp_path: Path) -> None:
    config = tmp_path / "migdocs.toml"
    config.write_text('base_url = "https://docs.example"\npage_size = 20\n')
    env = {
        "MIGDOCS_CONFIG": str(config),
        "MIGDOCS_PAGE_SIZE": "30",
        "MIGDOCS_INSTANCE": str(tmp_path),
    }
    settings = load_settings({"page_size": 40}, env)
    assert settings.base_url == "https://docs.example"
    assert settings.page_size == 40
    assert load_settings(None, env).page_size == 30
    assert settings.database_url == f"sqlite:///{tmp_path / 'migdocs.sqlite3'}"
    with pytest.raises(ConfigError, match="unknown setting 'PAGESIZE'"):
        load_settings(None, {"MIGDOCS_PAGESIZE": "3", "MIGDOCS_INSTANCE": str(tmp_path)})
    config.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(None, env)
    with pytest.raises(ConfigError, match="not a valid int"):
        load_settings({"page_size": "many"}, {"MIGDOCS_INSTANCE": str(tmp_path)})


def test_cli_changes_are_audited(sqlite_env: Env) -> None:
    cli_env = {
        "MIGDOCS_INSTANCE": str(sqlite_env.instance),
        "DATABASE_URL": sqlite_env.services.settings.database_url,
    }
    runner = CliRunner()
    created = runner.invoke(
        main, ["apikey", "create", "--authority", "BY-GPK", "--label", "ИС ГПК"], env=cli_env
    )
    assert created.exit_code == 0, created.output
    key_id = created.output.split()[2]
    revoked = runner.invoke(
        main, ["registry", "revoke", "BY-GPK-001", "--reason", "уволен"], env=cli_env
    )
    assert revoked.exit_code == 0, revoked.output
    with sqlite_env.services.database.reading() as session:
        entries = {(e.action, e.target) for e in session.query(AuditEntry)}
    assert ("apikey.create", key_id) in entries
    assert ("registry.revoke", "BY-GPK-001") in entries
    assert _audit_verify(sqlite_env)[0] == 0

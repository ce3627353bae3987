"""``migdocs peer add|list|remove``, the ``party`` setting and single-node mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import main
from service.config import ConfigError, load_settings
from service.exchange.nodecert import issue_node_identity
from service.store.db import Database
from service.store.tables import AuditEntry
from tests.service.conftest import demo_template  # noqa: F401


@pytest.fixture
def cli_env(demo_template: Path, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance)
    env = {
        "MIGDOCS_INSTANCE": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'migdocs.sqlite3'}",
    }
    result = CliRunner(env=env).invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return env


def test_peer_add_list_remove(cli_env: dict[str, str]) -> None:
    instance = Path(cli_env["MIGDOCS_INSTANCE"])
    by = issue_node_identity(instance, "BY")
    runner = CliRunner(env=cli_env)
    add = [
        "peer",
        "add",
        "--party",
        "BY",
        "--url",
        "https://127.0.0.1:8443/",
        "--trust-root",
        str(by.root),
        "--node-cert",
        str(by.cert),
    ]
    added = runner.invoke(main, add, catch_exceptions=False)
    assert added.exit_code == 0, added.output
    assert "migdocs node BY" in added.output

    listed = runner.invoke(main, ["peer", "list", "--json"], catch_exceptions=False)
    (peer,) = json.loads(listed.output)
    assert peer["party"] == "BY"
    assert peer["url"] == "https://127.0.0.1:8443"
    assert len(peer["node_cert_sha256"]) == 64

    removed = runner.invoke(main, ["peer", "remove", "BY"], catch_exceptions=False)
    assert removed.exit_code == 0
    assert json.loads(runner.invoke(main, ["peer", "list", "--json"]).output) == []
    again = runner.invoke(main, ["peer", "remove", "BY"])
    assert again.exit_code != 0 and "no peer registered for BY" in again.output

    database = Database(cli_env["DATABASE_URL"])
    try:
        with database.reading() as session:
            actions = [e.action for e in session.query(AuditEntry).order_by(AuditEntry.seq)]
    finally:
        database.dispose()
    assert actions[-2:] == ["peer.add", "peer.remove"]


def test_peer_add_refuses_bad_input_and_records_nothing(cli_env: dict[str, str]) -> None:
    instance = Path(cli_env["MIGDOCS_INSTANCE"])
    by = issue_node_identity(instance, "BY")
    runner = CliRunner(env=cli_env)

    def add(url: str, root: Path, cert: Path) -> str:
        result = runner.invoke(
            main,
            [
                *("peer", "add", "--party", "BY", "--url", url),
                *("--trust-root", str(root), "--node-cert", str(cert)),
            ],
        )
        assert result.exit_code == 1, result.output
        return result.output

    assert "use https://" in add("http://127.0.0.1:8443", by.root, by.cert)
    kz_root = instance / "pki" / "kz-root.pem"
    assert "not among the trust roots" in add("https://x:1", kz_root, by.cert)
    assert "node certificate: not a PEM" in add("https://x:1", by.root, by.key)
    assert json.loads(runner.invoke(main, ["peer", "list", "--json"]).output) == []


def test_party_setting_is_checked() -> None:
    assert load_settings({"party": "BY"}, environ={}).party == "BY"
    assert load_settings({}, environ={}).party is None
    with pytest.raises(ConfigError, match="'RU' is not KZ or BY"):
        load_settings({"party": "RU"}, environ={})


def test_peer_identity_issues_once(cli_env: dict[str, str]) -> None:
    instance = Path(cli_env["MIGDOCS_INSTANCE"])
    runner = CliRunner(env=cli_env)
    refused = runner.invoke(main, ["peer", "identity"])
    assert refused.exit_code == 2 and "set party" in refused.output
    env = cli_env | {"MIGDOCS_PARTY": "KZ"}
    first = CliRunner(env=env).invoke(main, ["peer", "identity"], catch_exceptions=False)
    assert first.exit_code == 0 and "issued the node identity of KZ" in first.output
    cert = instance / "pki" / "node-kz.pem"
    issued = cert.read_bytes()
    again = CliRunner(env=env).invoke(main, ["peer", "identity"], catch_exceptions=False)
    assert "issued" not in again.output and str(cert) in again.output
    assert cert.read_bytes() == issued  # kept
    renewed = CliRunner(env=env).invoke(main, ["peer", "identity", "--renew"])
    assert renewed.exit_code == 0 and cert.read_bytes() != issued

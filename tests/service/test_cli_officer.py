"""``migdocs officer add | disable``: the password never shows, both are audited, and a
disabled officer can no longer log in."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli.main import main
from service.domain.auth import Unauthenticated, authenticate_officer
from service.store.db import Database
from service.store.tables import AuditEntry, Officer

PASSWORD = "s3cret-Пароль-do-not-print"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    instance = tmp_path / "instance"
    env = {
        "MIGDOCS_INSTANCE": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'migdocs.sqlite3'}",
    }
    result = CliRunner(env=env).invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return env


def _database(env: dict[str, str]) -> Database:
    return Database(env["DATABASE_URL"])


def test_officer_add_and_disable(cli_env: dict[str, str]) -> None:
    runner = CliRunner(env={**cli_env, "MIGDOCS_OFFICER_PASSWORD": PASSWORD})
    added = runner.invoke(
        main,
        ["officer", "add", "ivanov", "--name", "Иванов И.И.", "--authority", "BY-MVD"],
        catch_exceptions=False,
    )
    assert added.exit_code == 0, added.output
    assert "officer ivanov (BY-MVD) added" in added.output
    assert PASSWORD not in added.output and PASSWORD not in added.stderr

    database = _database(cli_env)
    try:
        with database.reading() as session:
            row = session.get(Officer, "ivanov")
            assert row is not None and row.authority == "BY-MVD"
            assert row.full_name == "Иванов И.И." and PASSWORD not in row.password_hash
            assert authenticate_officer(session, "ivanov", PASSWORD).authority == "BY-MVD"

        again = runner.invoke(
            main, ["officer", "add", "ivanov", "--name", "X", "--authority", "BY-MVD"]
        )
        assert again.exit_code != 0 and "already exists" in again.output
        assert PASSWORD not in again.output

        disabled = CliRunner(env=cli_env).invoke(
            main, ["officer", "disable", "ivanov"], catch_exceptions=False
        )
        assert disabled.exit_code == 0, disabled.output
        assert "officer ivanov disabled" in disabled.output
        with database.reading() as session:
            row = session.get(Officer, "ivanov")
            assert row is not None and row.disabled_at is not None
            with pytest.raises(Unauthenticated):
                authenticate_officer(session, "ivanov", PASSWORD)
            entries = session.execute(
                select(AuditEntry).where(AuditEntry.target == "ivanov").order_by(AuditEntry.seq)
            ).scalars()
            audited = [(e.action, e.actor.startswith("cli:"), e.details) for e in entries]
        assert audited == [
            ("officer.add", True, '{"authority":"BY-MVD"}'),
            ("officer.disable", True, "{}"),
        ]
        assert all(PASSWORD not in details for _, _, details in audited)
    finally:
        database.dispose()


def test_officer_add_refuses_bad_input_without_echoing_the_password(
    cli_env: dict[str, str],
) -> None:
    short = "short"
    runner = CliRunner(env={**cli_env, "MIGDOCS_OFFICER_PASSWORD": short})
    too_short = runner.invoke(
        main, ["officer", "add", "petrov", "--name", "Петров П.П.", "--authority", "KZ-MVD"]
    )
    assert too_short.exit_code != 0 and "at least 10 characters" in too_short.output
    unknown = CliRunner(env={**cli_env, "MIGDOCS_OFFICER_PASSWORD": PASSWORD}).invoke(
        main, ["officer", "add", "petrov", "--name", "Петров П.П.", "--authority", "RU-MVD"]
    )
    assert unknown.exit_code != 0 and "unknown authority" in unknown.output
    assert PASSWORD not in unknown.output
    missing = CliRunner(env=cli_env).invoke(main, ["officer", "disable", "nobody"])
    assert missing.exit_code != 0 and "no officer 'nobody'" in missing.output
    database = _database(cli_env)
    try:
        with database.reading() as session:
            assert session.get(Officer, "petrov") is None
            actions = session.execute(select(AuditEntry.action)).scalars().all()
        assert "officer.add" not in actions and "officer.disable" not in actions
    finally:
        database.dispose()


def test_password_is_prompted_when_not_in_the_environment(cli_env: dict[str, str]) -> None:
    runner = CliRunner(env={**cli_env, "MIGDOCS_OFFICER_PASSWORD": None})
    result = runner.invoke(
        main,
        ["officer", "add", "sidorov", "--name", "Сидоров С.С.", "--authority", "KZ-MTSZN"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and PASSWORD not in result.output

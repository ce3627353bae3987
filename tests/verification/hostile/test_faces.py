"""The same forgeries through the other two faces: the CLI and the /verify page."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from service.cli.main import main
from tests.verification.conftest import Env, Signed
from tests.verification.hostile.test_wrapping import literal_contents_wrapping
from tests.verification.test_page import upload
from tests.verification.test_verification import cli_env  # noqa: F401  (fixture)


def test_forgeries_fail_through_the_cli(
    cli_env: Env,  # noqa: F811
    signed: Signed,
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    for name, data in {
        "wrapped.pdf": literal_contents_wrapping(signed.pdf),
        "appended.pdf": signed.pdf + b"x",
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = runner.invoke(main, ["verify", str(path)])
        assert result.exit_code == 1, (name, result.output)
        assert "TOTAL_FAILED / FORMAT_FAILURE" in result.output.splitlines()[0]


def test_forgery_is_red_on_the_page(sqlite_env: Env, signed: Signed) -> None:
    page = upload(sqlite_env, literal_contents_wrapping(signed.pdf))
    assert 'data-indication="TOTAL_FAILED"' in page and "verdict-card bad" in page
    assert 'data-code="format" data-status="FAILED"' in page

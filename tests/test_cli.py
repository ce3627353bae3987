"""The render and validate commands, run as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from service.paths import SAMPLES_DIR

MIGDOCS = [sys.executable, "-m", "service"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*MIGDOCS, *args], input=stdin, capture_output=True, timeout=120)


def test_validate_valid_sample() -> None:
    result = run("validate", str(SAMPLES_DIR / "request-photo.xml"))
    assert result.returncode == 0
    assert b"valid request" in result.stdout


def test_validate_lists_every_violation_with_line_and_path(tmp_path: Path) -> None:
    bad = (SAMPLES_DIR / "request-photo.xml").read_text("utf-8")
    bad = bad.replace("<sex>female</sex>", "<sex>f</sex>").replace(
        "<topic>citizens-information</topic>", "<topic>weather</topic>"
    )
    path = tmp_path / "bad.xml"
    path.write_text(bad, "utf-8")
    result = run("validate", "--json", str(path))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["error"] == "schema_invalid"
    assert {(d["line"], d["path"]) for d in report["details"]} == {
        (11, "/request/topic"),
        (30, "/request/persons/person/sex"),
    }


def test_render_to_file_and_from_stdin_to_stdout(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    result = run(
        "render",
        str(SAMPLES_DIR / "request-photo.xml"),
        "-o",
        str(out),
        "--registration-number",
        "KZ-MVD-2026-000007",
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-1.7")
    piped = run("render", "-o", "-", stdin=(SAMPLES_DIR / "request-photo.xml").read_bytes())
    assert piped.returncode == 0
    assert piped.stdout.startswith(b"%PDF-1.7") and b"%%EOF" in piped.stdout[-32:]


def test_bad_input_leaves_no_output_file(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    result = run("render", "-o", str(out), stdin=b"<request><unclosed></request>")
    assert result.returncode == 1
    assert b"not well-formed" in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_render(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    out.write_bytes(b"previous")
    result = run("render", "-o", str(out), stdin=b"")
    assert result.returncode == 1
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


def test_render_and_sign_with_the_signatory_named_in_the_xml(tmp_path: Path) -> None:
    env = {**os.environ, "MIGDOCS_INSTANCE": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    demo = subprocess.run([*MIGDOCS, "demo"], env=env, capture_output=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    out = tmp_path / "signed.pdf"
    result = subprocess.run(
        [
            *MIGDOCS,
            "render",
            str(SAMPLES_DIR / "request-photo.xml"),
            "--sign",
            "-o",
            str(out),
            "--registration-number",
            "KZ-MVD-2026-000042",
        ],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert b"signed" in result.stderr
    check = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True)
    assert "Signature is Valid" in check.stdout
    assert "Ахметов" in check.stdout  # KZ-MVD-001 of the demo registry


def test_render_sign_refused_for_unknown_signatory_writes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "MIGDOCS_INSTANCE": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    assert subprocess.run([*MIGDOCS, "demo"], env=env, capture_output=True).returncode == 0
    raw = (
        (SAMPLES_DIR / "request-photo.xml")
        .read_bytes()
        .replace(b"<signatory>KZ-MVD-001", b"<signatory>KZ-MVD-999")
    )
    out = tmp_path / "signed.pdf"
    result = subprocess.run(
        [*MIGDOCS, "render", "--sign", "-o", str(out)], input=raw, env=env, capture_output=True
    )
    assert result.returncode == 1
    assert b"signatory-unknown" in result.stderr
    assert not out.exists()

"""`migdocs demo`, `migdocs registry …` and `migdocs sign` end to end (PKCS#12 keys)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from asn1crypto import pem
from click.testing import CliRunner, Result

from service.cli.signing_cmds import register
from signing.verify_basic import verify_pdf
from tests.demo_pki_server import demo_pki_server

from . import pdfcheck


@pytest.fixture()
def cli(tmp_path: Path) -> Iterator[tuple[click.Group, dict[str, str]]]:
    """``migdocs`` with the demo commands; the demo PKI's CRL/OCSP/TSA are served live
    (the certificates `demo` makes point at them)."""
    group = click.Group("migdocs")
    register(group)
    instance = tmp_path / "instance"
    with demo_pki_server(instance / "pki") as base:
        env = {"MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": "", "MIGDOCS_BASE_URL": base}
        yield group, env


def run(cli: tuple[click.Group, dict[str, str]], *args: str) -> Result:
    group, env = cli
    return CliRunner().invoke(group, list(args), env=env)


@pytest.fixture()
def demo(cli: tuple[click.Group, dict[str, str]]) -> Path:
    result = run(cli, "demo")
    assert result.exit_code == 0, result.output
    return Path(cli[1]["MIGDOCS_INSTANCE"])


def test_demo_builds_pki_and_registry(demo: Path, cli: tuple[click.Group, dict[str, str]]) -> None:
    for rel in ("pki/kz-root.pem", "pki/by-root.pem", "pki/tsa.pem", "migdocs.sqlite3"):
        assert (demo / rel).is_file(), rel
    assert len(list((demo / "keys").glob("*.p12"))) == 8  # a head and an officer each
    assert (demo / "secrets").stat().st_mode & 0o077 == 0
    exported = json.loads(run(cli, "registry", "export").output)
    authorities = {a["current"]["short_name_ru"] for a in exported["authorities"]}
    assert authorities == {"МВД РК", "МТСЗН РК", "МВД РБ", "ГПК РБ"}
    by_authority = {s["versions"][-1]["authority"] for s in exported["signatories"]}
    assert by_authority == {"KZ-MVD", "KZ-MTSZN", "BY-MVD", "BY-GPK"}
    assert all(s["authorised_now"] for s in exported["signatories"])
    kz = next(a["current"] for a in exported["authorities"] if a["code"] == "KZ-MVD")
    assert kz["name_state"] == "Қазақстан Республикасының Ішкі істер министрлігі"
    assert kz["address_ru"].startswith("010000, Республика Казахстан, г. Астана")
    assert kz["email"] == "mvd@mvd.demo.kz"
    roles = {s["signatory_id"]: s["versions"][-1]["role"] for s in exported["signatories"]}
    assert roles["KZ-MVD-HEAD"] == "head" and roles["KZ-MVD-001"] == "authorised"


def test_rename_keeps_the_requisites_of_the_previous_version(
    demo: Path, cli: tuple[click.Group, dict[str, str]]
) -> None:
    result = run(
        cli,
        *("registry", "add-authority", "KZ-MVD", "--country", "KZ"),
        *("--name", "Министерство внутренних дел и миграции Республики Казахстан"),
        *("--short-name", "МВДМ РК", "--phone", "+7 7172 99-00-00"),
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(run(cli, "registry", "export").output)
    kz = next(a for a in exported["authorities"] if a["code"] == "KZ-MVD")
    assert kz["current"]["short_name_ru"] == "МВДМ РК"
    assert kz["current"]["phone"] == "+7 7172 99-00-00"  # given: the new one
    assert kz["current"]["email"] == "mvd@mvd.demo.kz"  # not given: kept
    assert kz["current"]["address_ru"] == kz["versions"][0]["address_ru"]
    assert kz["versions"][0]["short_name_ru"] == "МВД РК"  # history kept
    bad = run(
        cli,
        *("registry", "add-authority", "KZ-MVD", "--country", "KZ", "--name", "x"),
        *("--short-name", "x", "--email", "no-at-sign"),
    )
    assert bad.exit_code != 0 and "has no '@'" in bad.output


def test_demo_is_idempotent(demo: Path, cli: tuple[click.Group, dict[str, str]]) -> None:
    root_before = (demo / "pki/kz-root.pem").read_bytes()
    again = run(cli, "demo")
    assert again.exit_code == 0, again.output
    assert "created" not in again.output
    assert "registered signatory" not in again.output
    assert (demo / "pki/kz-root.pem").read_bytes() == root_before
    exported = json.loads(run(cli, "registry", "export").output)
    assert all(len(s["versions"]) == 1 for s in exported["signatories"])


@pytest.mark.parametrize("sid", ["KZ-MVD-001", "KZ-MTSZN-001", "BY-MVD-001", "BY-GPK-001"])
def test_sign_with_each_demo_signatory(
    demo: Path,
    cli: tuple[click.Group, dict[str, str]],
    input_pdf: bytes,
    tmp_path: Path,
    sid: str,
) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(input_pdf)
    out = tmp_path / "out.pdf"
    result = run(
        cli,
        "sign",
        str(src),
        "--signatory",
        sid,
        "--document-type",
        "request",
        "--registration-number",
        "KZ-MVD/2026/000007",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "(B-B)" in result.output
    country = "kz" if sid.lower().startswith("kz") else "by"
    _, _, root_der = pem.unarmor((demo / f"pki/{country}-root.pem").read_bytes())
    [report] = verify_pdf(out.read_bytes(), [root_der])
    assert report.ok
    assert pdfcheck.xmp_pdfaid(out.read_bytes()) == ("3", "U")


@pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil")),
    reason="poppler-utils / libnss3-tools missing",
)
def test_pdfsig_trusts_chain_with_demo_root_in_nss(
    demo: Path, cli: tuple[click.Group, dict[str, str]], input_pdf: bytes, tmp_path: Path
) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(input_pdf)
    out = tmp_path / "signed.pdf"
    assert (
        run(
            cli,
            "sign",
            str(src),
            "--signatory",
            "KZ-MVD-001",
            "--document-type",
            "request",
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{nss}"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-n",
            "migdocs demo KZ root",
            "-t",
            "C,C,C",
            "-i",
            str(demo / "pki/kz-root.pem"),
            "-d",
            f"sql:{nss}",
        ],
        check=True,
    )
    res = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(out)], capture_output=True, text=True, check=True
    )
    assert "Signature is Valid" in res.stdout
    assert "Certificate is Trusted" in res.stdout
    plain = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True, check=True)
    assert "Certificate is Trusted" not in plain.stdout


def test_registry_commands_roundtrip(
    demo: Path, cli: tuple[click.Group, dict[str, str]], tmp_path: Path
) -> None:
    cert = tmp_path / "cert.pem"
    from cryptography.hazmat.primitives.serialization import pkcs12

    passphrase = (demo / "secrets/KZ-MVD-001.pass").read_text().strip().encode()
    _, c, _ = pkcs12.load_key_and_certificates(
        (demo / "keys/KZ-MVD-001.p12").read_bytes(), passphrase
    )
    assert c is not None
    from cryptography.hazmat.primitives.serialization import Encoding

    cert.write_bytes(c.public_bytes(Encoding.PEM))
    r = run(
        cli,
        "registry",
        "add-signatory",
        "kz-mvd-deputy",
        "--authority",
        "KZ-MVD",
        "--name-ru",
        "Заместитель Тестовый",
        "--name-latin",
        "Zamestitel Testovyi",
        "--position",
        "Заместитель начальника",
        "--certificate",
        str(cert),
        "--key-backend",
        "pkcs12",
        "--key-locator",
        f"{demo}/keys/KZ-MVD-001.p12;passphrase-env=X",
        "--document-types",
        "request,response",
        "--valid-from",
        "2024-01-01",
    )
    assert r.exit_code == 0, r.output
    r = run(
        cli,
        "registry",
        "add-signatory",
        "kz-bad",
        "--authority",
        "KZ-MVD",
        "--name-ru",
        "x",
        "--name-latin",
        "x",
        "--position",
        "x",
        "--certificate",
        str(cert),
        "--key-backend",
        "pkcs12",
        "--key-locator",
        "x.p12",
        "--document-types",
        "no-such-type",
    )
    assert r.exit_code == 1 and "no-such-type" in r.output
    r = run(
        cli,
        "registry",
        "add-document-type",
        "signatory-list-change-notice",
        "Уведомление об изменении перечня",
    )
    assert r.exit_code == 0, r.output
    r = run(cli, "registry", "revoke", "kz-mvd-deputy", "--reason", "перевод")
    assert r.exit_code == 0, r.output
    r = run(cli, "registry", "list")
    assert r.exit_code == 0
    assert "kz-mvd-deputy v2 [revoked]" in r.output
    out = tmp_path / "registry.json"
    r = run(cli, "registry", "export", "-o", str(out))
    assert r.exit_code == 0
    data = json.loads(out.read_text())
    deputy = next(s for s in data["signatories"] if s["signatory_id"] == "kz-mvd-deputy")
    assert [v["status"] for v in deputy["versions"]] == ["active", "revoked"]
    assert deputy["authorised_now"] is False
    assert deputy["authorised_windows"][0]["valid_from"].startswith("2024-01-01")
    assert deputy["authorised_windows"][0]["valid_to"] is not None
    assert "signatory-list-change-notice" in {t["code"] for t in data["document_types"]}
    r = run(
        cli,
        "registry",
        "add-authority",
        "KZ-MVD",
        "--country",
        "KZ",
        "--name",
        "Министерство внутренних дел Республики Казахстан (новое)",
        "--short-name",
        "МВД РК",
        "--valid-from",
        "2030-01-01",
    )
    assert r.exit_code == 0 and "version 2" in r.output

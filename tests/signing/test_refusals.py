"""Every refusal names its reason and leaves no output file (issue 3 item 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from service.cli.signing_cmds import register
from signing.api import SignRequest
from signing.errors import CertificateNotUsable, SignatoryNotAuthorised, SignatoryUnknown

CASES = [
    # signatory, authority, document type, error class, reason, words in the message
    ("nobody", "KZ-MVD", "request", SignatoryUnknown, "signatory-unknown", "не зарегистрирован"),
    (
        "kz-mvd-rsa2048",
        "BY-MVD",
        "request",
        SignatoryNotAuthorised,
        "wrong-authority",
        "another authority",
    ),
    (
        "kz-mvd-rsa3072",
        "KZ-MVD",
        "refusal-notice",
        SignatoryNotAuthorised,
        "document-type",
        "refusal-notice",
    ),
    (
        "kz-mvd-past",
        "KZ-MVD",
        "request",
        SignatoryNotAuthorised,
        "outside-validity-window",
        "вне срока полномочий",
    ),
    ("kz-mvd-expired", "KZ-MVD", "request", CertificateNotUsable, "expired", "истёк"),
    (
        "kz-mvd-notyet",
        "KZ-MVD",
        "request",
        CertificateNotUsable,
        "not-yet-valid",
        "ещё не действует",
    ),
    (
        "kz-mvd-noku",
        "KZ-MVD",
        "request",
        CertificateNotUsable,
        "key-usage",
        "digitalSignature/nonRepudiation",
    ),
]


@pytest.mark.parametrize(("sid", "authority", "doc_type", "exc_cls", "reason", "words"), CASES)
def test_api_refusal(
    make_signer: Callable[..., Any],
    input_pdf: bytes,
    sid: str,
    authority: str,
    doc_type: str,
    exc_cls: type[Exception],
    reason: str,
    words: str,
) -> None:
    with pytest.raises(exc_cls) as info:
        make_signer().sign(
            SignRequest(
                pdf=input_pdf, signatory_id=sid, authority=authority, document_type=doc_type
            )
        )
    assert info.value.reason == reason  # type: ignore[attr-defined]
    assert words in str(info.value)


@pytest.mark.parametrize(("sid", "authority", "doc_type", "exc_cls", "reason", "words"), CASES)
def test_cli_refusal_writes_nothing(
    registry: Any,
    input_pdf: bytes,
    tmp_path: Path,
    sid: str,
    authority: str,
    doc_type: str,
    exc_cls: type[Exception],
    reason: str,
    words: str,
) -> None:
    group = click.Group("migdocs")
    register(group)
    src = tmp_path / "in.pdf"
    src.write_bytes(input_pdf)
    out = tmp_path / "out" / "signed.pdf"
    out.parent.mkdir()
    result = CliRunner().invoke(
        group,
        [
            "sign",
            str(src),
            "--signatory",
            sid,
            "--authority",
            authority,
            "--document-type",
            doc_type,
            "-o",
            str(out),
        ],
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
            "MIGDOCS_INSTANCE": str(tmp_path),
        },
    )
    assert result.exit_code == 1, result.output
    assert f"[{reason}]" in result.output
    assert words in result.output
    assert not out.exists()
    assert list(out.parent.iterdir()) == [], "no temp file left behind either"


def test_revoked_signatory_refused_after_revocation_only(
    registry: Any, make_signer: Callable[..., Any], input_pdf: bytes
) -> None:
    from datetime import UTC, datetime, timedelta

    from signing.registry import Registry

    with registry() as session:
        Registry(session).revoke_signatory(
            "kz-mvd-rsa2048", datetime.now(UTC) - timedelta(days=1), "уволен"
        )
        session.commit()
    with pytest.raises(SignatoryNotAuthorised) as info:
        make_signer().sign(
            SignRequest(pdf=input_pdf, signatory_id="kz-mvd-rsa2048", document_type="request")
        )
    assert info.value.reason == "revoked"
    assert "уволен" in str(info.value)
    # signing a week ago would still have been authorised (history kept)
    with registry() as session:
        week_ago = datetime.now(UTC) - timedelta(days=7)
        sig = Registry(session).authorised_signatory(
            "kz-mvd-rsa2048", "KZ-MVD", "request", week_ago
        )
        assert sig.version == 1

"""``migdocs verify FILE.pdf [--json]`` (attach with :func:`register`).

Exit codes, by the overall indication of the report:

* ``0`` — ``TOTAL_PASSED``: every signature is valid;
* ``1`` — ``TOTAL_FAILED``: at least one signature is invalid (data changed, bad
  signature value, revoked certificate, disallowed changes after signing);
* ``2`` — ``INDETERMINATE``: validity not established (untrusted CA, signer not an
  authorised signatory, …) or nothing to verify (no signature, not a PDF, damaged PDF);
* ``3`` — the file could not be read.

Trust roots, registry and the known-documents table are the service's (same settings
as ``migdocs serve``); ``--trust-root`` replaces the configured roots.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from signing.verification import EXIT_CODES, VerificationReport

EXIT_UNREADABLE = 3
_MARK = {"PASSED": "✓", "FAILED": "✗", "WARNING": "!"}


def _print_checks(checks: Any, indent: str) -> None:
    for check in checks:
        click.echo(f"{indent}{_MARK[check.status.value]} {check.title}: {check.message}")
        if check.detail and check.status.value != "PASSED":
            click.echo(f"{indent}    ({check.detail})")


def print_report(report: VerificationReport, source: str) -> None:
    """The report as readable text on stdout."""
    sub = f" / {report.sub_indication}" if report.sub_indication else ""
    click.echo(f"{source}: {report.indication.value}{sub}")
    click.echo(f"  {report.summary}")
    if report.registration_number:
        click.echo(f"  Регистрационный номер: {report.registration_number}")
    for n, sig in enumerate(report.signatures, 1):
        sig_sub = f" / {sig.sub_indication}" if sig.sub_indication else ""
        click.echo(f"  Подпись {n} ({sig.field_name}): {sig.indication.value}{sig_sub}")
        if sig.signer is not None:
            click.echo(f"    Сертификат: {sig.signer.subject} (серийный № {sig.signer.serial_hex})")
        if sig.level:
            click.echo(f"    Уровень подписи (доказанный): PAdES {sig.level}")
        _print_checks(sig.checks, "    ")
        if sig.proofs_of_existence:
            click.echo("    Доказательства существования (метки времени):")
            for link in sig.proofs_of_existence:
                click.echo(f"      {_MARK[link.status.value]} {link.message}")
        for change in sig.changes:
            click.echo(f"    • {change}")
    click.echo("  Документ:")
    _print_checks(report.checks, "    ")


@click.command("verify")
@click.argument("source", metavar="FILE.pdf")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--trust-root",
    "trust_roots",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM file of a trusted root CA (repeatable); default: the configured roots.",
)
def verify_command(source: str, as_json: bool, trust_roots: tuple[str, ...]) -> None:
    """Verify the signatures of FILE.pdf ('-' = stdin); exit 0 valid, 1 invalid,
    2 indeterminate or no signature, 3 unreadable file."""
    from service.config import load_settings
    from service.domain.verification import build_verifier
    from service.store.db import Database

    logging.getLogger("pyhanko").addHandler(logging.NullHandler())
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        click.echo(f"{source}: cannot read: {exc.strerror}", err=True)
        sys.exit(EXIT_UNREADABLE)
    settings = load_settings()
    if trust_roots:
        settings = dataclasses.replace(settings, trust_roots=",".join(trust_roots))
    database = Database(settings.database_url)
    try:
        report = build_verifier(settings, database).verify(data)
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report, source)
    sys.exit(EXIT_CODES[report.indication])


def register(group: click.Group) -> None:
    """Attach ``verify`` to the ``migdocs`` command group."""
    group.add_command(verify_command)

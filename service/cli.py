"""The ``migdocs`` command line.

Exit codes: 0 success, 1 the input was refused (errors listed on stderr), 2 usage error,
3 an internal failure (for example a missing font).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from .errors import InputError, MigdocsError
from .fileio import write_atomically
from .pipeline import parse_document, render_document

EXIT_INVALID = 1
EXIT_FAILURE = 3


def _read_input(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {source}: {exc.strerror}") from None


def _fail(error: MigdocsError, source: str, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": False,
                    "file": source,
                    "error": error.code,
                    "message": error.message,
                    "details": [v.as_dict() for v in error.violations],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(f"{source}: {error.message}", err=True)
        for violation in error.violations:
            click.echo(f"  {violation}", err=True)
    sys.exit(EXIT_INVALID if isinstance(error, InputError) else EXIT_FAILURE)


@click.group()
@click.version_option(package_name="migdocs")
def main() -> None:
    """migdocs: signed PDF/A documents of the 2019 Kazakhstan–Belarus migration agreement."""


@main.command()
@click.argument("source", default="-", metavar="FILE.xml")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(source: str, as_json: bool) -> None:
    """Check FILE.xml (or stdin) against the schemas; list every violation."""
    try:
        doc = parse_document(_read_input(source))
    except MigdocsError as exc:
        _fail(exc, source, as_json)
    if as_json:
        click.echo(json.dumps({"valid": True, "file": source, "document_type": doc.document_type}))
    else:
        click.echo(f"{source}: valid {doc.document_type}")


@main.command()
@click.argument("source", default="-", metavar="FILE.xml")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="OUT.pdf",
    help="Where to write the PDF; '-' writes to stdout.",
)
@click.option(
    "--registration-number",
    default=None,
    help="Registration number to print; without it the document reads «б/н».",
)
def render(source: str, output: str, registration_number: str | None) -> None:
    """Render FILE.xml (or stdin) to a PDF/A-3u document with the XML embedded."""
    try:
        rendered = render_document(_read_input(source), registration_number)
    except MigdocsError as exc:
        _fail(exc, source)
    if output == "-":
        sys.stdout.buffer.write(rendered.pdf)
        sys.stdout.buffer.flush()
    else:
        write_atomically(Path(output), rendered.pdf)
        click.echo(f"{output}: {rendered.page_count} page(s), {len(rendered.pdf)} bytes", err=True)


def _register_optional_commands() -> None:
    try:
        from . import cli_signing
    except ImportError:  # pragma: no cover - signing commands not installed yet
        return
    cli_signing.register(main)


_register_optional_commands()

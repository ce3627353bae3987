"""The ``migdocs`` command line.

Exit codes: 0 success, 1 the input was refused (errors listed on stderr), 2 usage error,
3 an internal failure (for example a missing font).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from service.cli.common import (
    EXIT_INVALID,
    audited_change,
    cli_actor,
    configured_database,
    fail,
)
from service.config import load_limits, load_settings
from service.domain import fsck, retention
from service.domain.auth import (
    add_officer,
    create_api_key,
    disable_officer,
    list_api_keys,
    revoke_api_key,
)
from service.errors import MigdocsError
from service.pipeline import personal_data
from service.pipeline.rendering import default_renderer
from service.pipeline.stages import intake, parse_document, render_document
from service.store import audit
from service.store.blobs import open_storage
from service.store.migrate import upgrade
from signing.errors import SigningError
from signing.files import atomic_write_bytes


def _read_input(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {source}: {exc.strerror}") from None


@click.group()
@click.version_option(package_name="migdocs")
def main() -> None:
    """migdocs: signed PDF/A documents of the 2019 Kazakhstan–Belarus migration agreement."""


@main.command()
@click.argument("source", default="-", metavar="FILE.xml")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(source: str, as_json: bool) -> None:
    """Check FILE.xml (or stdin) as the service does before rendering; list every problem.

    Schema, consistency, printable characters, decodable images and the configured limits:
    a document this command calls valid is refused by the service only for the state of
    its database (case rules) or for a page or time budget found during layout.
    """
    try:
        raw = _read_input(source)
        doc, root = intake(raw, default_renderer().printable, load_limits())
    except MigdocsError as exc:
        fail(exc, source, as_json)
    found = personal_data.warnings(root)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": True,
                    "file": source,
                    "document_type": doc.document_type,
                    "warnings": [w.as_dict() for w in found],
                }
            )
        )
    else:
        click.echo(f"{source}: valid {doc.document_type}")
        for warning in found:
            click.echo(f"  warning: {warning}")


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
    "--sign",
    "sign_it",
    is_flag=True,
    help="Sign with the signatory named in the XML (registry of the configured database).",
)
@click.option(
    "--registration-number",
    default=None,
    help="Registration number to print; without it the document reads «б/н».",
)
def render(source: str, output: str, sign_it: bool, registration_number: str | None) -> None:
    """Render FILE.xml (or stdin) to a PDF/A-3u document with the XML embedded."""
    raw = _read_input(source)
    try:
        rendered = render_document(
            raw, registration_number, default_renderer().bounded(load_limits())
        )
        pdf = rendered.pdf
        if sign_it:
            pdf = _sign_rendered(raw, pdf, registration_number)
    except MigdocsError as exc:
        fail(exc, source)
    except SigningError as exc:
        click.echo(f"{source}: [{exc.reason}] {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if output == "-":
        sys.stdout.buffer.write(pdf)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(Path(output), pdf)
        signed = ", signed" if sign_it else ""
        click.echo(f"{output}: {rendered.page_count} page(s){signed}, {len(pdf)} bytes", err=True)


def _sign_rendered(raw: bytes, pdf: bytes, registration_number: str | None) -> bytes:
    """Sign as the XML's header says: its signatory, for its sender and document type."""
    from service.domain.signing_setup import signing_config
    from signing.api import DocumentSigner, SignRequest

    doc = parse_document(raw)
    settings = load_settings()
    with configured_database() as database:
        signer = DocumentSigner(database.sessions, config=signing_config(settings))
        signed = signer.sign(
            SignRequest(
                pdf=pdf,
                signatory_id=doc.header.signatory,
                authority=doc.header.sender,
                document_type=doc.document_type,
                registration_number=registration_number,
            )
        )
    return signed.pdf


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations (safe to repeat)."""
    with configured_database() as database:
        upgrade(database)
        click.echo(f"database at newest revision: {database.engine.url.render_as_string()}")


@main.group()
def apikey() -> None:
    """API keys of upstream systems (one authority each)."""


@apikey.command("create")
@click.option("--authority", required=True, help="Authority code, e.g. KZ-MVD.")
@click.option("--label", required=True, help="Which upstream system uses the key.")
def apikey_create(authority: str, label: str) -> None:
    """Create a key and print it once; only its hash is stored."""
    with audited_change("apikey.create", "", "apikey", authority=authority, label=label) as c:
        row, key = create_api_key(c.session, authority, label)
        c.target = row.id
    click.echo(f"API key {row.id} for {authority} ({label}); it is shown only now:")
    click.echo(key)


@apikey.command("revoke")
@click.argument("key_id")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after mdk_)."""
    with audited_change("apikey.revoke", key_id, "apikey") as change:
        revoke_api_key(change.session, key_id)
    click.echo(f"API key {key_id} revoked")


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never their secrets)."""
    with configured_database() as database, database.reading() as session:
        for row in list_api_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.id}  {row.authority:9} {state:18} {row.label}")


@main.group()
def officer() -> None:
    """Officers who log in to the web pages (one authority each)."""


@officer.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name, e.g. Иванов И.И.")
@click.option("--authority", required=True, help="Authority code, e.g. BY-MVD.")
@click.password_option(
    envvar="MIGDOCS_OFFICER_PASSWORD", help="Prompted for; or set MIGDOCS_OFFICER_PASSWORD."
)
def officer_add(username: str, full_name: str, authority: str, password: str) -> None:
    """Add an officer; the password is prompted for (never an argument)."""
    with audited_change("officer.add", username, "officer", authority=authority) as change:
        add_officer(change.session, username, full_name, authority, password)
    click.echo(f"officer {username} ({authority}) added")


@officer.command("disable")
@click.argument("username")
def officer_disable(username: str) -> None:
    """Disable an officer at once (their session stops working)."""
    with audited_change("officer.disable", username, "officer") as change:
        disable_officer(change.session, username)
    click.echo(f"officer {username} disabled")


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every entry of the chain; exit 1 if any was edited or deleted."""
    with configured_database() as database, database.reading() as session:
        count, problems = audit.verify(session)
    if problems:
        click.echo(f"audit log BROKEN ({len(problems)} problem(s) in {count} entries):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"audit log intact: {count} entries")


@main.command()
@click.option("--dry-run", is_flag=True, help="List what is due; destroy nothing.")
def purge(dry_run: bool) -> None:
    """Destroy documents past their retention period (Art. 11.5); safe to run from cron."""
    settings = load_settings()
    now = datetime.now(UTC)
    with configured_database() as database:
        if dry_run:
            items = retention.due(database, settings.retention_days, now)
        else:
            assert settings.storage_dir is not None
            items = retention.purge(
                database,
                open_storage(settings.storage_backend, settings.storage_dir, database),
                settings.retention_days,
                actor=cli_actor(),
                now=now,
            )
    verb = "due" if dry_run else "destroyed"
    for item in items:
        click.echo(
            f"{verb}: {item.registration_number} ({item.document_type}), registered "
            f"{item.created_at:%Y-%m-%d}, keep until {item.keep_until:%Y-%m-%d}"
        )
    click.echo(f"{len(items)} document(s) {verb}")


@main.command("fsck")
@click.option("--repair", is_flag=True, help="Void stuck numbers and delete debris files.")
@click.option(
    "--stuck-after",
    type=click.IntRange(min=0),
    default=int(fsck.DEFAULT_STUCK_AFTER.total_seconds()),
    show_default=True,
    metavar="SECONDS",
    help="A number issuing for longer than this is abandoned (its process died).",
)
def fsck_command(repair: bool, stuck_after: int) -> None:
    """Check the issuance journal, document rows and stored files against each other.

    Lists temporary files, files without a row, rows without a file and numbers stuck in
    issuing; exits 1 while any problem remains.  Safe to run while the service runs.
    """
    settings = load_settings()
    assert settings.storage_dir is not None
    with configured_database() as database:
        report = fsck.check(
            database,
            open_storage(settings.storage_backend, settings.storage_dir, database),
            repair=repair,
            stuck_after=timedelta(seconds=stuck_after),
            actor=cli_actor(),
        )
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary())
    if report.remaining:
        sys.exit(EXIT_INVALID)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
@click.option(
    "--peer-bind",
    default=None,
    metavar="HOST:PORT",
    help="Serve the mTLS peer endpoint here too (default: the peer_bind setting).",
)
def serve(bind: str, workers: int, dev: bool, peer_bind: str | None) -> None:
    """Run the service (gunicorn: WORKERS processes × `threads` threads, read deadlines,
    worker recycling; see README "Running in production behind a proxy"); applies
    migrations first.  On a node of a Party (setting ``party``) it also starts the mTLS
    peer listener (``--peer-bind``) and ``delivery_workers`` delivery workers."""
    from service.exchange.companions import companion_commands, start_companions

    settings = load_settings()
    with configured_database() as database:
        upgrade(database)
    start_companions(
        companion_commands(settings, peer_bind or settings.peer_bind),
        grace=float(settings.graceful_timeout),
    )
    if dev:
        from service.app import create_app

        host, _, port = bind.rpartition(":")
        create_app().run(host=host or "127.0.0.1", port=int(port), debug=False)
        return
    from service.server import serve as run_gunicorn

    run_gunicorn(bind, workers)


def _register_signing_commands() -> None:
    from service.cli import signing_cmds as cli_signing

    cli_signing.register(main)


_register_signing_commands()
from service.cli import verify_cmd as cli_verify  # noqa: E402

cli_verify.register(main)
from service.cli import timestamps_cmd  # noqa: E402

timestamps_cmd.register(main)
from service.exchange import cli as exchange_cli  # noqa: E402

exchange_cli.register(main)

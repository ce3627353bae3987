"""``migdocs sign``, ``migdocs registry …`` and ``migdocs demo`` (attach with :func:`register`).

Secrets (PKCS#12 passphrases, PKCS#11 PINs) never appear as options: they are
read from the environment or from files named in the signatory's key locator.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from service.store import audit
from service.store.db import Database
from service.store.migrate import upgrade
from signing.api import DocumentSigner, SigningConfig, SignRequest
from signing.errors import SigningError
from signing.files import atomic_write_bytes
from signing.registry import ROLES, Authorisation, KeyReference, NewSignatory, Registry, Requisites
from signing.settings import DEFAULT_BASE_URL, database_url, instance_dir


def _sessions() -> sessionmaker[Session]:
    """Sessions on the service database, migrated to the newest schema first."""
    database = Database(database_url())
    upgrade(database)
    return database.sessions


@contextmanager
def _registry_change(action: str, target: str, **details: str) -> Iterator[Registry]:
    """A registry change in one transaction, audited, with refusals as CLI errors."""
    database = Database(database_url())
    try:
        upgrade(database)
        with database.transaction() as session:
            yield Registry(session)
            audit.record(
                session,
                actor=f"cli:{getpass.getuser()}",
                action=action,
                target=target,
                details=details,
            )
    except SigningError as exc:
        raise _fail(exc) from exc
    finally:
        database.dispose()


def _when(value: str | None, what: str) -> datetime | None:
    """Parse an ISO date/datetime; a naive value is taken as UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{what}: expected ISO date or datetime, got {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _fail(exc: SigningError) -> click.ClickException:
    return click.ClickException(f"[{exc.reason}] {exc.message}")


@click.command("sign")
@click.argument("input_pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signatory", "signatory_id", required=True, help="Registered signatory id.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--document-type", required=True, help="request, response, refusal-notice, …")
@click.option("--authority", default=None, help="Sending authority (default: the signatory's).")
@click.option(
    "--registration-number",
    default=None,
    help="Printed and put in the QR URL (default: XMP dc:identifier).",
)
@click.option("--invisible", is_flag=True, help="No visible signature block.")
@click.option("--tsa-url", default=None, help="RFC 3161 TSA URL (PAdES B-T).")
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="Base of the verification URL in the QR code.",
)
def sign_command(
    input_pdf: Path,
    signatory_id: str,
    output: Path,
    document_type: str,
    authority: str | None,
    registration_number: str | None,
    invisible: bool,
    tsa_url: str | None,
    base_url: str,
) -> None:
    """Sign INPUT_PDF on behalf of a registered signatory (PAdES, PDF/A kept)."""
    signer = DocumentSigner(_sessions(), config=SigningConfig(base_url=base_url, tsa_url=tsa_url))
    try:
        result = signer.sign(
            SignRequest(
                pdf=input_pdf.read_bytes(),
                signatory_id=signatory_id,
                document_type=document_type,
                authority=authority,
                registration_number=registration_number,
                visible=not invisible,
            )
        )
    except SigningError as exc:
        raise _fail(exc) from exc
    atomic_write_bytes(output, result.pdf)
    click.echo(
        f"signed {output} ({result.level}) by {result.signatory_id} for {result.authority}, "
        f"certificate {result.certificate_serial_hex}, at {result.signing_time.isoformat()}, "
        f"sha256 {result.sha256}"
    )


@click.group("registry")
def registry_group() -> None:
    """Authorities and authorised signatories (append-only, versioned)."""


@registry_group.command("add-authority")
@click.argument("code")
@click.option("--country", required=True, type=click.Choice(["KZ", "BY"]))
@click.option("--name", "name_ru", required=True, help="Full Russian name.")
@click.option("--short-name", "short_name_ru", required=True, help="e.g. МВД РК")
@click.option("--valid-from", default=None, help="ISO date (default: now).")
@click.option("--valid-to", default=None, help="ISO date (default: open-ended).")
@click.option("--name-state", default=None, help="Name in the state language (letterhead).")
@click.option("--address", default=None, help="Postal address, Russian, with postcode.")
@click.option("--phone", default=None)
@click.option("--email", default=None)
@click.option("--list-signatory", default=None, help="Who signs the list of Art. 9.3.")
def add_authority(
    code: str,
    country: str,
    name_ru: str,
    short_name_ru: str,
    valid_from: str | None,
    valid_to: str | None,
    **given: str | None,
) -> None:
    """Add an authority, or a new version of it (e.g. renamed from --valid-from).

    Requisites not given are those of the latest version (a rename keeps the address)."""
    with _registry_change("registry.add-authority", code, name_ru=name_ru) as registry:
        versions = registry.authority_versions(code)
        old = versions[-1].requisites if versions else Requisites()
        auth = registry.add_authority(
            code,
            country,
            name_ru,
            short_name_ru,
            _when(valid_from, "--valid-from") or datetime.now(UTC),
            _when(valid_to, "--valid-to"),
            requisites=Requisites(
                given["name_state"] or old.name_state,
                given["address"] or old.address_ru,
                given["phone"] or old.phone,
                given["email"] or old.email,
                given["list_signatory"] or old.list_signatory_id,
            ),
        )
    click.echo(f"authority {auth.code} version {auth.version}: {auth.window.describe()}")


@registry_group.command("add-document-type")
@click.argument("code")
@click.argument("title_ru")
def add_document_type(code: str, title_ru: str) -> None:
    """Register a new document type (the list is data, not code)."""
    with _registry_change("registry.add-document-type", code, title_ru=title_ru) as registry:
        registry.add_document_type(code, title_ru)
    click.echo(f"document type {code} added")


@registry_group.command("add-signatory")
@click.argument("signatory_id")
@click.option("--authority", required=True)
@click.option("--name-ru", required=True, help="Full name in Cyrillic.")
@click.option("--name-latin", required=True, help="Full name in Latin script.")
@click.option("--position", "position_ru", required=True, help="Position (должность), Russian.")
@click.option(
    "--certificate",
    "cert_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM or DER.",
)
@click.option("--key-backend", required=True, type=click.Choice(["pkcs12", "pkcs11"]))
@click.option(
    "--key-locator",
    required=True,
    help="pkcs12: PATH[;passphrase-env=VAR|;passphrase-file=PATH]; "
    "pkcs11: module=…;token=…;key=…[;pin-env=VAR|;pin-file=PATH]",
)
@click.option("--document-types", required=True, help="Comma-separated, e.g. request,response")
@click.option("--valid-from", default=None, help="ISO date (default: now).")
@click.option("--valid-to", default=None, help="ISO date (default: open-ended).")
@click.option("--role", type=click.Choice(list(ROLES)), default=None, help="Role in the list.")
@click.option("--act", default=None, help="Authorising act: «приказ № 245 от 28.11.2026».")
@click.option("--phone", default=None)
@click.option("--email", default=None)
def add_signatory(
    signatory_id: str,
    authority: str,
    name_ru: str,
    name_latin: str,
    position_ru: str,
    cert_path: Path,
    key_backend: str,
    key_locator: str,
    document_types: str,
    valid_from: str | None,
    valid_to: str | None,
    role: str | None,
    act: str | None,
    phone: str | None,
    email: str | None,
) -> None:
    """Register a signatory, or a new version of one."""
    from asn1crypto import pem

    data = cert_path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    with _registry_change(
        "registry.add-signatory", signatory_id, authority=authority, document_types=document_types
    ) as registry:
        sig = registry.add_signatory(
            NewSignatory(
                signatory_id=signatory_id,
                authority_code=authority,
                full_name_ru=name_ru,
                full_name_latin=name_latin,
                position_ru=position_ru,
                certificate_der=bytes(data),
                key=KeyReference(key_backend, key_locator),
                document_types=tuple(t.strip() for t in document_types.split(",") if t),
                valid_from=_when(valid_from, "--valid-from") or datetime.now(UTC),
                valid_to=_when(valid_to, "--valid-to"),
                authorisation=Authorisation(role, act, phone, email),
            )
        )
    click.echo(f"signatory {sig.signatory_id} version {sig.version}: {sig.window.describe()}")


@registry_group.command("revoke")
@click.argument("signatory_id")
@click.option("--at", default=None, help="Effective ISO datetime (default: now).")
@click.option("--reason", default=None)
def revoke(signatory_id: str, at: str | None, reason: str | None) -> None:
    """Close a signatory's authorisation (a new version; history is kept)."""
    with _registry_change("registry.revoke", signatory_id, reason=reason or "") as registry:
        sig = registry.revoke_signatory(signatory_id, _when(at, "--at"), reason)
    click.echo(f"signatory {signatory_id} revoked from {sig.window.valid_from.isoformat()}")


@registry_group.command("list")
@click.option("--at", default=None, help="ISO datetime (default: now).")
def list_registry(at: str | None) -> None:
    """Authorities and signatories in force at a date."""
    when = _when(at, "--at") or datetime.now(UTC)
    with _sessions()() as session:
        reg = Registry(session)
        for code in reg.authority_codes():
            auth = reg.authority_at(code, when)
            label = f"{auth.short_name_ru} — {auth.name_ru} [{auth.status}]" if auth else "—"
            click.echo(f"{code}: {label}")
            for sid in reg.signatory_ids(code):
                cur = reg.signatory_at(sid, when)
                state = cur.status if cur else "outside window"
                if cur is None:
                    versions = reg.signatory_versions(sid)
                    cur = versions[-1]
                click.echo(
                    f"  {sid} v{cur.version} [{state}] {cur.full_name_ru} "
                    f"({cur.full_name_latin}), {cur.position_ru}; "
                    f"{', '.join(cur.document_types)}; {cur.window.describe()}"
                )


@registry_group.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--at", default=None, help="Reference ISO datetime for 'authorised_now'.")
def export(output: Path | None, at: str | None) -> None:
    """The whole registry with history as JSON (stdout or -o FILE)."""
    with _sessions()() as session:
        data = Registry(session).export(_when(at, "--at"))
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_bytes(output, text.encode("utf-8"))
        click.echo(f"registry exported to {output}")


@click.command("demo")
def demo_command() -> None:
    """Create the demo PKI (KZ and BY roots, TSA, 4 signatories) and registry.

    New end-entity certificates carry the CRL and OCSP URLs of the node's demo PKI
    services (``<base_url>/demo-pki``, served with the setting ``demo_pki``)."""
    from service.config import load_settings
    from service.domain.signing_setup import demo_services_url
    from signing.demo import build_demo

    instance = instance_dir()
    database = Database(database_url())
    upgrade(database)
    database.dispose()
    services = demo_services_url(load_settings())
    try:
        result = build_demo(instance, database_url(), services)
    except SigningError as exc:
        raise _fail(exc) from exc
    click.echo(f"instance: {result.instance}")
    click.echo(f"registry: {database_url()}")
    for rel in result.created:
        click.echo(f"  created  {rel}")
    for rel in result.existing:
        click.echo(f"  kept     {rel}")
    for sid in result.signatories:
        click.echo(f"  registered signatory {sid}")
    click.echo(f"trust roots: {result.roots['KZ']}, {result.roots['BY']}")
    click.echo(f"TSA certificate: {result.tsa_certificate}")
    click.echo(f"CRL/OCSP/TSA of the demo PKI: {services} (setting demo_pki)")
    click.echo("try: migdocs sign IN.pdf --signatory KZ-MVD-001 --document-type request -o OUT.pdf")


def register(group: click.Group) -> None:
    """Attach ``sign``, ``registry`` and ``demo`` to the ``migdocs`` group."""
    group.add_command(sign_command)
    group.add_command(registry_group)
    group.add_command(demo_command)

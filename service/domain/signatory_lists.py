"""«Перечень лиц, уполномоченных на подписание запросов» (Art. 9.3, 9.4) per authority.

Each list is a signed PDF/A-3u generated from the signatory registry.  A **new version**
is made whenever the registry rows of an authority change (a signatory added, re-added or
revoked; the authority renamed or dissolved): the SHA-256 of a canonical *snapshot* of
those rows is compared with the one the latest stored version was made from.  Generation
is lazy — the first request after a change (from the web, the API or ``migdocs registry``
on the command line) makes the new version; old versions stay stored, byte for byte.

Who signs (Art. 9.3, issue 12 item 6): the person the registry's authority version names
to sign the list (``list_signatory_id``), else the authority's head (role ``head``) —
never an officer vouching for the list that authorises him.  The signer must be active
now with a certificate valid now.  The registry has no document type for the list
itself: it is signed directly with :func:`signing.pades.sign_pdf` and that signatory's
key from the signer's :class:`~signing.keys.KeyStore`, with a visible block drawn by the
renderer.  An authority without such a person gets an unsigned list that says so.

Each entry carries its role (руководитель, заместитель, уполномоченное лицо,
координатор), the authorising act (номер и дата приказа) and contacts, as the registry
stores them, versioned.

The snapshot (JSON) travels inside the PDF as its ``/Source`` associated file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import weasyprint
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.pipeline.letterhead import contact_line
from service.pipeline.rendering import Renderer
from service.store import audit
from service.store.db import Database
from service.store.storage import Storage
from service.store.tables import SignatoryList
from signing import layout
from signing.api import DocumentSigner, check_certificate
from signing.appearance import (
    PARTY_TIMEZONES,
    SignatureBlockInfo,
    block_lines,
    initials_and_surname,
    local_datetime,
)
from signing.errors import CertificateNotUsable
from signing.pades import PadesOptions, sign_pdf
from signing.registry import (
    ACTIVE,
    REVOKED,
    Authorisation,
    Registry,
    Signatory,
    certificate_summary,
    winning_version,
)
from signing.timestamps import http_timestamper

TITLE = "Перечень лиц, уполномоченных на подписание запросов"
DOCUMENT_TYPE = "signatory-list"
SIGNING_REASON = "Перечень лиц, уполномоченных на подписание запросов (ст. 9.3, 9.4 Соглашения)"
HEAD = "head"
"""The role whose holder signs the list when the registry names nobody else."""
SIGNER_DOCUMENT_TYPE = "request"
"""The list signer must also be authorised to sign requests: the verifier checks a list's
signature in the registry as it checks a request's."""


def storage_key(authority: str, version: int) -> str:
    return f"signatories-{authority}-v{version}.pdf"


# ----- snapshot ---------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def snapshot(registry: Registry, authority: str) -> dict[str, Any]:
    """The registry rows of ``authority`` as JSON-ready data, without time-derived fields.

    Key locations are left out (moving a key file does not change the list).
    """
    signatories = []
    for sid in registry.signatory_ids(authority):
        versions = [v for v in registry.signatory_versions(sid) if v.authority_code == authority]
        signatories.append(
            {
                "signatory_id": sid,
                "versions": [
                    {
                        "version": v.version,
                        "status": v.status,
                        "full_name_ru": v.full_name_ru,
                        "full_name_latin": v.full_name_latin,
                        "position_ru": v.position_ru,
                        "role": v.authorisation.role,
                        "act_ru": v.authorisation.act_ru,
                        "phone": v.authorisation.phone,
                        "email": v.authorisation.email,
                        "document_types": list(v.document_types),
                        "valid_from": _iso(v.window.valid_from),
                        "valid_to": _iso(v.window.valid_to),
                        "recorded_at": _iso(v.recorded_at),
                        "note": v.note,
                        "certificate": {
                            **certificate_summary(v.certificate),
                            "der_base64": base64.b64encode(v.certificate_der).decode(),
                        },
                    }
                    for v in versions
                ],
            }
        )
    return {
        "list": TITLE,
        "authority": authority,
        "authority_versions": [
            {
                "version": a.version,
                "status": a.status,
                "country": a.country,
                "name_ru": a.name_ru,
                "short_name_ru": a.short_name_ru,
                "name_state": a.requisites.name_state,
                "address_ru": a.requisites.address_ru,
                "phone": a.requisites.phone,
                "email": a.requisites.email,
                "list_signatory_id": a.requisites.list_signatory_id,
                "valid_from": _iso(a.window.valid_from),
                "valid_to": _iso(a.window.valid_to),
                "recorded_at": _iso(a.recorded_at),
            }
            for a in registry.authority_versions(authority)
        ],
        "document_types": {t.code: t.title_ru for t in registry.document_types()},
        "signatories": signatories,
    }


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def snapshot_sha256(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


# ----- what the PDF shows -----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One signatory as printed in the list."""

    signatory_id: str
    position_ru: str
    full_name_ru: str
    full_name_latin: str
    document_types: tuple[str, ...]
    windows: tuple[tuple[datetime, datetime | None], ...]
    """Periods of authorisation (this authority only)."""
    status: str
    """Russian status sentence at generation time."""
    authorised: bool
    """Authorised now or from a future date (first section); else former (second)."""
    certificate: dict[str, str]
    """:func:`signing.registry.certificate_summary` plus compact ``owner`` and ``issuer_name``."""
    authorisation: Authorisation = field(default_factory=Authorisation)
    """Role, authorising act and contacts."""


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d.%m.%Y")


def _owner(subject: Mapping[str, Any], fallback: str) -> str:
    """The "CN, O" of a certificate name, as in the documents' signature blocks."""
    parts = [subject.get("common_name"), subject.get("organization_name")]
    return ", ".join(p for p in parts if isinstance(p, str)) or fallback


def _fmt_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC")


def entries(registry: Registry, authority: str, at: datetime) -> list[Entry]:
    found = []
    for sid in registry.signatory_ids(authority):
        versions = [v for v in registry.signatory_versions(sid) if v.authority_code == authority]
        if not versions:
            continue
        current = winning_version(versions, at)
        shown = current or versions[-1]
        cert = shown.certificate
        windows = tuple(
            (s.window.valid_from, s.window.valid_to)
            for s in registry.authorised_windows(sid)
            if s.version.authority_code == authority
        )
        future = [w for w in windows if w[0] > at]
        if current is not None and current.status == ACTIVE:
            end = current.window.valid_to
            status = "полномочия действуют" + (f" до {_date(end)}" if end else "")
            authorised = True
        elif current is not None and current.status == REVOKED:
            status = f"полномочия отозваны с {_fmt_datetime(current.window.valid_from)}"
            if current.note:
                status += f" ({current.note})"
            authorised = bool(future)
        elif future:
            status = f"полномочия действуют с {_date(future[0][0])}"
            authorised = True
        else:
            ended = max((w[1] for w in windows if w[1] is not None), default=None)
            status = "срок полномочий истёк" + (f" {_date(ended)}" if ended else "")
            authorised = False
        found.append(
            Entry(
                signatory_id=sid,
                position_ru=shown.position_ru,
                full_name_ru=shown.full_name_ru,
                full_name_latin=shown.full_name_latin,
                document_types=shown.document_types,
                windows=windows,
                status=status,
                authorised=authorised,
                certificate={
                    **certificate_summary(cert),
                    "owner": _owner(cert.subject.native, cert.subject.human_friendly),
                    "issuer_name": _owner(cert.issuer.native, cert.issuer.human_friendly),
                },
                authorisation=shown.authorisation,
            )
        )
    return found


def list_signer(registry: Registry, authority: str, at: datetime) -> Signatory | None:
    """Who signs the list at ``at``: the person the registry names, else the head.

    Active at ``at`` for this authority, with a certificate usable at ``at``; None if there
    is nobody (the list is then issued unsigned and says so).
    """
    auth = registry.authority_at(authority, at)
    if auth is None or auth.status != ACTIVE:
        return None
    named = auth.requisites.list_signatory_id
    if named:
        candidates = [named]
    else:
        candidates = [
            sid
            for sid in registry.signatory_ids(authority)
            if (current := registry.signatory_at(sid, at)) is not None
            and current.authorisation.role == HEAD
        ]
    for sid in candidates:
        current = registry.signatory_at(sid, at)
        if (
            current is None
            or current.status != ACTIVE
            or current.authority_code != authority
            or SIGNER_DOCUMENT_TYPE not in current.document_types
        ):
            continue
        try:
            check_certificate(current.certificate, at)
        except CertificateNotUsable:
            continue
        return current
    return None


# ----- rendering and signing --------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    pdf: bytes
    entries: int
    signer: Signatory | None


def render_pdf(
    renderer: Renderer,
    html: str,
    source: bytes,
    identifier: str,
    types: list[str],
    publisher: str,
    keywords: list[str],
) -> bytes:
    """HTML → PDF/A-3u with the snapshot JSON as ``/Source`` associated file.

    Uses the renderer's font configuration, stylesheet and render lock (WeasyPrint is not
    known to be thread-safe; renders are serialised per process).
    """
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(source),
        name="signatories.json",
        relationship="Source",
        description="Выписка из реестра уполномоченных лиц (машиночитаемая версия)",
    )
    rendered = renderer.pdf_from_html(
        html,
        attachments=[attachment],
        photos={},
        identifier=identifier,
        types=types,
        publisher=publisher,
        keywords=keywords,
    )
    return rendered.pdf


def generate(
    registry: Registry,
    renderer: Renderer,
    signer: DocumentSigner,
    authority: str,
    version: int,
    data: Mapping[str, Any],
    previous: SignatoryList | None,
    at: datetime,
) -> Generated:
    """Render and sign version ``version`` of the list of ``authority`` at ``at``."""
    auth = registry.authority_at(authority, at) or registry.authority_versions(authority)[-1]
    listed = entries(registry, authority, at)
    signatory = list_signer(registry, authority, at)
    identifier = f"{authority}-signatories-v{version}"
    block = None
    if signatory is not None:
        cert = signatory.certificate
        validity = cert["tbs_certificate"]["validity"]
        block = SignatureBlockInfo(
            position=signatory.position_ru,
            full_name=signatory.full_name_ru,
            full_name_latin=signatory.full_name_latin,
            signing_time=at,
            registration_number=identifier,
            certificate_serial_hex=format(cert.serial_number, "X"),
            certificate_owner=_owner(cert.subject.native, cert.subject.human_friendly),
            certificate_valid_from=validity["not_before"].native,
            certificate_valid_to=validity["not_after"].native,
            authority=auth.short_name_ru,
            timezone=PARTY_TIMEZONES.get(auth.country, "UTC"),
        )
    titles: Mapping[str, str] = data["document_types"]
    zone = PARTY_TIMEZONES.get(auth.country, "UTC")  # the authority's local time
    html = renderer.jinja.get_template("signatory-list.html.j2").render(
        title=TITLE,
        authority=auth,
        version=version,
        previous=previous,
        generated_at=local_datetime(at, zone),
        generated_date=local_datetime(at, zone)[:10],
        authorised=[e for e in listed if e.authorised],
        former=[e for e in listed if not e.authorised],
        document_type_title=lambda code: titles.get(code, code),
        fmt_date=_date,
        fmt_datetime=lambda value: local_datetime(value, zone),
        iso_date=lambda value: _date(datetime.fromisoformat(value)),
        identifier=identifier,
        signature=block,
        signature_lines=block_lines(block) if block else [],
        signature_line={
            "position": f"{block.position} {block.authority}",
            "name": initials_and_surname(block.full_name),
        }
        if block
        else None,
        contact_line=contact_line,
        signature_area={
            "id": layout.SIGNATURE_AREA_ID,
            "width_mm": layout.SIGNATURE_AREA_WIDTH_MM,
            "height_mm": layout.SIGNATURE_AREA_HEIGHT_MM,
        },
    )
    pdf = render_pdf(
        renderer,
        html,
        json.dumps(data, ensure_ascii=False, indent=2).encode(),
        identifier,
        [DOCUMENT_TYPE, TITLE, f"migdocs-signatory-list:{authority}:v{version}"],
        auth.name_ru,
        [DOCUMENT_TYPE, authority],
    )
    if signatory is not None and block is not None:
        config = signer.config
        result = sign_pdf(
            pdf,
            signer.keys.signer_for(signatory.key, signatory.certificate_der),
            signer_name=signatory.full_name_ru,
            block=block,
            options=PadesOptions(
                reason=SIGNING_REASON,
                location=config.location,
                visible=True,
                appearance=config.appearance,
                ltv=config.ltv,
                block_prerendered=True,
            ),
            timestamper=http_timestamper(config.tsa_url, config.tsa_timeout)
            if config.tsa_url
            else None,
            signing_time=at,
        )
        pdf = result.pdf
    return Generated(pdf, len(listed), signatory)


# ----- the service ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListVersion:
    """A stored version, detached from its session."""

    authority: str
    version: int
    generated_at: datetime
    sha256: str
    size: int
    entries: int
    signatory_id: str | None
    signatory_name: str | None
    current: bool

    def as_json(self, href: str) -> dict[str, Any]:
        return {
            "authority": self.authority,
            "version": self.version,
            "generated_at": self.generated_at.isoformat(),
            "sha256": self.sha256,
            "size": self.size,
            "entries": self.entries,
            "signed_by": None
            if self.signatory_id is None
            else {"id": self.signatory_id, "name": self.signatory_name},
            "current": self.current,
            "href": href,
        }


def _signing_time(now: datetime) -> datetime:
    """``now`` rounded *up* to the second (the CMS signing-time resolution).

    The list shows the registry as of its signing time; rounding down could put the
    signing time before a revocation made in the same second and pick a revoked signer.
    """
    whole = now.replace(microsecond=0)
    return whole + timedelta(seconds=1) if whole != now else whole


def _lock_key(authority: str) -> int:
    return zlib.crc32(f"migdocs-signatory-list:{authority}".encode())


class SignatoryLists:
    """Lazily generated, versioned, stored lists of authorised signatories."""

    def __init__(
        self, database: Database, storage: Storage, renderer: Renderer, signer: DocumentSigner
    ) -> None:
        self.database = database
        self.storage = storage
        self.renderer = renderer
        self.signer = signer

    @staticmethod
    def _latest(session: Session, authority: str) -> SignatoryList | None:
        return session.execute(
            select(SignatoryList)
            .where(SignatoryList.authority == authority)
            .order_by(SignatoryList.version.desc())
            .limit(1)
        ).scalar_one_or_none()

    def ensure_current(self, authority: str) -> bool:
        """Make a new version if the registry changed since the latest; True if one was made."""
        with self.database.reading() as session:
            registry = Registry(session)
            if not registry.authority_versions(authority):
                raise NotFound(f"unknown authority {authority!r}")
            digest = snapshot_sha256(snapshot(registry, authority))
            latest = self._latest(session, authority)
        if latest is not None and latest.registry_sha256 == digest:
            return False
        with self.database.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One generator per authority across processes; SQLite writers already queue.
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(authority)}
                )
            registry = Registry(session)
            data = snapshot(registry, authority)
            digest = snapshot_sha256(data)
            latest = self._latest(session, authority)
            if latest is not None and latest.registry_sha256 == digest:
                return False  # another request made it meanwhile
            version = (latest.version if latest else 0) + 1
            at = _signing_time(datetime.now(UTC))
            made = generate(
                registry, self.renderer, self.signer, authority, version, data, latest, at
            )
            key = storage_key(authority, version)
            self.storage.put_in(session, key, made.pdf)
            pdf_sha256 = hashlib.sha256(made.pdf).hexdigest()
            session.add(
                SignatoryList(
                    authority=authority,
                    version=version,
                    registry_sha256=digest,
                    pdf_sha256=pdf_sha256,
                    pdf_size=len(made.pdf),
                    storage_key=key,
                    entries=made.entries,
                    signatory_id=made.signer.signatory_id if made.signer else None,
                    signatory_name=made.signer.full_name_ru if made.signer else None,
                    generated_at=at,
                )
            )
            session.flush()
            audit.record(
                session,
                actor="system",
                action="signatories.list.generate",
                target=f"{authority}/v{version}",
                details={
                    "pdf_sha256": pdf_sha256,
                    "registry_sha256": digest,
                    "signatory_id": made.signer.signatory_id if made.signer else None,
                },
            )
        return True

    def authorities(self) -> list[str]:
        with self.database.reading() as session:
            return Registry(session).authority_codes()

    def ensure_all(self) -> None:
        for authority in self.authorities():
            self.ensure_current(authority)

    def versions(self, authority: str | None = None) -> list[ListVersion]:
        """Stored versions, newest first per authority (authorities in code order)."""
        query = select(SignatoryList).order_by(
            SignatoryList.authority, SignatoryList.version.desc()
        )
        if authority is not None:
            query = query.where(SignatoryList.authority == authority)
        with self.database.reading() as session:
            rows: Sequence[SignatoryList] = session.execute(query).scalars().all()
        newest: dict[str, int] = {}
        for row in rows:
            newest.setdefault(row.authority, row.version)
        return [
            ListVersion(
                authority=r.authority,
                version=r.version,
                generated_at=r.generated_at,
                sha256=r.pdf_sha256,
                size=r.pdf_size,
                entries=r.entries,
                signatory_id=r.signatory_id,
                signatory_name=r.signatory_name,
                current=newest[r.authority] == r.version,
            )
            for r in rows
        ]

    def pdf(self, authority: str, version: int) -> tuple[ListVersion, bytes]:
        found = [v for v in self.versions(authority) if v.version == version]
        if not found:
            raise NotFound(f"no version {version} of the list of signatories of {authority}")
        return found[0], self.storage.get(storage_key(authority, version))

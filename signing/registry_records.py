"""Records of the signatory registry: tables, read-only views, versioning helpers.

The operations on them live in :mod:`signing.registry` (which re-exports these names).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from asn1crypto import x509
from sqlalchemy import JSON, LargeBinary, Row, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime
from .errors import RegistryError

ACTIVE = "active"
REVOKED = "revoked"
DISSOLVED = "dissolved"

COUNTRIES = ("KZ", "BY")

DEFAULT_DOCUMENT_TYPES: tuple[tuple[str, str], ...] = (
    ("request", "Запрос"),
    ("response", "Ответ на запрос"),
    ("refusal-notice", "Уведомление об отказе в исполнении запроса"),
    ("additional-information-request", "Запрос о предоставлении дополнительных сведений"),
    ("delay-notice", "Уведомление о препятствиях или задержке исполнения запроса"),
    (
        "postponement-notice",
        "Уведомление об отложении исполнения запроса или об условиях его исполнения",
    ),
    ("authenticity-confirmation-request", "Запрос о подтверждении подлинности документа"),
    (
        "authenticity-confirmation",
        "Ответ на запрос о подтверждении подлинности документа",
    ),
    ("unsolicited-information", "Информация, направляемая без запроса"),
    (
        "confidentiality-notice",
        "Уведомление о невозможности исполнения запроса с сохранением конфиденциальности",
    ),
    ("third-party-consent-request", "Запрос о согласии на передачу сведений третьей стороне"),
    (
        "third-party-consent",
        "Ответ на запрос о согласии на передачу сведений третьей стороне",
    ),
    ("additional-information", "Представление дополнительных сведений к запросу"),
    ("conditions-decision", "Ответ об условиях исполнения запроса"),
    (
        "confidentiality-decision",
        "Решение об исполнении запроса без сохранения конфиденциальности",
    ),
    ("request-withdrawal", "Уведомление об отзыве запроса"),
)
"""Document types seeded into a fresh registry; more are added as data
(``migdocs registry add-document-type``), not code."""

DEFAULT_AUTHORITIES: tuple[tuple[str, str, str, str], ...] = (
    ("KZ-MVD", "KZ", "Министерство внутренних дел Республики Казахстан", "МВД РК"),
    (
        "KZ-MTSZN",
        "KZ",
        "Министерство труда и социальной защиты населения Республики Казахстан",
        "МТСЗН РК",
    ),
    ("BY-MVD", "BY", "Министерство внутренних дел Республики Беларусь", "МВД РБ"),
    ("BY-GPK", "BY", "Государственный пограничный комитет Республики Беларусь", "ГПК РБ"),
)
"""The four competent authorities named in Art. 2 (code, country, name, short name)."""

STATE_LANGUAGE_NAMES: dict[str, str] = {
    "KZ-MVD": "Қазақстан Республикасының Ішкі істер министрлігі",
    "KZ-MTSZN": "Қазақстан Республикасының Еңбек және халықты әлеуметтік қорғау министрлігі",
    "BY-MVD": "Міністэрства ўнутраных спраў Рэспублікі Беларусь",
    "BY-GPK": "Дзяржаўны пагранічны камітэт Рэспублікі Беларусь",
}
"""The authorities' names in the state language (Kazakh, Belarusian) as on their letterheads."""

ROLES: dict[str, str] = {
    "head": "руководитель",
    "deputy": "заместитель руководителя",
    "authorised": "уполномоченное лицо",
    "coordinator": "координатор",
}
"""Roles of a signatory in the list of Art. 9.3 (code → Russian, as printed)."""


# --------------------------------------------------------------------------- tables


class DocumentTypeRow(Base):
    __tablename__ = "document_types"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_ru: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorityVersionRow(Base):
    __tablename__ = "authority_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    name_ru: Mapped[str] = mapped_column(String(500))
    short_name_ru: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    name_state: Mapped[str | None] = mapped_column(String(500), nullable=True)
    address_ru: Mapped[str | None] = mapped_column(String(500), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(100), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    list_signatory_id: Mapped[str | None] = mapped_column(String(100), nullable=True)


class SignatoryVersionRow(Base):
    __tablename__ = "signatory_versions"
    __table_args__ = (UniqueConstraint("signatory_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signatory_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    authority_code: Mapped[str] = mapped_column(String(32), index=True)
    full_name_ru: Mapped[str] = mapped_column(String(300))
    full_name_latin: Mapped[str] = mapped_column(String(300))
    position_ru: Mapped[str] = mapped_column(String(500))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_backend: Mapped[str] = mapped_column(String(32))
    key_locator: Mapped[str] = mapped_column(String(2000))
    document_types: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    act_ru: Mapped[str | None] = mapped_column(String(300), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(100), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class DocumentType:
    code: str
    """Stable identifier used in XML, URLs and the registry (e.g. ``request``)."""
    title_ru: str
    """Russian title as printed on documents."""


@dataclass(frozen=True)
class Window:
    """Half-open interval ``[valid_from, valid_to)``; ``valid_to`` None = open-ended."""

    valid_from: datetime
    valid_to: datetime | None

    def contains(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def describe(self) -> str:
        end = _fmt(self.valid_to) if self.valid_to else "бессрочно"
        return f"{_fmt(self.valid_from)} – {end}"


@dataclass(frozen=True)
class Authority:
    """One version of a competent authority."""

    code: str
    """Stable code, e.g. ``KZ-MVD``."""
    version: int
    status: str
    """``active`` or ``dissolved``."""
    country: str
    """ISO 3166 alpha-2: ``KZ`` or ``BY``."""
    name_ru: str
    short_name_ru: str
    window: Window
    recorded_at: datetime
    requisites: Requisites = field(default_factory=lambda: Requisites())

    @property
    def short_ru(self) -> str:
        """The short name (the templates' spelling)."""
        return self.short_name_ru


@dataclass(frozen=True)
class Requisites:
    """What a letterhead prints besides the name, and who signs the list of Art. 9.3.

    All optional: a registry made before they existed has none, and a letterhead leaves
    out what it does not know.
    """

    name_state: str | None = None
    """The name in the state language (Kazakh or Belarusian), where the authority uses it."""
    address_ru: str | None = None
    """Postal address, in Russian, with the postcode."""
    phone: str | None = None
    email: str | None = None
    list_signatory_id: str | None = None
    """The signatory the authority names to sign its list of Art. 9.3 (else its head)."""


@dataclass(frozen=True)
class Authorisation:
    """A signatory's place in the list of Art. 9.3: role, authorising act, contacts."""

    role: str | None = None
    """A key of :data:`ROLES` (``head``, ``deputy``, ``authorised``, ``coordinator``)."""
    act_ru: str | None = None
    """The authorising act, number and date: «приказ № 245 от 28.11.2026»."""
    phone: str | None = None
    email: str | None = None

    @property
    def role_ru(self) -> str | None:
        return ROLES.get(self.role) if self.role else None


@dataclass(frozen=True)
class KeyReference:
    """Where a signatory's private key lives; interpreted by :mod:`signing.keys`."""

    backend: str
    """``pkcs12``, ``pkcs11`` or ``memory`` (tests)."""
    locator: str
    """Backend-specific locator; never contains a secret."""


@dataclass(frozen=True)
class Signatory:
    """One version of a registered signatory."""

    signatory_id: str
    """Stable identifier, e.g. ``kz-mvd-ivanov``."""
    version: int
    status: str
    """``active`` or ``revoked``."""
    authority_code: str
    full_name_ru: str
    full_name_latin: str
    position_ru: str
    certificate_der: bytes
    key: KeyReference
    document_types: tuple[str, ...]
    window: Window
    recorded_at: datetime
    note: str | None = None
    authorisation: Authorisation = field(default_factory=lambda: Authorisation())

    @property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.certificate_der)


@dataclass(frozen=True)
class NewSignatory:
    """Input of :meth:`Registry.add_signatory`."""

    signatory_id: str
    authority_code: str
    full_name_ru: str
    full_name_latin: str
    position_ru: str
    certificate_der: bytes
    key: KeyReference
    document_types: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime | None = None
    note: str | None = None
    authorisation: Authorisation = field(default_factory=lambda: Authorisation())


# --------------------------------------------------------------------------- helpers


def utcnow() -> datetime:
    return datetime.now(UTC)


def _fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None:
        raise RegistryError(f"{what}: a timezone-aware datetime is required")
    return dt.astimezone(UTC)


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def window(self) -> Window: ...


V = TypeVar("V", bound=_Versioned)
T = TypeVar("T")


def winning_version(versions: Iterable[V], at: datetime) -> V | None:
    """The highest version whose window contains ``at`` (see module docstring)."""
    best: V | None = None
    for v in versions:
        if v.window.contains(at) and (best is None or v.version > best.version):
            best = v
    return best


@dataclass(frozen=True)
class Segment(Generic[T]):
    """A maximal interval during which the same version is in force."""

    window: Window
    version: T


def timeline(versions: Sequence[V]) -> list[Segment[V]]:
    """Resolve overlapping versions into consecutive segments (gaps omitted)."""
    points: set[datetime] = set()
    for v in versions:
        points.add(v.window.valid_from)
        if v.window.valid_to is not None:
            points.add(v.window.valid_to)
    bounds = sorted(points)
    segments: list[Segment[V]] = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        win = winning_version(versions, start)
        if win is None:
            continue
        if segments and segments[-1].version is win and segments[-1].window.valid_to == start:
            segments[-1] = Segment(Window(segments[-1].window.valid_from, end), win)
        else:
            segments.append(Segment(Window(start, end), win))
    return segments


def _authority_view(row: AuthorityVersionRow | Row[Any]) -> Authority:
    return Authority(
        code=row.code,
        version=row.version,
        status=row.status,
        country=row.country,
        name_ru=row.name_ru,
        short_name_ru=row.short_name_ru,
        window=Window(row.valid_from, row.valid_to),
        recorded_at=row.recorded_at,
        requisites=Requisites(
            row.name_state, row.address_ru, row.phone, row.email, row.list_signatory_id
        ),
    )


def _signatory_view(row: SignatoryVersionRow | Row[Any]) -> Signatory:
    return Signatory(
        signatory_id=row.signatory_id,
        version=row.version,
        status=row.status,
        authority_code=row.authority_code,
        full_name_ru=row.full_name_ru,
        full_name_latin=row.full_name_latin,
        position_ru=row.position_ru,
        certificate_der=bytes(row.certificate_der),
        key=KeyReference(row.key_backend, row.key_locator),
        document_types=tuple(row.document_types),
        window=Window(row.valid_from, row.valid_to),
        recorded_at=row.recorded_at,
        note=row.note,
        authorisation=Authorisation(row.role, row.act_ru, row.phone, row.email),
    )


def certificate_summary(cert: x509.Certificate) -> dict[str, str]:
    """Human-relevant facts of a certificate (for listings and exports)."""
    validity = cert["tbs_certificate"]["validity"]
    return {
        "serial_hex": format(cert.serial_number, "X"),
        "subject": cert.subject.human_friendly,
        "issuer": cert.issuer.human_friendly,
        "not_before": validity["not_before"].native.isoformat(),
        "not_after": validity["not_after"].native.isoformat(),
        "sha256": hashlib.sha256(cert.dump()).hexdigest(),
    }

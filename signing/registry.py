"""Registry of competent authorities and their authorised signatories (Art. 2, 9.3, 9.4).

Everything here is **append-only**.  A change never updates or deletes a row; it
adds a new *version*.  Each version carries a validity window
``[valid_from, valid_to)`` (``valid_to`` ``None`` = open-ended) and a status.
The state of an authority or a signatory on a date ``D`` is given by the
*highest version whose window contains D*:

* adding a signatory writes version 1, ``active``, with its window;
* re-adding (new certificate, new document types, new window) writes a new
  ``active`` version that overrides the older ones from its ``valid_from`` on;
* revoking at ``T`` writes a ``revoked`` version with window ``[T, ∞)``: from
  ``T`` on the signatory may not sign, before ``T`` the old versions still apply.

So "who could sign for whom on date D" stays answerable forever, including for
documents signed before a revocation.  Concurrent writers are serialised by the
database: ``(key, version)`` is unique.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from asn1crypto import x509
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import RegistryError, SignatoryNotAuthorised, SignatoryUnknown
from .registry_records import (
    ACTIVE,
    COUNTRIES,
    DEFAULT_AUTHORITIES,
    DEFAULT_DOCUMENT_TYPES,
    DISSOLVED,
    REVOKED,
    ROLES,
    STATE_LANGUAGE_NAMES,
    Authorisation,
    Authority,
    AuthorityVersionRow,
    DocumentType,
    DocumentTypeRow,
    KeyReference,
    NewSignatory,
    Requisites,
    Segment,
    Signatory,
    SignatoryVersionRow,
    Window,
    _authority_view,
    _aware,
    _fmt,
    _signatory_view,
    certificate_summary,
    timeline,
    utcnow,
    winning_version,
)

__all__ = [
    "ACTIVE",
    "COUNTRIES",
    "DEFAULT_AUTHORITIES",
    "DEFAULT_DOCUMENT_TYPES",
    "DISSOLVED",
    "REVOKED",
    "ROLES",
    "STATE_LANGUAGE_NAMES",
    "Authorisation",
    "Authority",
    "AuthorityVersionRow",
    "DocumentType",
    "DocumentTypeRow",
    "KeyReference",
    "NewSignatory",
    "Registry",
    "Requisites",
    "Segment",
    "Signatory",
    "SignatoryVersionRow",
    "Window",
    "certificate_summary",
    "timeline",
    "utcnow",
    "winning_version",
]

# --------------------------------------------------------------------------- registry


def _requisites(authority: Authority) -> dict[str, str | None]:
    r = authority.requisites
    return {
        "name_state": r.name_state,
        "address_ru": r.address_ru,
        "phone": r.phone,
        "email": r.email,
        "list_signatory_id": r.list_signatory_id,
    }


def _authorisation(signatory: Signatory) -> dict[str, str | None]:
    a = signatory.authorisation
    return {"role": a.role, "act_ru": a.act_ru, "phone": a.phone, "email": a.email}


_AUTHORITIES: Table = AuthorityVersionRow.__table__  # type: ignore[assignment]
_SIGNATORIES: Table = SignatoryVersionRow.__table__  # type: ignore[assignment]
"""Versions are read as plain rows, not ORM objects: a document's POST reads them on its
hot path and only ever turns them into immutable views (:func:`_authority_view`)."""

_AUTHORITY_VERSIONS = "migdocs.registry.authority_versions"
"""``Session.info`` key: authority versions read in this transaction (dropped on a write)."""


@event.listens_for(Session, "after_transaction_end")
def _forget_authority_versions(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the session's transaction, not a savepoint
        session.info.pop(_AUTHORITY_VERSIONS, None)


class Registry:
    """Operations on the registry within one SQLAlchemy session.

    The caller owns the transaction: call ``session.commit()`` after writes.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- document types ------------------------------------------------------

    def add_document_type(self, code: str, title_ru: str) -> DocumentType:
        if self.session.get(DocumentTypeRow, code) is not None:
            raise RegistryError(f"document type {code!r} already exists")
        self.session.add(DocumentTypeRow(code=code, title_ru=title_ru, recorded_at=utcnow()))
        self._flush(f"document type {code!r}")
        return DocumentType(code, title_ru)

    def ensure_default_document_types(self) -> None:
        for code, title in DEFAULT_DOCUMENT_TYPES:
            if self.session.get(DocumentTypeRow, code) is None:
                self.add_document_type(code, title)

    def document_types(self) -> list[DocumentType]:
        rows = self.session.scalars(select(DocumentTypeRow).order_by(DocumentTypeRow.code))
        return [DocumentType(r.code, r.title_ru) for r in rows]

    # -- authorities ---------------------------------------------------------

    def add_authority(
        self,
        code: str,
        country: str,
        name_ru: str,
        short_name_ru: str,
        valid_from: datetime,
        valid_to: datetime | None = None,
        *,
        status: str = ACTIVE,
        note: str | None = None,
        requisites: Requisites | None = None,
    ) -> Authority:
        """Add an authority, or a new version of it (rename, dissolution, new requisites).

        A version is whole: ``requisites`` not given means the new version has none."""
        if country not in COUNTRIES:
            raise RegistryError(f"country must be one of {', '.join(COUNTRIES)}, not {country!r}")
        if status not in (ACTIVE, DISSOLVED):
            raise RegistryError(f"unknown authority status {status!r}")
        vf = _aware(valid_from, "valid_from")
        vt = _aware(valid_to, "valid_to") if valid_to is not None else None
        if vt is not None and vt <= vf:
            raise RegistryError("valid_to must be after valid_from")
        req = requisites or Requisites()
        if req.email is not None and "@" not in req.email:
            raise RegistryError(f"e-mail {req.email!r} of authority {code!r} has no '@'")
        version = self._next_version(AuthorityVersionRow, AuthorityVersionRow.code, code)
        row = AuthorityVersionRow(
            code=code,
            version=version,
            status=status,
            country=country,
            name_ru=name_ru,
            short_name_ru=short_name_ru,
            valid_from=vf,
            valid_to=vt,
            recorded_at=utcnow(),
            note=note,
            name_state=req.name_state,
            address_ru=req.address_ru,
            phone=req.phone,
            email=req.email,
            list_signatory_id=req.list_signatory_id,
        )
        self.session.add(row)
        self._flush(f"authority {code!r}")
        self.session.info.pop(_AUTHORITY_VERSIONS, None)
        return _authority_view(row)

    def ensure_default_authorities(
        self, valid_from: datetime, requisites: dict[str, Requisites] | None = None
    ) -> None:
        """Register the four Art. 2 authorities if they are not registered yet.

        With ``requisites`` (code → letterhead data), an authority already registered
        without an address gets a new version carrying them, in force from now on.
        """
        for code, country, name, short in DEFAULT_AUTHORITIES:
            given = (requisites or {}).get(code) or Requisites(STATE_LANGUAGE_NAMES.get(code))
            versions = self.authority_versions(code)
            if not versions:
                self.add_authority(code, country, name, short, valid_from, requisites=given)
                continue
            last = versions[-1]
            if last.status == ACTIVE and not last.requisites.address_ru and given.address_ru:
                self.add_authority(
                    code,
                    last.country,
                    last.name_ru,
                    last.short_name_ru,
                    utcnow(),
                    requisites=given,
                    note="requisites added",
                )

    def authority_versions(self, code: str) -> list[Authority]:
        """Every version of ``code``, oldest first; read once per session (a document's
        POST asks for the sender's versions three times: signatory, block, letterhead)."""
        known: dict[str, list[Authority]] = self.session.info.setdefault(_AUTHORITY_VERSIONS, {})
        found = known.get(code)
        if found is None:
            rows = self.session.execute(
                select(_AUTHORITIES)
                .where(_AUTHORITIES.c.code == code)
                .order_by(_AUTHORITIES.c.version)
            )
            found = known[code] = [_authority_view(r) for r in rows]
        return list(found)

    def read_authorities(self, codes: tuple[str, ...]) -> None:
        """Read the versions of all ``codes`` in one query into this session's cache
        (:meth:`authority_versions`): a document's POST needs its sender's and its
        recipient's, one round trip instead of two."""
        known: dict[str, list[Authority]] = self.session.info.setdefault(_AUTHORITY_VERSIONS, {})
        missing = sorted(set(codes) - set(known))
        if not missing:
            return
        found: dict[str, list[Authority]] = {code: [] for code in missing}
        rows = self.session.execute(
            select(_AUTHORITIES)
            .where(_AUTHORITIES.c.code.in_(missing))
            .order_by(_AUTHORITIES.c.code, _AUTHORITIES.c.version)
        )
        for row in rows:
            found[row.code].append(_authority_view(row))
        known.update(found)

    def authority_at(self, code: str, at: datetime) -> Authority | None:
        """The version of authority ``code`` in force at ``at`` (active or dissolved)."""
        return winning_version(self.authority_versions(code), _aware(at, "at"))

    def authority_codes(self) -> list[str]:
        return list(
            self.session.scalars(
                select(AuthorityVersionRow.code).distinct().order_by(AuthorityVersionRow.code)
            )
        )

    # -- signatories ---------------------------------------------------------

    def add_signatory(self, new: NewSignatory) -> Signatory:
        """Register a signatory, or a new version of one (it overrides from ``valid_from``)."""
        vf = _aware(new.valid_from, "valid_from")
        vt = _aware(new.valid_to, "valid_to") if new.valid_to is not None else None
        if vt is not None and vt <= vf:
            raise RegistryError("valid_to must be after valid_from")
        if not new.signatory_id or not new.signatory_id.strip():
            raise RegistryError("signatory id must not be empty")
        if not self.authority_versions(new.authority_code):
            raise RegistryError(f"unknown authority {new.authority_code!r}")
        role = new.authorisation.role
        if role is not None and role not in ROLES:
            raise RegistryError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        known_types = {t.code for t in self.document_types()}
        unknown = [t for t in new.document_types if t not in known_types]
        if unknown or not new.document_types:
            raise RegistryError(
                f"unknown document type(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(sorted(known_types))}"
            )
        try:
            cert = x509.Certificate.load(new.certificate_der)
            cert.native  # noqa: B018 - forces a full parse
        except Exception as exc:
            raise RegistryError(f"certificate is not a valid DER X.509 certificate: {exc}") from exc
        version = self._next_version(
            SignatoryVersionRow, SignatoryVersionRow.signatory_id, new.signatory_id
        )
        return self._record_version(new, new.signatory_id, version, ACTIVE, vf, vt, new.note)

    def revoke_signatory(
        self, signatory_id: str, at: datetime | None = None, reason: str | None = None
    ) -> Signatory:
        """Close the signatory's authorisation from ``at`` (default now) on."""
        versions = self.signatory_versions(signatory_id)
        if not versions:
            raise SignatoryUnknown(f"signatory {signatory_id!r} is not registered")
        when = _aware(at, "at") if at is not None else utcnow()
        last = versions[-1]
        return self._record_version(
            last, signatory_id, last.version + 1, REVOKED, when, None, reason
        )

    def _record_version(
        self,
        source: NewSignatory | Signatory,
        signatory_id: str,
        version: int,
        status: str,
        valid_from: datetime,
        valid_to: datetime | None,
        note: str | None,
    ) -> Signatory:
        """Append one version row carrying ``source``'s person, certificate and key."""
        row = SignatoryVersionRow(
            signatory_id=signatory_id,
            version=version,
            status=status,
            authority_code=source.authority_code,
            full_name_ru=source.full_name_ru,
            full_name_latin=source.full_name_latin,
            position_ru=source.position_ru,
            certificate_der=source.certificate_der,
            key_backend=source.key.backend,
            key_locator=source.key.locator,
            document_types=list(source.document_types),
            valid_from=valid_from,
            valid_to=valid_to,
            recorded_at=utcnow(),
            note=note,
            role=source.authorisation.role,
            act_ru=source.authorisation.act_ru,
            phone=source.authorisation.phone,
            email=source.authorisation.email,
        )
        self.session.add(row)
        self._flush(f"signatory {signatory_id!r}")
        return _signatory_view(row)

    def signatory_versions(self, signatory_id: str) -> list[Signatory]:
        rows = self.session.execute(
            select(_SIGNATORIES)
            .where(_SIGNATORIES.c.signatory_id == signatory_id)
            .order_by(_SIGNATORIES.c.version)
        )
        return [_signatory_view(r) for r in rows]

    def signatory_ids(self, authority_code: str | None = None) -> list[str]:
        q = select(SignatoryVersionRow.signatory_id).distinct()
        if authority_code is not None:
            q = q.where(SignatoryVersionRow.authority_code == authority_code)
        return list(self.session.scalars(q.order_by(SignatoryVersionRow.signatory_id)))

    def signatory_at(self, signatory_id: str, at: datetime) -> Signatory | None:
        return winning_version(self.signatory_versions(signatory_id), _aware(at, "at"))

    def authorised_windows(self, signatory_id: str) -> list[Segment[Signatory]]:
        """Segments of time during which the signatory was authorised (active)."""
        return [
            s for s in timeline(self.signatory_versions(signatory_id)) if s.version.status == ACTIVE
        ]

    def authorised_signatory(
        self, signatory_id: str, authority: str, document_type: str, at: datetime
    ) -> Signatory:
        """The signatory version that authorises this signature, or the precise refusal.

        :raises SignatoryUnknown: never registered.
        :raises SignatoryNotAuthorised: with ``reason`` ``wrong-authority``,
            ``outside-validity-window``, ``revoked``, ``document-type`` or
            ``authority-inactive``.
        """
        at = _aware(at, "at")
        versions = self.signatory_versions(signatory_id)
        if not versions:
            raise SignatoryUnknown(
                f"Подписант {signatory_id!r} не зарегистрирован "
                f"(signatory {signatory_id!r} is not registered)"
            )
        current = winning_version(versions, at)
        reference = current or versions[-1]
        if reference.authority_code != authority:
            raise SignatoryNotAuthorised(
                f"Подписант {signatory_id!r} относится к органу {reference.authority_code}, "
                f"а документ направляет {authority} (signatory belongs to another authority)",
                reason="wrong-authority",
            )
        if current is None:
            windows = "; ".join(s.window.describe() for s in self.authorised_windows(signatory_id))
            raise SignatoryNotAuthorised(
                f"Подписант {signatory_id!r} не уполномочен на {_fmt(at)}: дата вне срока "
                f"полномочий ({windows or 'нет'}) (outside the signatory's validity window)",
                reason="outside-validity-window",
            )
        if current.status == REVOKED:
            raise SignatoryNotAuthorised(
                f"Полномочия подписанта {signatory_id!r} отозваны с "
                f"{_fmt(current.window.valid_from)} (signatory revoked)"
                + (f": {current.note}" if current.note else ""),
                reason="revoked",
            )
        if document_type not in current.document_types:
            raise SignatoryNotAuthorised(
                f"Подписант {signatory_id!r} не уполномочен подписывать документы вида "
                f"{document_type!r} (may sign: {', '.join(current.document_types)}) "
                f"(document type not allowed)",
                reason="document-type",
            )
        auth = self.authority_at(authority, at)
        if auth is None or auth.status != ACTIVE:
            raise SignatoryNotAuthorised(
                f"Орган {authority} не действует на {_fmt(at)} (authority not active)",
                reason="authority-inactive",
            )
        return current

    # -- export --------------------------------------------------------------

    def export(self, at: datetime | None = None) -> dict[str, Any]:
        """The whole registry (all versions + resolved windows) as JSON-ready data."""
        at = _aware(at, "at") if at is not None else utcnow()

        def win(w: Window) -> dict[str, str | None]:
            return {
                "valid_from": w.valid_from.isoformat(),
                "valid_to": w.valid_to.isoformat() if w.valid_to else None,
            }

        authorities = []
        for code in self.authority_codes():
            versions = self.authority_versions(code)
            cur = winning_version(versions, at)
            authorities.append(
                {
                    "code": code,
                    "current": None
                    if cur is None
                    else {
                        "name_ru": cur.name_ru,
                        "short_name_ru": cur.short_name_ru,
                        "country": cur.country,
                        "status": cur.status,
                        **_requisites(cur),
                    },
                    "versions": [
                        {
                            "version": v.version,
                            "status": v.status,
                            "country": v.country,
                            "name_ru": v.name_ru,
                            "short_name_ru": v.short_name_ru,
                            **_requisites(v),
                            **win(v.window),
                            "recorded_at": v.recorded_at.isoformat(),
                        }
                        for v in versions
                    ],
                }
            )
        signatories = []
        for sid in self.signatory_ids():
            sversions = self.signatory_versions(sid)
            scur = winning_version(sversions, at)
            signatories.append(
                {
                    "signatory_id": sid,
                    "authorised_now": scur is not None and scur.status == ACTIVE,
                    "authorised_windows": [
                        {**win(s.window), "version": s.version.version}
                        for s in self.authorised_windows(sid)
                    ],
                    "versions": [
                        {
                            "version": sv.version,
                            "status": sv.status,
                            "authority": sv.authority_code,
                            "full_name_ru": sv.full_name_ru,
                            "full_name_latin": sv.full_name_latin,
                            "position_ru": sv.position_ru,
                            **_authorisation(sv),
                            "document_types": list(sv.document_types),
                            **win(sv.window),
                            "recorded_at": sv.recorded_at.isoformat(),
                            "note": sv.note,
                            "certificate": {
                                **certificate_summary(sv.certificate),
                                "der_base64": base64.b64encode(sv.certificate_der).decode(),
                            },
                        }
                        for sv in sversions
                    ],
                }
            )
        return {
            "generated_at": at.isoformat(),
            "document_types": [
                {"code": t.code, "title_ru": t.title_ru} for t in self.document_types()
            ],
            "authorities": authorities,
            "signatories": signatories,
        }

    def export_json(self, at: datetime | None = None) -> str:
        return json.dumps(self.export(at), ensure_ascii=False, indent=2)

    # -- internals -----------------------------------------------------------

    def _next_version(self, table: Any, key_col: Any, key: str) -> int:
        current = self.session.scalar(select(func.max(table.version)).where(key_col == key))
        return int(current or 0) + 1

    def _flush(self, what: str) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise RegistryError(f"concurrent or duplicate change of {what}: {exc.orig}") from exc

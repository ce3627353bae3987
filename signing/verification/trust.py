# mypy: disallow-untyped-calls=False
"""Trust anchors and the registered-signatory check (registry lookup)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509
from pyhanko_certvalidator.registry import SimpleTrustManager
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ..errors import SignatoryNotAuthorised, SigningError
from ..registry import Authority, Registry, Signatory
from .report import FAILED, PASSED, RegistryFinding, RegistryQuery

# --------------------------------------------------------------------------- trust roots


class TrustRoots:
    """Parsed trust anchors, shared across verifications (parsing is done once).

    :attr:`trust_manager` is pyHanko's index of the anchors, also built once: it is only
    read after it is built, so every validation context may share it.
    """

    def __init__(self, certificates: Iterable[x509.Certificate]) -> None:
        self.certificates: tuple[x509.Certificate, ...] = tuple(certificates)
        self.trust_manager = SimpleTrustManager.build(trust_roots=list(self.certificates))

    @classmethod
    def from_der(cls, ders: Iterable[bytes]) -> TrustRoots:
        return cls(x509.Certificate.load(d) for d in ders)

    @classmethod
    def from_pem_files(cls, paths: Iterable[Path]) -> TrustRoots:
        """Every certificate in the given PEM (or DER) files."""
        certs: list[x509.Certificate] = []
        for path in paths:
            data = Path(path).read_bytes()
            if pem.detect(data):
                certs.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True))
            else:
                certs.append(x509.Certificate.load(data))
        return cls(certs)

    def __len__(self) -> int:
        return len(self.certificates)


def _as_roots(trust_roots: TrustRoots | Iterable[bytes]) -> TrustRoots:
    return trust_roots if isinstance(trust_roots, TrustRoots) else TrustRoots.from_der(trust_roots)


# --------------------------------------------------------------------------- registry


class _SnapshotRegistry(Registry):
    """A :class:`Registry` answering from an in-memory snapshot of the version tables."""

    def __init__(
        self,
        signatories: dict[str, list[Signatory]],
        authorities: dict[str, list[Authority]],
    ) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # never touches a session
        self._signatories = signatories
        self._authorities = authorities
        self.by_certificate: dict[bytes, list[str]] = {}
        for sid, versions in signatories.items():
            for v in versions:
                ids = self.by_certificate.setdefault(v.certificate_der, [])
                if sid not in ids:
                    ids.append(sid)

    def signatory_versions(self, signatory_id: str) -> list[Signatory]:
        return list(self._signatories.get(signatory_id, ()))

    def authority_versions(self, code: str) -> list[Authority]:
        return list(self._authorities.get(code, ()))


_REGISTRY_TOKEN = text(
    "SELECT (SELECT max(id) FROM signatory_versions), (SELECT count(*) FROM signatory_versions),"
    " (SELECT max(id) FROM authority_versions), (SELECT count(*) FROM authority_versions)"
)


class SessionRegistryLookup:
    """The registry check against the signatory registry database.

    Finds the registered signatory by the signing certificate (preferring the id named
    in the source XML), then asks :meth:`Registry.authorised_signatory` whether that
    signatory could sign this document type for the stated authority at signing time,
    and whether the certificate registered for them then was this one.

    The registry is append-only, so the highest row id and row count of its two version
    tables identify its state: one small query per verification checks them, and the
    tables are re-read into memory only when they changed.
    """

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._sessions = session_factory
        self._lock = threading.Lock()
        self._snapshot: tuple[tuple[Any, ...], _SnapshotRegistry] | None = None

    def _current(self) -> _SnapshotRegistry | None:
        """The snapshot if the version tables did not change since it was read.

        The check is one query on a plain connection of the sessions' engine (an ORM
        session would cost more than the query); ``None`` = read the tables again."""
        snapshot = self._snapshot
        engine = getattr(self._sessions, "kw", {}).get("bind")
        if snapshot is None or not isinstance(engine, Engine):
            return None
        with engine.connect() as connection:
            token = tuple(connection.execute(_REGISTRY_TOKEN).one())
        return snapshot[1] if snapshot[0] == token else None

    def _registry(self, session: Session) -> _SnapshotRegistry:
        token = tuple(session.execute(_REGISTRY_TOKEN).one())
        snapshot = self._snapshot
        if snapshot is not None and snapshot[0] == token:
            return snapshot[1]
        real = Registry(session)
        signatories = {sid: real.signatory_versions(sid) for sid in real.signatory_ids()}
        authorities = {code: real.authority_versions(code) for code in real.authority_codes()}
        registry = _SnapshotRegistry(signatories, authorities)
        with self._lock:
            self._snapshot = (token, registry)
        return registry

    def __call__(self, query: RegistryQuery) -> RegistryFinding:
        registry = self._current()
        if registry is None:
            with self._sessions() as session:
                registry = self._registry(session)
        return self._lookup(registry, query)

    def _lookup(self, registry: _SnapshotRegistry, q: RegistryQuery) -> RegistryFinding:
        ids = registry.by_certificate.get(q.certificate_der, [])
        if not ids:
            return RegistryFinding(
                FAILED,
                "Сертификат подписи не зарегистрирован ни за одним уполномоченным лицом "
                "в перечне (signing certificate not in the registry)",
                reason="not-registered",
            )
        if q.claimed_signatory is not None and q.claimed_signatory not in ids:
            return RegistryFinding(
                FAILED,
                f"В документе указан подписант {q.claimed_signatory}, но сертификат подписи "
                f"зарегистрирован за {', '.join(ids)} (certificate belongs to another signatory)",
                reason="certificate-mismatch",
                signatory_id=ids[0],
            )
        sid = q.claimed_signatory or ids[0]
        versions = registry.signatory_versions(sid)
        ref = versions[-1]
        info = {
            "signatory_id": sid,
            "authority": ref.authority_code,
            "full_name_ru": ref.full_name_ru,
            "position_ru": ref.position_ru,
        }
        if q.authority is None or q.document_type is None:
            # missing evidence never improves a verdict: undecided is a failed constraint
            return RegistryFinding(
                FAILED,
                f"Сертификат принадлежит зарегистрированному подписанту {sid} "
                f"({ref.authority_code}), но орган-отправитель и вид документа в подписанной "
                "версии не указаны (нет исходного XML и метаданных): полномочия не "
                "подтверждены (authority/document type unknown)",
                reason="no-source-xml",
                **info,
            )
        when = q.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        try:
            current = registry.authorised_signatory(sid, q.authority, q.document_type, q.at)
        except SignatoryNotAuthorised as exc:
            return RegistryFinding(
                FAILED,
                f"На момент подписания ({when}) подписант не был уполномочен: {exc.message}",
                reason=exc.reason,
                **info,
            )
        except SigningError as exc:
            return RegistryFinding(FAILED, exc.message, reason=exc.reason, **info)
        if current.certificate_der != q.certificate_der:
            return RegistryFinding(
                FAILED,
                f"На момент подписания ({when}) за подписантом {sid} был зарегистрирован "
                "другой сертификат (certificate not the one registered at signing time)",
                reason="certificate-mismatch",
                **info,
            )
        return RegistryFinding(
            PASSED,
            now_reason=self._now_reason(registry, sid, q),
            message=f"{current.full_name_ru} ({current.position_ru}, {current.authority_code}) на "
            f"момент подписания ({when}) был уполномочен подписывать документы вида "
            f"«{q.document_type}» от имени {q.authority}",
            signatory_id=sid,
            authority=current.authority_code,
            full_name_ru=current.full_name_ru,
            position_ru=current.position_ru,
        )

    @staticmethod
    def _now_reason(registry: _SnapshotRegistry, sid: str, q: RegistryQuery) -> str | None:
        """Why the signatory is not authorised at ``q.now`` (``None`` = authorised)."""
        if q.now is None or q.authority is None or q.document_type is None:
            return None
        try:
            registry.authorised_signatory(sid, q.authority, q.document_type, q.now)
        except SigningError as exc:
            return exc.reason
        return None

"""The other Party's signatory lists as received (Art. 9.3, 9.4), and the registry they make.

**Receiving** (:func:`receive_list`, ``POST /peer/v1/lists`` from the peer node): the list
PDF must carry exactly one signature covering the whole file, trusted by the peer Party's
roots; its ``signatories.json`` must be the list of the named authority of that Party; and
the signer must be in that very list, authorised at its signing time to sign requests for
the authority.  Every version is kept (PDF in storage, extract in the database) with the
time it was received; the same version again is acknowledged, a different PDF under a
version already received is refused.

**Judging** (:class:`ExchangedListsLookup`): the receiving verifier's registry check.  The
list *in force at signing time* is the newest received version of the authority's list
restricted to the entries recorded (``recorded_at``) at or before the signing time — the
registry is append-only, so this is the list as the sending Party kept it then.  A
signatory absent from it, or not authorised in it at signing time for that document type,
fails the check and the document gets a negative receipt.  This node's own registry plays
no part in judging the other Party's signatures — neither on receipt nor when the node's
public verifier checks one of the other Party's documents later
(:class:`PartyRegistryLookup`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.domain.signatory_lists import SIGNER_DOCUMENT_TYPE
from service.exchange.errors import ListRefused
from service.exchange.outbox import party_of
from service.exchange.receipts import attached_file, roots_der
from service.store import audit
from service.store.db import Database
from service.store.exchange_tables import Peer, ReceivedList, received_list_key
from service.store.storage import Storage
from signing.errors import SigningError
from signing.registry import Authority, KeyReference, Signatory, Window
from signing.untrusted import untrusted_reader
from signing.verification import SessionRegistryLookup
from signing.verification.report import RegistryFinding, RegistryQuery
from signing.verification.trust import _SnapshotRegistry
from signing.verify_basic import verify_pdf

LIST_FILE = "signatories.json"
NO_KEY = KeyReference("none", "the other Party's signatory: no key here")


def storage_key(authority: str, version: int) -> str:
    return received_list_key(authority, version)


# ----- the extract as registry rows -------------------------------------------------------


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _required(value: str | None) -> datetime:
    found = _when(value)
    if found is None:
        raise ValueError("a required time is missing")
    return found


@dataclass(frozen=True)
class Extract:
    """A list's ``signatories.json`` as registry versions."""

    authority: str
    signatories: dict[str, list[Signatory]]
    authorities: list[Authority]

    def registry(self, at: datetime | None = None) -> _SnapshotRegistry:
        """The registry as this list shows it, limited to entries recorded by ``at``."""
        # Signing times have whole seconds (CMS ``signing-time``): compare at that grain.
        keep = (
            (lambda v: v.recorded_at.replace(microsecond=0) <= at)
            if at is not None
            else (lambda v: True)
        )
        return _SnapshotRegistry(
            {sid: [v for v in vs if keep(v)] for sid, vs in self.signatories.items()},
            {self.authority: [a for a in self.authorities if keep(a)]},
        )


def parse_extract(data: Mapping[str, Any]) -> Extract:
    """:class:`Extract` of a list's JSON; ``ValueError``/``KeyError``/``TypeError`` if it is
    not one."""
    authority = str(data["authority"])
    authorities = [
        Authority(
            code=authority,
            version=int(a["version"]),
            status=str(a["status"]),
            country=str(a["country"]),
            name_ru=str(a["name_ru"]),
            short_name_ru=str(a["short_name_ru"]),
            window=Window(_required(a["valid_from"]), _when(a["valid_to"])),
            recorded_at=_required(a["recorded_at"]),
        )
        for a in data["authority_versions"]
    ]
    signatories: dict[str, list[Signatory]] = {}
    for entry in data["signatories"]:
        sid = str(entry["signatory_id"])
        signatories[sid] = [
            Signatory(
                signatory_id=sid,
                version=int(v["version"]),
                status=str(v["status"]),
                authority_code=authority,
                full_name_ru=str(v["full_name_ru"]),
                full_name_latin=str(v["full_name_latin"]),
                position_ru=str(v["position_ru"]),
                certificate_der=base64.b64decode(v["certificate"]["der_base64"], validate=True),
                key=NO_KEY,
                document_types=tuple(str(t) for t in v["document_types"]),
                window=Window(_required(v["valid_from"]), _when(v["valid_to"])),
                recorded_at=_required(v["recorded_at"]),
                note=v.get("note"),
            )
            for v in entry["versions"]
        ]
    return Extract(authority, signatories, authorities)


# ----- receiving --------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    authority: str
    version: int
    sha256: str
    received_at: datetime
    repeated: bool


def _signer_certificate(pdf: bytes) -> bytes:
    try:
        reader = untrusted_reader(pdf)
        return bytes(reader.embedded_signatures[0].signer_cert.dump())
    except Exception as exc:  # pyHanko raises many types on malformed input
        raise ListRefused(f"the list's signature cannot be read: {exc}") from None


def check_list(pdf: bytes, peer: Peer, authority: str) -> tuple[Extract, str, datetime]:
    """Verify a list PDF from ``peer``; its extract, signatory id and signing time."""
    if party_of(authority) != peer.party:
        raise ListRefused(f"authority {authority} is not of Party {peer.party}, the sender")
    try:
        reports = verify_pdf(pdf, roots_der(peer.trust_roots_pem))
    except Exception as exc:  # pyHanko raises many types on malformed input
        raise ListRefused(f"the list is not a readable PDF: {exc}") from None
    if len(reports) != 1:
        raise ListRefused(f"the list carries {len(reports)} signatures, expected exactly 1")
    report = reports[0]
    if not (report.ok and report.covers_whole_file):
        why = report.error or (
            f"not trusted by the roots of {peer.party}" if not report.trusted else "altered"
        )
        raise ListRefused(f"the list's signature is not valid: {why}")
    signed_at = report.timestamp_time or report.signing_time
    if signed_at is None:
        raise ListRefused("the list's signature has no signing time")
    raw = attached_file(pdf, LIST_FILE)
    if raw is None:
        raise ListRefused(f"the list PDF lacks its {LIST_FILE}")
    try:
        extract = parse_extract(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise ListRefused(f"{LIST_FILE} is not a list of signatories: {exc!r}") from None
    if extract.authority != authority:
        raise ListRefused(f"the list is of {extract.authority}, not of {authority}")
    der = _signer_certificate(pdf)
    registry = extract.registry(signed_at)
    for sid in sorted(s for s, vs in extract.signatories.items() if vs):
        try:
            current = registry.authorised_signatory(sid, authority, SIGNER_DOCUMENT_TYPE, signed_at)
        except SigningError:
            continue
        if current.certificate_der == der:
            return extract, sid, signed_at
    raise ListRefused(
        "the list is not signed by a signatory it names as authorised (at its signing "
        "time) to sign requests of " + authority
    )


def receive_list(
    database: Database, storage: Storage, peer: Peer, authority: str, version: int, pdf: bytes
) -> Received:
    """Verify and keep version ``version`` of ``authority``'s list from ``peer``."""
    sha256 = hashlib.sha256(pdf).hexdigest()
    with database.reading() as session:
        known = session.execute(
            select(ReceivedList).where(
                ReceivedList.authority == authority, ReceivedList.version == version
            )
        ).scalar_one_or_none()
        if known is not None:
            if known.pdf_sha256 != sha256:
                raise ListRefused(
                    f"version {version} of the list of {authority} was received before "
                    "with other content: a new list needs a new version"
                )
            return Received(authority, version, sha256, known.received_at, True)
    extract_data = attached_file(pdf, LIST_FILE)
    _, signatory, signed_at = check_list(pdf, peer, authority)
    assert extract_data is not None
    received_at = datetime.now(UTC)
    try:
        with database.transaction() as session:
            # in the row's transaction (database storage: no file without its row)
            storage.put_in(session, storage_key(authority, version), pdf)
            session.add(
                ReceivedList(
                    party=peer.party,
                    authority=authority,
                    version=version,
                    pdf_sha256=sha256,
                    generated_at=signed_at,
                    received_at=received_at,
                    signatory_id=signatory,
                    snapshot=extract_data.decode("utf-8"),
                )
            )
            audit.record(
                session,
                actor=f"peer:{peer.party}",
                action="exchange.list.receive",
                target=f"{authority}/v{version}",
                details={"pdf_sha256": sha256, "signatory_id": signatory},
            )
    except IntegrityError:  # the same version arrived concurrently
        return receive_list(database, storage, peer, authority, version, pdf)
    return Received(authority, version, sha256, received_at, False)


# ----- judging ----------------------------------------------------------------------------


class ExchangedListsLookup(SessionRegistryLookup):
    """The registry check against the lists received from the other Party (see module)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database.sessions)
        self._database = database
        self._parsed: dict[int, Extract] = {}
        self._parsed_lock = threading.Lock()

    def _extracts(self) -> list[Extract]:
        """The newest received version of each authority's list."""
        with self._database.reading() as session:
            rows = session.execute(
                select(ReceivedList.id, ReceivedList.authority, ReceivedList.version)
            ).all()
            newest: dict[str, tuple[int, int]] = {}
            for row_id, authority, version in rows:
                if authority not in newest or newest[authority][1] < version:
                    newest[authority] = (row_id, version)
            missing = [i for i, _ in newest.values() if i not in self._parsed]
            if missing:
                found = session.execute(
                    select(ReceivedList.id, ReceivedList.snapshot).where(
                        ReceivedList.id.in_(missing)
                    )
                ).all()
                with self._parsed_lock:
                    for row_id, snapshot in found:
                        self._parsed[row_id] = parse_extract(json.loads(snapshot))
        return [self._parsed[i] for i, _ in newest.values()]

    def registry_at(self, at: datetime) -> _SnapshotRegistry:
        signatories: dict[str, list[Signatory]] = {}
        authorities: dict[str, list[Authority]] = {}
        for extract in self._extracts():
            limited = extract.registry(at)
            for sid in extract.signatories:
                signatories.setdefault(sid, []).extend(limited.signatory_versions(sid))
            authorities[extract.authority] = limited.authority_versions(extract.authority)
        return _SnapshotRegistry(signatories, authorities)

    def __call__(self, query: RegistryQuery) -> RegistryFinding:
        finding = self._lookup(self.registry_at(query.at), query)
        if finding.reason == "not-registered":
            return RegistryFinding(
                finding.status,
                "Сертификат подписи не указан ни за одним лицом в перечне уполномоченных "
                "лиц, полученном от другой Стороны и действовавшем на момент подписания "
                "(signing certificate not in the exchanged list in force at signing time)",
                reason=finding.reason,
            )
        return finding


class PartyRegistryLookup(ExchangedListsLookup):
    """A node's verifier on a node of a Party: signatures of its own Party's authorities
    against its own registry, those of the other Party's against the exchanged lists."""

    def __init__(self, database: Database, party: str) -> None:
        super().__init__(database)
        self.party = party

    def __call__(self, query: RegistryQuery) -> RegistryFinding:
        other = query.authority is not None and party_of(query.authority) not in (
            None,
            self.party,
        )
        if other:
            return super().__call__(query)
        return SessionRegistryLookup.__call__(self, query)

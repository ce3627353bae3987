"""The other Party's sample forms as received (Art. 9.3, 9.4), ``POST /peer/v1/forms``.

A form is accepted only from the registered peer node, and only if

* its authority belongs to the sending Party and its type is a document type;
* it carries exactly one signature, covering the whole file, whose chain ends at the
  sending Party's root (as a list: :func:`service.exchange.list_registry.check_list`);
* the node's full verifier — the one that judges the peer's documents, with the
  registry check against the *exchanged lists* (:class:`ExchangedListsLookup`) — finds it
  ``TOTAL_PASSED``.  For a sample form the verifier checks the signer as the signer of
  the authority's list: a signatory of that authority, named in the newest list received
  from the peer (its entries recorded by the signing time), authorised then to sign
  requests — which is how the sending node chooses the person who signs its forms and
  lists (:func:`service.domain.signatory_lists.list_signer`);
* it is a sample form of what the headers declare: XMP ``dc:type``
  ``migdocs-form:<version>``, a ``source.xml`` with ``sample="true"`` and that
  ``formVersion``, of that document type and that authority.

Every accepted file is kept (``exchange_received_forms``, PDF in storage as
``received-form-<sha256>.pdf``) with the time it was received.  The same bytes again are
acknowledged with the first received-at (idempotent).  Other bytes under a (type,
authority, version) received before are **not** refused: the sender re-signs the same
template version whenever the person signing for the authority, their certificate or the
authority's letterhead requisites change, and each such file is an official sample of its
own, verified on its own; the newest received is the one in force.  (Lists differ: their
version number is the sender's sequence, so other bytes under a known list version are a
contradiction and refused.)  A refusal is ``422 form_refused`` with every reason found, and
nothing is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.domain.forms import FORM_TYPES
from service.domain.verification import Verifier
from service.exchange.errors import FormRefused
from service.exchange.outbox import party_of
from service.exchange.receipts import roots_der
from service.store import audit
from service.store.db import Database
from service.store.exchange_tables import Peer, ReceivedForm, received_form_key
from service.store.storage import Storage
from signing.verification import CheckStatus, Indication, VerificationReport
from signing.verify_basic import verify_pdf


def storage_key(sha256: str) -> str:
    """Storage key of a received form's PDF, as received."""
    return received_form_key(sha256)


@dataclass(frozen=True)
class DeclaredForm:
    """What the sending node says it sends (checked against the file, never trusted)."""

    document_type: str
    authority: str
    version: str


@dataclass(frozen=True)
class Received:
    form: DeclaredForm
    sha256: str
    signatory_id: str
    signed_at: datetime
    received_at: datetime
    repeated: bool


def _refuse(reasons: list[str]) -> FormRefused:
    return FormRefused("the sample form is refused: " + "; ".join(reasons))


def _signature_reasons(pdf: bytes, peer: Peer) -> list[str]:
    """The file's one signature, over the whole file, trusted by the sender's root."""
    try:
        reports = verify_pdf(pdf, roots_der(peer.trust_roots_pem))
    except Exception as exc:  # pyHanko raises many types on malformed input
        return [f"the form cannot be read as a signed PDF: {type(exc).__name__}: {exc}"[:300]]
    if len(reports) != 1:
        return [f"the form carries {len(reports)} signatures, expected exactly 1"]
    basic = reports[0]
    if basic.ok and basic.covers_whole_file:
        return []
    why = basic.error or (
        f"not trusted by the roots of {peer.party}" if not basic.trusted else "altered"
    )
    return [f"the form's signature is not valid: {why}"]


def _report_reasons(report: VerificationReport) -> list[str]:
    if report.indication is Indication.TOTAL_PASSED:
        return []
    return [
        f"verification: {report.indication.value}"
        f"{' / ' + report.sub_indication if report.sub_indication else ''} — {report.summary}",
        *(
            f"{check.title}: {check.message}"
            for signature in report.signatures
            for check in signature.checks
            if check.status is CheckStatus.FAILED
        ),
    ]


def _content_reasons(report: VerificationReport, declared: DeclaredForm) -> list[str]:
    """The file is the sample form the headers declare."""
    source = report.source_xml
    if report.sample_form is None or source is None:
        return ['not a sample form (no source.xml marked sample="true")']
    reasons = []
    if report.form_version != declared.version:
        reasons.append(
            f"the form's XMP says version {report.form_version or 'none'}, not {declared.version}"
        )
    if source.form_version != declared.version:
        reasons.append(
            f"the form's source.xml says version {source.form_version or 'none'}, "
            f"not {declared.version}"
        )
    if source.document_type != declared.document_type:
        reasons.append(
            f"the form is of type {source.document_type or 'none'}, not {declared.document_type}"
        )
    if source.sender != declared.authority:
        reasons.append(
            f"the form is of authority {source.sender or 'none'}, not {declared.authority}"
        )
    return reasons


def check_form(
    pdf: bytes, peer: Peer, declared: DeclaredForm, verifier: Verifier
) -> tuple[str, datetime]:
    """Verify a form PDF from ``peer`` (see the module); its signatory id and signing time."""
    if party_of(declared.authority) != peer.party:
        raise _refuse([f"authority {declared.authority} is not of Party {peer.party}, the sender"])
    if declared.document_type not in FORM_TYPES:
        raise _refuse([f"{declared.document_type!r} is not a document type"])
    report = verifier.verify(pdf)  # bounded in time and memory, whatever the bytes
    reasons = _signature_reasons(pdf, peer) + _report_reasons(report)
    reasons += _content_reasons(report, declared)
    signer = report.signatures[0].signatory if report.signatures else None
    signed_at = report.signatures[0].best_signing_time if report.signatures else None
    if not reasons and (signer is None or signer.authority != declared.authority):
        reasons.append(f"the form is not signed by a signatory of {declared.authority}")
    if not reasons and signed_at is None:
        reasons.append("the form's signature has no signing time")
    if reasons:
        raise _refuse(reasons)
    assert signer is not None and signed_at is not None
    return signer.signatory_id, signed_at


def receive_form(
    database: Database,
    storage: Storage,
    verifier: Verifier,
    peer: Peer,
    declared: DeclaredForm,
    pdf: bytes,
) -> Received:
    """Verify and keep a sample form from ``peer``; the same bytes again: acknowledged."""
    sha256 = hashlib.sha256(pdf).hexdigest()
    with database.reading() as session:
        known = session.execute(
            select(ReceivedForm).where(ReceivedForm.pdf_sha256 == sha256)
        ).scalar_one_or_none()
        if known is not None:
            was = DeclaredForm(known.document_type, known.authority, known.form_version)
            if was != declared:
                raise _refuse(
                    [
                        f"this file was received before as the form {was.document_type} of "
                        f"{was.authority} v{was.version}"
                    ]
                )
            return Received(
                was, sha256, known.signatory_id, known.signed_at, known.received_at, True
            )
    signatory, signed_at = check_form(pdf, peer, declared, verifier)
    received_at = datetime.now(UTC)
    try:
        with database.transaction() as session:
            # in the row's transaction (database storage: no file without its row)
            storage.put_in(session, storage_key(sha256), pdf)
            session.add(
                ReceivedForm(
                    party=peer.party,
                    document_type=declared.document_type,
                    authority=declared.authority,
                    form_version=declared.version,
                    pdf_sha256=sha256,
                    signatory_id=signatory,
                    signed_at=signed_at,
                    received_at=received_at,
                )
            )
            audit.record(
                session,
                actor=f"peer:{peer.party}",
                action="exchange.form.receive",
                target=f"{declared.document_type}/{declared.authority}/v{declared.version}",
                details={"pdf_sha256": sha256, "signatory_id": signatory},
            )
    except IntegrityError:  # the same file arrived concurrently
        return receive_form(database, storage, verifier, peer, declared, pdf)
    return Received(declared, sha256, signatory, signed_at, received_at, False)

"""Signed receipts: «Уведомление о получении» (positive) or refusal (negative).

A receipt is a PDF/A-3u rendered by the service's renderer, carrying the XML receipt as
associated file ``receipt.xml`` and sealed by the receiving node's seal
(:class:`signing.seal.Seal`), so that it is evidence on its own, without the transport.
The sender checks the seal against the peer Party's trust roots and the XML against what
it sent (:func:`check_receipt`).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import weasyprint
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from service.exchange.errors import ReceiptInvalid
from service.pipeline.rendering import Renderer
from service.pipeline.vocabulary import AUTHORITIES
from signing.seal import Seal
from signing.untrusted import untrusted_reader
from signing.verify_basic import verify_pdf

NS = "urn:migdocs:exchange:receipt:1"
RECEIPT_NAME = "receipt.xml"
TITLE = "Уведомление о получении"
REFUSAL_TITLE = "Уведомление об отказе в приёме документа"
ACCEPTED = "accepted"
REFUSED = "refused"
SEAL_REASON = "Уведомление о получении документа узлом обмена migdocs"


@dataclass(frozen=True)
class Receipt:
    """The facts of a receipt (the XML inside the PDF)."""

    outcome: str
    """``accepted`` or ``refused``."""
    sender_number: str
    """Registration number the sender gave the document (as declared if unreadable)."""
    sha256: str
    """SHA-256 of the bytes received."""
    received_at: datetime
    receiving_party: str
    sender: str
    recipient: str
    indication: str
    """Verification indication (ETSI EN 319 102-1) of the received document."""
    sub_indication: str | None = None
    incoming_number: str | None = None
    """«вх. №» — only on a positive receipt."""
    declared_sha256: str | None = None
    """SHA-256 the sender declared; differs from ``sha256`` if altered in transit."""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    """Why the document was refused (negative receipt)."""


def _text(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, f"{{{NS}}}{name}").text = value


def to_xml(r: Receipt) -> bytes:
    root = etree.Element(f"{{{NS}}}receipt", nsmap={None: NS}, outcome=r.outcome)
    _text(root, "senderRegistrationNumber", r.sender_number)
    _text(root, "sha256", r.sha256)
    _text(root, "declaredSha256", r.declared_sha256)
    _text(root, "sender", r.sender)
    _text(root, "recipient", r.recipient)
    _text(root, "receivingParty", r.receiving_party)
    _text(root, "receivedAt", r.received_at.astimezone(UTC).isoformat())
    _text(root, "incomingNumber", r.incoming_number)
    verification = etree.SubElement(root, f"{{{NS}}}verification", indication=r.indication)
    if r.sub_indication:
        verification.set("subIndication", r.sub_indication)
    if r.reasons:
        reasons = etree.SubElement(root, f"{{{NS}}}reasons")
        for reason in r.reasons:
            _text(reasons, "reason", reason)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def from_xml(data: bytes) -> Receipt:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ReceiptInvalid(f"receipt XML is not well-formed: {exc}") from None

    def get(name: str, required: bool = True) -> str | None:
        found = root.find(f"{{{NS}}}{name}")
        if found is None or not (found.text or "").strip():
            if required:
                raise ReceiptInvalid(f"receipt XML lacks /receipt/{name}")
            return None
        return (found.text or "").strip()

    if root.tag != f"{{{NS}}}receipt" or root.get("outcome") not in (ACCEPTED, REFUSED):
        raise ReceiptInvalid("receipt XML: root is not a receipt with outcome accepted|refused")
    verification = root.find(f"{{{NS}}}verification")
    if verification is None or not verification.get("indication"):
        raise ReceiptInvalid("receipt XML lacks /receipt/verification/@indication")
    try:
        received_at = datetime.fromisoformat(str(get("receivedAt")))
    except ValueError:
        raise ReceiptInvalid("receipt XML: /receipt/receivedAt is not a date-time") from None
    return Receipt(
        outcome=str(root.get("outcome")),
        sender_number=str(get("senderRegistrationNumber")),
        sha256=str(get("sha256")),
        received_at=received_at,
        receiving_party=str(get("receivingParty")),
        sender=str(get("sender")),
        recipient=str(get("recipient")),
        indication=str(verification.get("indication")),
        sub_indication=verification.get("subIndication"),
        incoming_number=get("incomingNumber", required=False),
        declared_sha256=get("declaredSha256", required=False),
        reasons=tuple(
            (e.text or "").strip() for e in root.iterfind(f"{{{NS}}}reasons/{{{NS}}}reason")
        ),
    )


# ----- the PDF ------------------------------------------------------------------------------


def _ru(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d.%m.%Y %H:%M:%S UTC")


def _name(code: str) -> str:
    found = AUTHORITIES.get(code)
    return found.name_ru if found is not None else code


def render(renderer: Renderer, r: Receipt, node: str) -> bytes:
    """The receipt as PDF/A-3u with ``receipt.xml`` attached (not yet sealed)."""
    accepted = r.outcome == ACCEPTED
    html = renderer.jinja.get_template("exchange/receipt.html.j2").render(
        title=TITLE if accepted else REFUSAL_TITLE,
        outcome_text="Документ получен, проверен и зарегистрирован"
        if accepted
        else "Документ не принят: проверка не пройдена, документ не сохранён",
        r=r,
        node=node,
        sender_name=_name(r.sender),
        recipient_name=_name(r.recipient),
        received_at=_ru(r.received_at),
        received_date=r.received_at.astimezone(UTC).strftime("%d.%m.%Y"),
    )
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(to_xml(r)),
        name=RECEIPT_NAME,
        relationship="Data",
        description="Квитанция о получении (машиночитаемая версия)",
    )
    identifier = f"receipt-{r.sender_number}-{r.sha256[:16]}"
    return renderer.pdf_from_html(
        html,
        attachments=[attachment],
        photos={},
        identifier=identifier,
        types=["exchange-receipt", TITLE, f"migdocs-receipt:{r.outcome}"],
        publisher=node,
        keywords=["exchange-receipt", r.outcome],
    ).pdf


def make_receipt(renderer: Renderer, seal: Seal, r: Receipt, node: str) -> bytes:
    """Render and seal: the bytes the peer gets back."""
    return asyncio.run(seal.async_seal(render(renderer, r, node), reason=SEAL_REASON))


# ----- checking a receipt (sender side) -------------------------------------------------------


def attached_file(pdf: bytes, name: str) -> bytes | None:
    """The embedded file ``name`` of ``pdf`` (flat ``/EmbeddedFiles`` name tree, as
    WeasyPrint writes it); ``None`` if absent or the PDF is unreadable."""
    try:
        reader = untrusted_reader(pdf)
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        for index in range(0, len(names), 2):
            spec = names[index + 1].get_object()
            if str(spec.get("/UF") or spec.get("/F")) == name:
                return bytes(spec["/EF"]["/F"].get_object().data)
    except Exception:  # pyHanko raises many types on malformed input
        return None
    return None


def attached_receipt_xml(pdf: bytes) -> bytes:
    """The ``receipt.xml`` associated file of a receipt PDF."""
    found = attached_file(pdf, RECEIPT_NAME)
    if found is None:
        raise ReceiptInvalid("the receipt PDF is unreadable or lacks receipt.xml")
    return found


def roots_der(pem: str) -> list[bytes]:
    return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem.encode())]


def check_receipt(pdf: bytes, peer_roots_pem: str, sender_number: str, sha256: str) -> Receipt:
    """Verify the seal of a receipt (whole file, trusted by the peer's roots) and its facts."""
    reports = verify_pdf(pdf, roots_der(peer_roots_pem))
    if len(reports) != 1:
        raise ReceiptInvalid(f"the receipt carries {len(reports)} signatures, expected 1")
    seal = reports[0]
    if not (seal.ok and seal.covers_whole_file):
        why = seal.error or (
            "not trusted by the peer's roots" if not seal.trusted else "altered or partial"
        )
        raise ReceiptInvalid(f"the receipt's seal is not valid: {why}")
    receipt = from_xml(attached_receipt_xml(pdf))
    if sha256 not in (receipt.sha256, receipt.declared_sha256) or (
        receipt.sender_number != sender_number
    ):
        raise ReceiptInvalid(
            f"the receipt is for {receipt.sender_number} / {receipt.sha256[:12]}…, "
            f"not for {sender_number} / {sha256[:12]}…"
        )
    return receipt

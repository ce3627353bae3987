"""Sample documents rewritten for a case: header, references, covered documents.

A reference («№ … от …») must carry the date of the document it names (the service checks
it): :func:`remember` notes the date of every document a test posts, and :func:`rewrite`
dates each rewritten reference from those notes, moving the document's own date forward
when the document named is younger than the sample says.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from lxml import etree

from service.paths import SAMPLES_DIR
from service.pipeline.xmlinput import NAMESPACE

NS = {"m": NAMESPACE}

DATES: dict[str, str] = {}
"""Registration number → document date of the documents posted by the running test."""


def remember(body: dict[str, Any]) -> dict[str, Any]:
    """Note the date of a posted document (the JSON the service answered); return it."""
    if "registration_number" in body and "document_date" in body:
        DATES[body["registration_number"]] = body["document_date"]
    return body


def sample(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def rewrite(
    raw: bytes,
    *,
    sender: str | None = None,
    recipient: str | None = None,
    reply_to: str | None = None,
    reply_date: str | None = None,
    documents: list[str] | None = None,
    questioned: str | None = None,
    request: str | None = None,
    document_date: str | None = None,
    **texts: str,
) -> bytes:
    """A fresh documentId; the header and ``inReplyTo`` (and ``documents``, the
    ``questionedDocument``, the ``request`` of an answer) rewritten and dated.

    ``texts`` sets other top-level elements by local name (``outcome="partial"``).
    """
    root = etree.fromstring(raw)
    latest: list[str] = []

    def set_text(path: str, value: str) -> None:
        elem: Any = root.find(path, NS)
        assert elem is not None, path
        elem.text = value

    def refer(path: str, number: str, date: str | None = None) -> None:
        set_text(f"{path}/m:registrationNumber", number)
        date = date or DATES.get(number)
        if date is not None:
            set_text(f"{path}/m:date", date)
            latest.append(date)

    set_text("m:header/m:documentId", str(uuid.uuid4()))
    if document_date is not None:
        set_text("m:header/m:documentDate", document_date)
    if sender is not None:
        set_text("m:header/m:sender", sender)
        set_text("m:header/m:signatory", f"{sender}-001")
    if recipient is not None:
        set_text("m:header/m:recipient", recipient)
    if reply_to is not None:
        refer("m:inReplyTo", reply_to, reply_date)
    elif reply_date is not None:
        set_text("m:inReplyTo/m:date", reply_date)
    if questioned is not None:
        refer("m:questionedDocument", questioned)
    if request is not None:
        refer("m:request", request)
    if documents is not None:
        listed: Any = root.find("m:documents", NS)
        for old in list(listed):
            listed.remove(old)
        for number in documents:
            entry = etree.SubElement(listed, f"{{{NAMESPACE}}}document")
            etree.SubElement(entry, f"{{{NAMESPACE}}}registrationNumber").text = number
            date = DATES.get(number, "2026-11-20")
            etree.SubElement(entry, f"{{{NAMESPACE}}}date").text = date
            latest.append(date)
    own: Any = root.find("m:header/m:documentDate", NS)
    if latest and max(latest) > own.text:
        own.text = max(latest)
    for name, value in texts.items():
        set_text(f"m:{name}", value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# ----- a sample with the documents it names -----------------------------------------------

Post = Callable[[bytes, str], dict[str, Any]]
"""Posts XML as an authority; returns the service's JSON for the stored document."""

REPLIES = {
    "response",
    "refusalNotice",
    "additionalInformationRequest",
    "delayNotice",
    "postponementNotice",
    "confidentialityNotice",
}
_NOTICE_SAMPLES = {
    "additionalInformation": "additional-information-request-labour.xml",
    "conditionsDecision": "postponement-notice-conditions.xml",
    "confidentialityDecision": "confidentiality-notice-court.xml",
}


def _text(root: Any, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None and found.text, path
    return str(found.text).strip()


def prepared(raw: bytes, post: Post) -> bytes:
    """``raw`` (a valid sample) with every document it names posted first through ``post``
    and its references pointed at them, so that the service accepts it.

    Each document named is made from a sample of the right type, between the right
    authorities, dated as the reference says.
    """
    root = etree.fromstring(raw)
    kind = etree.QName(root).localname
    sender = _text(root, "m:header/m:sender")
    recipient = _text(root, "m:header/m:recipient")

    def posted(source: bytes, by: str, to: str, date: str, **changes: Any) -> str:
        body = post(rewrite(source, sender=by, recipient=to, document_date=date, **changes), by)
        remember(body)
        return str(body["registration_number"])

    def request(by: str, to: str, at: str) -> str:
        return posted(sample("request-photo.xml"), by, to, _text(root, f"m:{at}/m:date"))

    if kind in REPLIES:
        return rewrite(raw, reply_to=request(recipient, sender, "inReplyTo"))
    if kind == "authenticityConfirmationRequest":
        return rewrite(raw, questioned=request(recipient, sender, "questionedDocument"))
    if kind == "authenticityConfirmation":
        questioned = request(sender, recipient, "questionedDocument")
        asked = posted(
            sample("authenticity-confirmation-request-signature.xml"),
            recipient,
            sender,
            _text(root, "m:inReplyTo/m:date"),
            questioned=questioned,
        )
        return rewrite(raw, reply_to=asked, questioned=questioned)
    if kind == "thirdPartyConsentRequest":
        listed = []
        for entry in root.iterfind("m:documents/m:document", NS):
            date = _text(entry, "m:date")
            listed.append(posted(sample("request-photo.xml"), recipient, sender, date))
        return rewrite(raw, documents=listed)
    if kind == "thirdPartyConsent":
        date = _text(root, "m:inReplyTo/m:date")
        provided = posted(sample("request-photo.xml"), sender, recipient, date)
        asked = posted(
            sample("third-party-consent-request-research.xml"),
            recipient,
            sender,
            date,
            documents=[provided],
        )
        return rewrite(raw, reply_to=asked)
    if kind in _NOTICE_SAMPLES:
        number = request(sender, recipient, "request")
        notice = posted(
            sample(_NOTICE_SAMPLES[kind]),
            recipient,
            sender,
            _text(root, "m:inReplyTo/m:date"),
            reply_to=number,
        )
        return rewrite(raw, reply_to=notice, request=number)
    if kind == "requestWithdrawal":
        return rewrite(raw, request=request(sender, recipient, "request"))
    return raw

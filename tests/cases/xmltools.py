"""Sample documents rewritten for a case: header, reply reference, covered documents."""

from __future__ import annotations

import uuid
from typing import Any

from lxml import etree

from service.paths import SAMPLES_DIR
from service.pipeline.xmlinput import NAMESPACE

NS = {"m": NAMESPACE}


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
    **texts: str,
) -> bytes:
    """A fresh documentId; the header and ``inReplyTo`` (and ``documents``) rewritten.

    ``texts`` sets other top-level elements by local name (``outcome="partial"``).
    """
    root = etree.fromstring(raw)

    def set_text(path: str, value: str) -> None:
        elem: Any = root.find(path, NS)
        assert elem is not None, path
        elem.text = value

    set_text("m:header/m:documentId", str(uuid.uuid4()))
    if sender is not None:
        set_text("m:header/m:sender", sender)
        set_text("m:header/m:signatory", f"{sender}-001")
    if recipient is not None:
        set_text("m:header/m:recipient", recipient)
    if reply_to is not None:
        set_text("m:inReplyTo/m:registrationNumber", reply_to)
    if reply_date is not None:
        set_text("m:inReplyTo/m:date", reply_date)
    if questioned is not None:
        set_text("m:questionedDocument/m:registrationNumber", questioned)
    if documents is not None:
        listed: Any = root.find("m:documents", NS)
        for old in list(listed):
            listed.remove(old)
        for number in documents:
            entry = etree.SubElement(listed, f"{{{NAMESPACE}}}document")
            etree.SubElement(entry, f"{{{NAMESPACE}}}registrationNumber").text = number
            etree.SubElement(entry, f"{{{NAMESPACE}}}date").text = "2026-11-20"
    for name, value in texts.items():
        set_text(f"m:{name}", value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

"""Signatory lists exchanged between the nodes (Art. 9.3, 9.4), and arriving documents
judged against the sender's exchanged list — not against the receiver's own registry."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select, text

from service.domain.auth import add_officer
from service.domain.signatory_lists import SignatoryLists
from service.exchange.delivery import NUMBER_HEADER, SHA256_HEADER, DeliveryWorker
from service.exchange.lists import AUTHORITY_HEADER, LISTS_PATH, VERSION_HEADER
from service.exchange.receipts import check_receipt
from service.exchange.transport import client_context, post
from service.store.exchange_tables import (
    DELIVERED,
    REFUSED,
    Incoming,
    ListPublication,
    ReceivedList,
)
from signing.registry import KeyReference, NewSignatory, Registry

from .conftest import Node, Nodes, request_xml


def _received(node: Node, authority: str) -> list[ReceivedList]:
    with node.services.database.reading() as session:
        rows = session.execute(
            select(ReceivedList)
            .where(ReceivedList.authority == authority)
            .order_by(ReceivedList.version)
        )
        return list(rows.scalars().all())


def _new_signatory(node: Node, signatory_id: str, authority: str) -> None:
    """A new signatory of ``authority`` with its own key, certified by the KZ demo root."""
    pki = node.instance / "pki"
    root = x509.load_pem_x509_certificate((pki / "kz-root.pem").read_bytes())
    root_key = serialization.load_pem_private_key((pki / "kz-root.key.pem").read_bytes(), None)
    assert isinstance(root_key, rsa.RSAPrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Серикова Айгуль"),
                ]
            )
        )
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    passphrase = secrets.token_urlsafe(16)
    p12 = node.instance / "keys" / f"{signatory_id}.p12"
    secret = node.instance / "secrets" / f"{signatory_id}.pass"
    secret.write_text(passphrase + "\n")
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            signatory_id.encode(),
            key,
            cert,
            [root],
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    with node.services.database.transaction() as session:
        registry = Registry(session)
        registry.add_signatory(
            NewSignatory(
                signatory_id=signatory_id,
                authority_code=authority,
                full_name_ru="Серикова Айгуль Маратовна",
                full_name_latin="Serikova Aigul",
                position_ru="Главный специалист",
                certificate_der=cert.public_bytes(serialization.Encoding.DER),
                key=KeyReference("pkcs12", f"{p12};passphrase-file={secret}"),
                document_types=tuple(t.code for t in registry.document_types()),
                valid_from=now - timedelta(minutes=5),
            )
        )


def _resend(kz: Node, by: Node, document: dict[str, object]) -> bytes:
    """POST a stored document to BY again, as the worker does; the receipt PDF."""
    pdf = kz.services.storage.get(f"{document['id']}.pdf")
    context = client_context(kz.identity.cert, kz.identity.key, by.identity.root.read_text())
    answer = post(
        by.url + "/peer/v1/deliveries",
        pdf,
        {
            "Content-Type": "application/pdf",
            NUMBER_HEADER: str(document["registration_number"]),
            SHA256_HEADER: str(document["sha256"]),
        },
        context,
    )
    assert answer.status == 200
    return answer.body


def test_lists_are_published_and_arriving_signatures_judged_by_them(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    # The first round publishes KZ's lists (one per KZ authority), nothing of BY's.
    assert kz.worker.run_once() == 0
    kz_lists = {r.authority: r for r in (*_received(by, "KZ-MVD"), *_received(by, "KZ-MTSZN"))}
    assert sorted(kz_lists) == ["KZ-MTSZN", "KZ-MVD"]
    assert _received(by, "BY-MVD") == []
    first = kz_lists["KZ-MTSZN"]
    # signed by the head of the authority, whom the registry names (Art. 9.3), not an officer
    assert first.version == 1 and first.signatory_id == "KZ-MTSZN-HEAD"
    stored = by.services.storage.get(f"received-list-KZ-MTSZN-v{first.version}.pdf")
    assert hashlib.sha256(stored).hexdigest() == first.pdf_sha256
    with kz.services.database.reading() as session:
        sent = session.get(ListPublication, ("KZ-MTSZN", 1))
        assert sent is not None and sent.status == DELIVERED
        assert sent.received_at == first.received_at  # the peer's acknowledgement
    assert kz.worker.run_once() == 0  # nothing changed: nothing new is sent
    assert len(_received(by, "KZ-MTSZN")) == 1

    # BY's own registry no longer matters for KZ's signatures: wipe KZ-MTSZN-001 there.
    with by.services.database.transaction() as session:
        session.execute(text("DELETE FROM signatory_versions WHERE signatory_id = 'KZ-MTSZN-001'"))
    ok = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1
    with kz.services.database.reading() as session:
        assert session.execute(select(ListPublication)).scalars().all()
    meta = kz.get(f"/api/v1/documents/{ok['id']}/delivery", "KZ-MTSZN").get_json()
    assert meta["status"] == DELIVERED, meta["last_error"]
    # BY's public verifier judges KZ's signatures by the exchanged list too.
    copy = kz.services.storage.get(f"{ok['id']}.pdf")
    checked = by.client.post(
        "/api/v1/verifications", data=copy, headers={"Content-Type": "application/pdf"}
    ).get_json()
    assert checked["indication"] == "TOTAL_PASSED", checked["summary"]

    # A new KZ signatory whose list has not reached BY yet: a signed negative receipt.
    _new_signatory(kz, "KZ-MTSZN-002", "KZ-MTSZN")
    raw = request_xml().replace(b"KZ-MTSZN-001", b"KZ-MTSZN-002")
    assert re.search(rb"<signatory>KZ-MTSZN-002</signatory>", raw)
    unlisted = kz.post(raw, "KZ-MTSZN")
    silent = DeliveryWorker(
        kz.services.settings, kz.services.database, kz.services.storage, publish_lists=False
    )
    assert silent.run_once() == 1
    meta = kz.get(f"/api/v1/documents/{unlisted['id']}/delivery", "KZ-MTSZN").get_json()
    assert meta["status"] == REFUSED
    assert "перечне уполномоченных лиц, полученном от другой Стороны" in meta["last_error"]
    receipt = check_receipt(
        kz.get(meta["receipt"]["links"]["pdf"], "KZ-MTSZN").data,
        by.identity.root.read_text(),
        str(unlisted["registration_number"]),
        str(unlisted["sha256"]),
    )
    assert receipt.outcome == "refused" and receipt.incoming_number is None
    with by.services.database.reading() as session:
        assert session.query(Incoming).count() == 1
    checked = by.client.post(
        "/api/v1/verifications",
        data=kz.services.storage.get(f"{unlisted['id']}.pdf"),
        headers={"Content-Type": "application/pdf"},
    ).get_json()
    assert checked["indication"] != "TOTAL_PASSED"

    # The worker's next round sends version 2 (registry changed); BY keeps both versions,
    # and the same document, sent again, is now accepted.
    assert kz.worker.run_once() == 0
    versions = _received(by, "KZ-MTSZN")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].pdf_sha256 != versions[1].pdf_sha256
    assert versions[1].received_at > versions[0].received_at
    accepted = check_receipt(
        _resend(kz, by, unlisted),
        by.identity.root.read_text(),
        str(unlisted["registration_number"]),
        str(unlisted["sha256"]),
    )
    assert accepted.outcome == "accepted" and accepted.incoming_number, accepted.reasons

    # Both sides show when each version was sent and received.
    shown = by.get("/api/v1/exchange/lists", "BY-MVD").get_json()
    got = [(r["authority"], r["version"]) for r in shown["received"]]
    assert sorted(got) == [("KZ-MTSZN", 1), ("KZ-MTSZN", 2), ("KZ-MVD", 1)]
    newest = shown["received"][0]
    assert (newest["authority"], newest["version"], newest["signed_by"]) == (
        "KZ-MTSZN",
        2,
        "KZ-MTSZN-HEAD",
    )
    pdf = by.get(newest["pdf"], "BY-MVD").data
    assert hashlib.sha256(pdf).hexdigest() == newest["sha256"] == versions[1].pdf_sha256
    sent_side = kz.get("/api/v1/exchange/lists", "KZ-MTSZN").get_json()["sent"]
    by_version = {(p["authority"], p["version"]): p for p in sent_side}
    assert by_version[("KZ-MTSZN", 2)]["status"] == DELIVERED
    assert by_version[("KZ-MTSZN", 2)]["received_at"] == newest["received_at"]
    assert by.client.get("/api/v1/exchange/lists").status_code == 401
    assert by.client.get("/exchange/lists").status_code == 302  # officers log in first
    with by.services.database.transaction() as session:
        add_officer(session, "officer-by", "Офицер ГПК", "BY-GPK", "correct horse battery 1")
    form = by.client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    logged = by.client.post(
        "/login",
        data={
            "username": "officer-by",
            "password": "correct horse battery 1",
            "csrf_token": token.group(1),
        },
    )
    assert logged.status_code == 302
    page = by.client.get("/exchange/lists")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "Полученные от другой Стороны (3)" in text_ and "KZ-MTSZN-HEAD" in text_


def _post_list(kz: Node, by: Node, authority: str, version: str, pdf: bytes) -> tuple[int, str]:
    context = client_context(kz.identity.cert, kz.identity.key, by.identity.root.read_text())
    answer = post(
        by.url + LISTS_PATH,
        pdf,
        {"Content-Type": "application/pdf", AUTHORITY_HEADER: authority, VERSION_HEADER: version},
        context,
    )
    return answer.status, answer.body.decode("utf-8", "replace")


def test_lists_that_cannot_be_trusted_are_refused(sqlite_nodes: Nodes, tmp_path: Path) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    kz.worker.publisher.refresh()
    genuine = kz.services.storage.get("signatories-KZ-MVD-v1.pdf")
    by_list = by.worker.publisher
    by_list.refresh()  # BY's own list of BY-MVD, signed under BY's root
    foreign = by.services.storage.get("signatories-BY-MVD-v1.pdf")

    status, body = _post_list(kz, by, "BY-MVD", "1", foreign)
    assert status == 422 and "not of Party KZ" in body
    status, body = _post_list(kz, by, "KZ-MVD", "1", foreign)
    assert status == 422 and "not trusted by the roots of KZ" in body
    altered = bytearray(genuine)
    altered[len(altered) // 2] ^= 0x01
    status, body = _post_list(kz, by, "KZ-MVD", "1", bytes(altered))
    assert status == 422 and "signature is not valid" in body
    status, body = _post_list(kz, by, "KZ-MTSZN", "1", genuine)
    assert status == 422 and "the list is of KZ-MVD, not of KZ-MTSZN" in body
    for garbage in (b"not a PDF at all", genuine[: len(genuine) // 3]):
        status, body = _post_list(kz, by, "KZ-MVD", "1", garbage)
        assert status == 422 and "list" in body, body  # refused with a reason, never a 500
    assert _received(by, "KZ-MVD") == [] and _received(by, "KZ-MTSZN") == []

    status, body = _post_list(kz, by, "KZ-MVD", "1", genuine)
    assert status == 200 and '"repeated":false' in body.replace(" ", "")
    status, body = _post_list(kz, by, "KZ-MVD", "1", genuine)  # the same again: acknowledged
    assert status == 200 and '"repeated":true' in body.replace(" ", "")
    other = kz.services.storage.get("signatories-KZ-MTSZN-v1.pdf")
    status, body = _post_list(kz, by, "KZ-MVD", "1", other)
    assert status == 422  # another PDF under a version already received
    assert len(_received(by, "KZ-MVD")) == 1


def test_a_list_that_cannot_be_made_does_not_stop_the_worker(
    sqlite_nodes: Nodes, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    sent = kz.post(request_xml(), "KZ-MTSZN")
    attempts: list[str] = []

    def broken(self: SignatoryLists, authority: str) -> bool:
        attempts.append(authority)
        raise OSError("the signer's token is unplugged")

    monkeypatch.setattr(SignatoryLists, "ensure_current", broken)
    assert kz.worker.run_once() == 1  # the document still goes
    assert "ListPublisher failed" in caplog.text and len(attempts) == 1
    assert _received(by, "KZ-MTSZN") == []
    assert kz.worker.run_once() == 0
    assert len(attempts) == 1  # not again at once: after REFRESH_RETRY_SECONDS
    meta = kz.get(f"/api/v1/documents/{sent['id']}/delivery", "KZ-MTSZN").get_json()
    assert meta["status"] == REFUSED  # BY has no list of KZ-MTSZN: not judged authorised

    monkeypatch.undo()
    assert kz.worker.publisher.refresh(force=True) == 2
    kz.worker.publisher.run_once()
    assert [r.version for r in _received(by, "KZ-MTSZN")] == [1]

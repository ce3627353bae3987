"""KZ → BY over two real nodes: delivery, receipt, inbox, retries, refusals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.exchange.delivery import NUMBER_HEADER, SHA256_HEADER, DeliveryWorker
from service.exchange.nodecert import issue_node_identity
from service.exchange.receipts import check_receipt, roots_der
from service.exchange.receiving import Receiver
from service.exchange.transport import client_context, post
from service.paths import SAMPLES_DIR
from service.store.exchange_tables import DELIVERED, PENDING, Delivery, Incoming
from service.store.tables import StoredDocument
from signing.verify_basic import verify_pdf
from tests.cases.xmltools import rewrite
from tests.pdfinspect import associated_files
from tests.pdfinspect import fonts as pdf_fonts
from tests.pdfinspect import text as pdf_text
from tests.signing.pdfcheck import xmp_pdfaid

from .conftest import Node, Nodes, request_xml


def _delivery(node: Node, document_id: str) -> Delivery:
    with node.services.database.reading() as session:
        row = session.get(Delivery, document_id)
        assert row is not None
        return row


def _count(node: Node, model: type) -> int:
    with node.services.database.reading() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_request_arrives_in_the_inbox_and_the_sender_holds_a_signed_receipt(
    nodes: Nodes, tmp_path: Path
) -> None:
    kz, by = nodes.kz, nodes.by
    sent = kz.post(request_xml(), "KZ-MTSZN")
    assert _delivery(kz, str(sent["id"])).status == PENDING  # written with the document

    assert kz.worker.run_once() == 1

    # BY: the document is in BY-MVD's inbox with an incoming number, byte-identical.
    inbox = by.get("/api/v1/inbox", "BY-MVD").get_json()
    assert len(inbox["items"]) == 1
    item = inbox["items"][0]
    assert item["registration_number"] == sent["registration_number"]
    assert item["incoming_number"].startswith("IN-BY-MVD-2")
    assert item["indication"] == "TOTAL_PASSED"
    assert item["sha256"] == sent["sha256"]
    pdf = by.get(item["links"]["pdf"], "BY-MVD").data
    assert hashlib.sha256(pdf).hexdigest() == sent["sha256"]
    # ... and nobody else's: BY-GPK sees an empty inbox.
    assert by.get("/api/v1/inbox", "BY-GPK").get_json()["items"] == []
    # The cursor is stable: nothing after the last item.
    after = by.get("/api/v1/inbox", "BY-MVD", after=inbox["next"]).get_json()
    assert after == {"items": [], "next": inbox["next"]}
    bad = by.get("/api/v1/inbox", "BY-MVD", after="not-a-cursor")
    assert bad.status_code == 400 and bad.get_json()["details"][0]["path"] == "after"
    assert by.get("/api/v1/inbox", "BY-MVD", limit="0").status_code == 400
    assert by.client.get("/api/v1/inbox").status_code == 401

    # KZ: delivered, with the receipt's facts in the metadata.
    meta = kz.get(f"/api/v1/documents/{sent['id']}", "KZ-MTSZN").get_json()
    assert meta["delivery"]["status"] == DELIVERED
    assert meta["delivery"]["receipt"]["incoming_number"] == item["incoming_number"]
    assert by.get(item["links"]["self"], "BY-MVD").get_json()["delivery"]["direction"] == (
        "incoming"
    )
    delivery = kz.get(f"/api/v1/documents/{sent['id']}/delivery", "KZ-MTSZN").get_json()
    assert delivery["status"] == DELIVERED
    assert delivery["attempts"] == 1
    assert delivery["last_error"] is None
    assert delivery["receipt"]["incoming_number"] == item["incoming_number"]
    assert delivery["receipt"]["received_at"] == item["received_at"]

    # The receipt is sealed by BY's node, trusted through BY's root only, and says so.
    receipt_pdf = kz.get(delivery["receipt"]["links"]["pdf"], "KZ-MTSZN").data
    by_root = by.identity.root.read_text()
    (seal,) = verify_pdf(receipt_pdf, roots_der(by_root))
    assert seal.ok and seal.covers_whole_file
    (untrusted,) = verify_pdf(receipt_pdf, roots_der(kz.identity.root.read_text()))
    assert not untrusted.trusted
    receipt = check_receipt(
        receipt_pdf, by_root, str(sent["registration_number"]), str(sent["sha256"])
    )
    assert receipt.outcome == "accepted"
    assert receipt.incoming_number == item["incoming_number"]
    assert receipt.receiving_party == "BY"
    # A PDF/A-3u «Уведомление о получении» with its XML as associated file, all fonts embedded.
    assert xmp_pdfaid(receipt_pdf) == ("3", "U")
    (attached,) = associated_files(receipt_pdf)
    assert attached["UF"] == "receipt.xml" and attached["relationship"] == "/Data"
    printed = " ".join(pdf_text(receipt_pdf, tmp_path).split())
    assert "уведомление о получении" in printed.lower()
    assert f"вх. № {item['incoming_number']}" in printed
    assert all(row[-5] == "yes" for row in pdf_fonts(receipt_pdf, tmp_path))  # emb column
    # BY serves the same receipt beside its copy.
    assert by.get(item["links"]["receipt"], "BY-MVD").data == receipt_pdf


def test_peer_down_is_retried_and_delivered_exactly_once(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    by.stop()
    sent = [kz.post(request_xml(), "KZ-MTSZN") for _ in range(3)]
    assert kz.worker.run_once() == 3
    for doc in sent:
        row = _delivery(kz, str(doc["id"]))
        assert row.status == PENDING and row.attempts == 1
        assert row.last_error and "Connection refused" in row.last_error
        assert row.next_attempt_at > datetime.now(UTC)  # backed off
    assert kz.worker.run_once() == 0  # nothing due yet

    by.start(kz.identity.root.read_text())  # the same port again
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert kz.worker.run_once(now=later) == 3
    assert {_delivery(kz, str(d["id"])).status for d in sent} == {DELIVERED}
    assert _count(by, Incoming) == 3

    # A worker killed after BY stored but before KZ recorded it: the row is due again
    # after its lease; the repeat is answered with the same receipt and stored nothing.
    first = str(sent[0]["id"])
    receipt_before = kz.get(f"/api/v1/documents/{first}/receipt", "KZ-MTSZN").data
    with kz.services.database.transaction() as session:
        row = session.get(Delivery, first)
        assert row is not None
        row.status, row.next_attempt_at = PENDING, datetime.now(UTC)
    assert kz.worker.run_once() == 1
    assert _delivery(kz, first).status == DELIVERED
    assert kz.get(f"/api/v1/documents/{first}/receipt", "KZ-MTSZN").data == receipt_before
    assert _count(by, Incoming) == 3
    assert len(by.get("/api/v1/inbox", "BY-MVD").get_json()["items"]) == 3


def test_give_up_marks_the_delivery_failed(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    by.stop()
    sent = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1
    assert _delivery(kz, str(sent["id"])).status == PENDING  # within the give-up time
    with kz.services.database.transaction() as session:  # written four days ago
        row = session.get(Delivery, str(sent["id"]))
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(days=4)
    assert kz.worker.run_once(now=datetime.now(UTC) + timedelta(hours=1)) == 1
    meta = kz.get(f"/api/v1/documents/{sent['id']}/delivery", "KZ-MTSZN").get_json()
    assert meta["status"] == "failed"
    assert meta["attempts"] == 2
    assert "Connection refused" in meta["last_error"]
    assert meta["receipt"] is None
    assert kz.worker.run_once(now=datetime.now(UTC) + timedelta(days=9)) == 0  # never again


def test_altered_in_transit_gets_a_negative_receipt_and_nothing_is_stored(
    nodes: Nodes,
) -> None:
    kz, by = nodes.kz, nodes.by
    sent = kz.post(request_xml(), "KZ-MTSZN")
    pdf = bytearray(kz.services.storage.get(f"{sent['id']}.pdf"))
    index = len(pdf) // 3
    pdf[index] ^= 0x01
    context = client_context(kz.identity.cert, kz.identity.key, by.identity.root.read_text())
    response = post(
        by.url + "/peer/v1/deliveries",
        bytes(pdf),
        {
            "Content-Type": "application/pdf",
            NUMBER_HEADER: str(sent["registration_number"]),
            SHA256_HEADER: str(sent["sha256"]),
        },
        context,
    )
    assert response.status == 200
    receipt = check_receipt(
        response.body,
        by.identity.root.read_text(),
        str(sent["registration_number"]),
        str(sent["sha256"]),
    )
    assert receipt.outcome == "refused"
    assert receipt.incoming_number is None
    assert receipt.sha256 == hashlib.sha256(pdf).hexdigest() != sent["sha256"]
    assert any("изменён при передаче" in reason for reason in receipt.reasons)
    assert _count(by, Incoming) == 0
    with by.services.database.reading() as session:
        assert session.execute(select(StoredDocument)).first() is None


def test_only_the_registered_peer_certificate_is_accepted(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    body = b"%PDF-1.7 not a delivery"
    headers = {"Content-Type": "application/pdf", NUMBER_HEADER: "x", SHA256_HEADER: "y"}
    # The BY node's own certificate is issued by BY's root, which BY's listener trusts
    # for nothing: refused during the TLS handshake.
    wrong_party = client_context(by.identity.cert, by.identity.key, by.identity.root.read_text())
    try:
        post(by.url + "/peer/v1/deliveries", body, headers, wrong_party)
    except Exception as exc:
        assert getattr(exc, "code", None) == "delivery_failed"
    else:
        raise AssertionError("a certificate of the wrong Party got through TLS")
    # A KZ-issued certificate that is not the registered node's: TLS passes, the app says 403.
    other = kz.instance.parent / "impostor"
    (other / "pki").mkdir(parents=True)
    for name in ("kz-root.pem", "kz-root.key.pem"):
        shutil.copy(kz.instance / "pki" / name, other / "pki" / name)
    impostor = issue_node_identity(other, "KZ")
    context = client_context(impostor.cert, impostor.key, by.identity.root.read_text())
    refused = post(by.url + "/peer/v1/deliveries", body, headers, context)
    assert refused.status == 403
    assert b"peer_unknown" in refused.body
    # Plain requests to the API listener carry no client certificate: 403.
    response = kz.client.post(
        "/peer/v1/deliveries", data=body, headers=headers | {"Content-Type": "application/pdf"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "peer_unknown"


def test_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(
    nodes: Nodes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kz, by = nodes.kz, nodes.by
    arrived = threading.Event()
    original = Receiver.receive

    def slow_receive(self: Receiver, *args: Any, **kwargs: Any) -> Any:
        arrived.set()
        time.sleep(0.5)  # the sending worker is killed while BY is still at work
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Receiver, "receive", slow_receive)
    sent = kz.post(request_xml(), "KZ-MTSZN")
    settings = kz.services.settings
    config = tmp_path / "kz.toml"
    config.write_text(
        "\n".join(
            f"{name} = {json.dumps(str(value))}"
            for name, value in (
                ("instance_dir", settings.instance_dir),
                ("database_url", settings.database_url),
                ("party", "KZ"),
                ("node_cert", settings.node_cert),
                ("node_key", settings.node_key),
            )
        )
        + "\ndelivery_lease_seconds = 3\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGDOCS_")}
    env.update(MIGDOCS_CONFIG=str(config), PYTHONPATH=str(Path.cwd()))
    worker = subprocess.Popen(
        [sys.executable, "-m", "service", "worker", "--poll", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert arrived.wait(45), "the worker process never delivered"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    row = _delivery(kz, str(sent["id"]))
    assert row.status == PENDING and row.attempts == 1  # claimed, never recorded
    deadline = time.monotonic() + 30
    while _count(by, Incoming) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)  # BY finishes storing even though the sender is gone

    after_lease = datetime.now(UTC) + timedelta(seconds=4)
    assert kz.worker.run_once(now=after_lease) == 1
    row = _delivery(kz, str(sent["id"]))
    assert row.status == DELIVERED and row.attempts == 2
    assert _count(by, Incoming) == 1
    assert len(by.get("/api/v1/inbox", "BY-MVD").get_json()["items"]) == 1


def test_the_response_travels_back_and_both_nodes_show_the_same_case(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    sent = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1
    answer = rewrite(
        (SAMPLES_DIR / "response-photo.xml").read_bytes(),
        sender="BY-MVD",
        recipient="KZ-MTSZN",
        reply_to=str(sent["registration_number"]),
        reply_date=str(sent["document_date"]),
    )
    replied = by.post(answer, "BY-MVD")
    assert by.worker.run_once() == 1
    back = by.get(f"/api/v1/documents/{replied['id']}/delivery", "BY-MVD").get_json()
    assert back["status"] == DELIVERED, back["last_error"]
    assert back["receipt"]["incoming_number"].startswith("IN-KZ-MTSZN-")
    assert [i["id"] for i in kz.get("/api/v1/inbox", "KZ-MTSZN").get_json()["items"]]

    (kz_case,) = kz.get("/api/v1/cases", "KZ-MTSZN").get_json()["items"]
    (by_case,) = by.get("/api/v1/cases", "BY-MVD").get_json()["items"]
    assert kz_case["request"]["registration_number"] == sent["registration_number"]
    assert by_case["request"]["registration_number"] == sent["registration_number"]
    for field in ("status", "received_on", "deadline"):
        assert kz_case[field] == by_case[field], field
    assert kz_case["status"] != "open"  # the response closed it on both nodes


def test_two_workers_share_the_outbox_without_double_claims(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    sent = [kz.post(request_xml(), "KZ-MTSZN") for _ in range(4)]
    second = DeliveryWorker(kz.services.settings, kz.services.database, kz.services.storage)
    counts: list[int] = []

    def drain(worker: DeliveryWorker) -> None:
        done = 0
        while worker.run_once(limit=1):
            done += 1
        counts.append(done)

    threads = [threading.Thread(target=drain, args=(w,)) for w in (kz.worker, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(counts) == 4  # every row claimed exactly once
    for doc in sent:
        row = _delivery(kz, str(doc["id"]))
        assert row.status == DELIVERED and row.attempts == 1
    assert _count(by, Incoming) == 4


def test_each_node_applies_its_own_retention_to_its_own_copies(sqlite_nodes: Nodes) -> None:
    from service.domain import retention

    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    delivered = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1
    by.stop()
    waiting = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1  # BY is down: still pending
    (received,) = by.get("/api/v1/inbox", "BY-MVD").get_json()["items"]
    later = datetime.now(UTC) + timedelta(days=40)
    kz_policy = {"default": 1825}  # KZ keeps its copies five years
    by_policy = {"default": 1825, "request": 30}  # BY keeps requests 30 days

    destroyed_by = retention.purge(
        by.services.database, by.services.storage, by_policy, actor="test", now=later
    )
    assert [d.id for d in destroyed_by] == [received["id"]]
    assert not by.services.storage.exists(f"{received['id']}.pdf")
    assert (
        retention.purge(
            kz.services.database, kz.services.storage, kz_policy, actor="test", now=later
        )
        == []
    )
    assert kz.services.storage.exists(f"{delivered['id']}.pdf")  # KZ's own copy stays

    # Even under BY's short policy, a document still waiting for delivery is kept.
    destroyed_kz = retention.purge(
        kz.services.database, kz.services.storage, by_policy, actor="test", now=later
    )
    assert [d.id for d in destroyed_kz] == [delivered["id"]]
    assert kz.services.storage.exists(f"{waiting['id']}.pdf")
    assert _delivery(kz, str(waiting["id"])).status == PENDING

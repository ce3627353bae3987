"""Signed sample forms exchanged between the nodes (Art. 9.3, 9.4): published on every
change through an outbox, verified by the receiver against the sender's Party root and
its exchanged list of signatories, every version kept with its received-at."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from service.domain import forms, fsck
from service.domain.auth import add_officer
from service.domain.form_signing import signing_reason
from service.exchange.form_registry import storage_key
from service.exchange.forms import (
    FORM_VERSION_HEADER,
    FORMS_PATH,
    TYPE_HEADER,
    publication_key,
)
from service.exchange.lists import AUTHORITY_HEADER
from service.exchange.transport import client_context, post
from service.pipeline.rendering import FORM_VERSION, default_renderer
from service.store.exchange_tables import (
    DELIVERED,
    PENDING,
    FormPublication,
    ListPublication,
    ReceivedForm,
)
from signing.pades import PadesOptions, sign_pdf
from signing.registry import Registry

from .conftest import Node, Nodes, request_xml
from .test_exchanged_lists import _new_signatory


def _received(node: Node) -> list[ReceivedForm]:
    with node.services.database.reading() as session:
        rows = session.execute(select(ReceivedForm).order_by(ReceivedForm.id))
        return list(rows.scalars().all())


def _published(node: Node) -> list[FormPublication]:
    with node.services.database.reading() as session:
        rows = session.execute(select(FormPublication).order_by(FormPublication.id))
        return list(rows.scalars().all())


def _post_form(
    kz: Node, by: Node, pdf: bytes, document_type: str, authority: str, version: str
) -> tuple[int, str]:
    context = client_context(kz.identity.cert, kz.identity.key, by.identity.root.read_text())
    answer = post(
        by.url + FORMS_PATH,
        pdf,
        {
            "Content-Type": "application/pdf",
            TYPE_HEADER: document_type,
            AUTHORITY_HEADER: authority,
            FORM_VERSION_HEADER: version,
        },
        context,
    )
    # the answer as text with its Russian readable (Flask's JSON escapes non-ASCII)
    return answer.status, json.dumps(json.loads(answer.body), ensure_ascii=False)


def _log_in(node: Node, username: str, authority: str) -> None:
    with node.services.database.transaction() as session:
        add_officer(session, username, "Офицер", authority, "correct horse battery 1")
    form = node.client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    logged = node.client.post(
        "/login",
        data={
            "username": username,
            "password": "correct horse battery 1",
            "csrf_token": token.group(1),
        },
    )
    assert logged.status_code == 302


def test_forms_are_published_received_and_shown_on_both_sides(nodes: Nodes) -> None:
    kz, by = nodes.kz, nodes.by
    kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1  # lists, then forms, then the document
    got = {(r.document_type, r.authority): r for r in _received(by)}
    assert sorted(got) == [("request", "KZ-MTSZN"), ("request", "KZ-MVD")]
    assert _received(kz) == []  # BY's worker has not run: nothing of BY's yet
    first = got[("request", "KZ-MTSZN")]
    # signed by the head, who signs the authority's list (Art. 9.3), verified by BY
    assert (first.form_version, first.signatory_id, first.party) == (
        FORM_VERSION,
        "KZ-MTSZN-HEAD",
        "KZ",
    )
    stored = by.services.storage.get(storage_key(first.pdf_sha256))
    assert hashlib.sha256(stored).hexdigest() == first.pdf_sha256
    sent = {(p.document_type, p.authority): p for p in _published(kz)}
    mine = sent[("request", "KZ-MTSZN")]
    assert mine.status == DELIVERED and mine.attempts == 1 and mine.last_error is None
    assert mine.pdf_sha256 == first.pdf_sha256
    assert mine.received_at == first.received_at  # the peer's acknowledgement
    assert first.signed_at <= first.received_at

    # Nothing changed: nothing new is sent.  A new signatory changes the registry (a new
    # list goes out) but not who signs the forms: still no new form.
    assert kz.worker.run_once() == 0
    _new_signatory(kz, "KZ-MTSZN-002", "KZ-MTSZN")
    assert kz.worker.run_once() == 0
    with kz.services.database.reading() as session:
        assert session.get(ListPublication, ("KZ-MTSZN", 2)) is not None
    assert len(_published(kz)) == 2 and len(_received(by)) == 2

    # Republishing the same file is acknowledged with the first received-at.
    status, body = _post_form(
        kz,
        by,
        kz.services.storage.get(publication_key(mine.pdf_sha256)),
        "request",
        "KZ-MTSZN",
        FORM_VERSION,
    )
    assert status == 200 and '"repeated":true' in body.replace(" ", ""), body
    assert first.received_at.isoformat() in body
    assert len(_received(by)) == 2

    # Both sides show it: BY what it received (and the PDF as received), KZ what it sent.
    shown = by.get("/api/v1/exchange/forms", "BY-MVD").get_json()
    row = next(r for r in shown["received"] if r["authority"] == "KZ-MTSZN")
    assert (row["document_type"], row["version"], row["signed_by"]) == (
        "request",
        FORM_VERSION,
        "KZ-MTSZN-HEAD",
    )
    assert row["received_at"] == first.received_at.isoformat()
    assert hashlib.sha256(by.get(row["pdf"], "BY-MVD").data).hexdigest() == first.pdf_sha256
    assert by.get("/exchange/forms/" + "0" * 64 + ".pdf", "BY-MVD").status_code == 404
    sent_side = kz.get("/api/v1/exchange/forms", "KZ-MTSZN").get_json()["sent"]
    item = next(p for p in sent_side if p["authority"] == "KZ-MTSZN")
    assert item["status"] == DELIVERED and item["attempts"] == 1
    assert item["received_at"] == row["received_at"] and item["sent_at"] is not None
    assert by.client.get("/api/v1/exchange/forms").status_code == 401
    assert by.client.get(row["pdf"]).status_code == 401
    assert by.client.get("/exchange/forms").status_code == 302  # officers log in first

    # fsck knows the exchange's files (receipts, received lists, forms sent and received):
    # none is debris for --repair to delete, none is missing.
    for node in (kz, by):
        report = fsck.check(node.services.database, node.services.storage, repair=True)
        assert report.problems == [], [str(p) for p in report.problems]
    assert by.services.storage.exists(storage_key(first.pdf_sha256))
    assert kz.services.storage.exists(publication_key(first.pdf_sha256))
    by.services.storage.delete(storage_key(first.pdf_sha256))
    report = fsck.check(by.services.database, by.services.storage)
    assert [(p.kind, p.subject) for p in report.problems] == [
        ("row-without-file", storage_key(first.pdf_sha256))
    ]


def test_the_forms_page_shows_an_officer_both_directions(sqlite_nodes: Nodes) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    assert kz.worker.run_once() == 0
    _log_in(by, "officer-by", "BY-GPK")
    page = by.client.get("/exchange/forms")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Обмен образцами бланков" in text
    assert "Полученные от другой Стороны (2)" in text and "KZ-MTSZN-HEAD" in text
    assert "Направленные другой Стороне (0)" in text
    links = re.findall(r'href="(/exchange/forms/[0-9a-f]{64}\.pdf)"', text)
    assert len(links) == 2 and by.client.get(links[0]).status_code == 200
    _log_in(kz, "officer-kz", "KZ-MVD")
    text = kz.client.get("/exchange/forms").get_data(as_text=True)
    assert "Направленные другой Стороне (2)" in text and "получен другой Стороной" in text


def _form_signed_by(node: Node, signatory_id: str, authority: str) -> bytes:
    """The request form of ``authority`` signed by ``signatory_id``, as the node would."""
    form = forms.render_form(default_renderer(), "request", authority)
    with node.services.database.reading() as session:
        signatory = Registry(session).signatory_at(signatory_id, datetime.now(UTC))
    assert signatory is not None
    return sign_pdf(
        form.pdf,
        node.services.signer.keys.signer_for(signatory.key, signatory.certificate_der),
        signer_name=signatory.full_name_ru,
        options=PadesOptions(reason=signing_reason("request"), visible=False),
        signing_time=datetime.now(UTC).replace(microsecond=0),
    ).pdf


def test_forms_that_cannot_be_trusted_are_refused_and_nothing_is_kept(
    sqlite_nodes: Nodes,
) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    kz.worker.publisher.run_once()  # BY has KZ's lists: the forms' signers can be judged
    assert kz.worker.forms.refresh() == 2
    genuine = kz.services.storage.get(publication_key(_published(kz)[0].pdf_sha256))
    authority = _published(kz)[0].authority
    before = {f.name for f in by.services.storage.scan()}

    altered = bytearray(genuine)
    altered[len(altered) // 2] ^= 0x01
    status, body = _post_form(kz, by, bytes(altered), "request", authority, FORM_VERSION)
    assert status == 422 and "form_refused" in body and "signature is not valid" in body

    status, body = _post_form(kz, by, b"%PDF-1.7\nnot a form", "request", authority, "1.1")
    assert status == 422 and "form_refused" in body
    status, body = _post_form(kz, by, genuine, "response", authority, FORM_VERSION)
    assert status == 422 and "is of type request, not response" in body
    status, body = _post_form(kz, by, genuine, "request", authority, "0.9")
    assert status == 422 and "not 0.9" in body
    status, body = _post_form(kz, by, genuine, "request", "BY-MVD", FORM_VERSION)
    assert status == 422 and "not of Party KZ" in body

    # A KZ signatory BY has never seen in KZ's exchanged list (registered at KZ after the
    # list went out): the signature is sound, the signer is not on the list.
    _new_signatory(kz, "KZ-MTSZN-002", "KZ-MTSZN")
    unlisted = _form_signed_by(kz, "KZ-MTSZN-002", "KZ-MTSZN")
    status, body = _post_form(kz, by, unlisted, "request", "KZ-MTSZN", FORM_VERSION)
    assert status == 422, body
    assert "перечне уполномоченных лиц, полученном от другой Стороны" in body

    assert _received(by) == []  # nothing refused is kept
    assert {f.name for f in by.services.storage.scan()} == before

    status, body = _post_form(kz, by, genuine, "request", authority, FORM_VERSION)
    assert status == 200 and '"repeated":false' in body.replace(" ", "")
    assert len(_received(by)) == 1


def test_the_form_outbox_waits_for_a_peer_that_is_down(sqlite_nodes: Nodes) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    kz.worker.publisher.run_once()  # the lists went out while BY was up
    by.stop()
    assert kz.worker.forms.run_once() == 2
    rows = _published(kz)
    assert [r.status for r in rows] == [PENDING, PENDING]
    assert all(r.attempts == 1 and "Connection refused" in (r.last_error or "") for r in rows)
    assert all(r.sent_at is None and r.received_at is None for r in rows)
    assert kz.worker.forms.run_once() == 0  # not due again before the back-off

    by.start(kz.identity.root.read_text())  # back on the same port
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert kz.worker.run_once(now=later) == 0
    rows = _published(kz)
    assert [(r.status, r.attempts) for r in rows] == [(DELIVERED, 2), (DELIVERED, 2)]
    received = {r.pdf_sha256: r for r in _received(by)}
    assert {r.pdf_sha256 for r in rows} == set(received)
    for row in rows:
        assert row.received_at == received[row.pdf_sha256].received_at
        assert row.last_error is None


def test_forms_wait_for_the_list_that_names_their_signer(sqlite_nodes: Nodes) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    by.stop()
    kz.worker.run_once()  # the lists cannot go: the forms are queued but not tried
    assert [r.attempts for r in _published(kz)] == [0, 0]
    by.start(kz.identity.root.read_text())
    kz.worker.run_once(now=datetime.now(UTC) + timedelta(minutes=5))
    assert [(r.status, r.attempts) for r in _published(kz)] == [(DELIVERED, 1), (DELIVERED, 1)]

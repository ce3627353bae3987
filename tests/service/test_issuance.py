"""The issuance journal (issuing → issued | void) and ``migdocs fsck``, on SQLite and on
PostgreSQL: a failure voids its number, the next one continues, nothing is left on disk,
duplicates of one documentId issue once, and fsck finds and repairs what a crash leaves."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli.main import main
from service.domain import fsck
from service.domain import issuance as journal
from service.store import audit
from service.store.tables import ISSUED, ISSUING, VOID, Issuance, StoredDocument
from signing.api import DocumentSigner, SigningConfig
from tests.service.conftest import Env
from tests.service.test_api import REQUEST, YEAR, with_new_id
from tests.service.test_officers import login

UNREACHABLE_TSA = "http://127.0.0.1:9/tsa"
"""The discard port: nothing listens, so every timestamp request fails at once."""


def _number(seq: int) -> str:
    return f"KZ-MVD-{YEAR}-{seq:06d}"


def _journal(env: Env) -> list[tuple[str, str, str | None]]:
    with env.services.database.reading() as session:
        rows = session.execute(select(Issuance).order_by(Issuance.reg_seq)).scalars()
        return [(r.registration_number, r.status, r.reason) for r in rows]


def _files(env: Env) -> list[str]:
    root = env.services.settings.storage_dir
    assert root is not None
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def _cli(env: Env, *args: str) -> Any:
    runner = CliRunner(
        env={
            "MIGDOCS_INSTANCE": str(env.instance),
            "DATABASE_URL": env.services.database.url,
        }
    )
    return runner.invoke(main, list(args), catch_exceptions=False)


def _failing_signer(env: Env) -> DocumentSigner:
    settings = env.services.settings
    return DocumentSigner(
        env.services.database.sessions,
        config=SigningConfig(base_url=settings.base_url, tsa_url=UNREACHABLE_TSA),
    )


def test_a_refused_signature_voids_the_number_and_the_next_one_continues(env: Env) -> None:
    first = env.post_xml(with_new_id(REQUEST))
    assert first.status_code == 201
    documents = env.services.documents
    good_signer = documents.signer
    documents.signer = _failing_signer(env)  # the timestamp authority is down
    try:
        failed = env.post_xml(with_new_id(REQUEST))
    finally:
        documents.signer = good_signer
    assert failed.status_code == 500
    third = env.post_xml(with_new_id(REQUEST))
    assert third.json["registration_number"] == _number(3)

    journal_rows = _journal(env)
    assert [(n, s) for n, s, _ in journal_rows] == [
        (_number(1), ISSUED),
        (_number(2), VOID),
        (_number(3), ISSUED),
    ]
    reason = journal_rows[1][2]
    assert reason is not None and reason.startswith("timestamp"), reason
    # No file of the void number; the two issued documents have theirs.
    ids = {first.json["id"], third.json["id"]}
    assert _files(env) == sorted(f"{i}.{s}" for i in ids for s in ("pdf", "xml"))
    with env.services.database.reading() as session:
        voids = [
            e
            for e in session.execute(select(audit.AuditEntry)).scalars()
            if e.action == "issuance.void"
        ]
        assert len(voids) == 1 and _number(2) in voids[0].details
    verified = _cli(env, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    checked = _cli(env, "fsck")
    assert checked.exit_code == 0, checked.output
    assert "0 problem(s)" in checked.output


def test_the_officers_list_shows_void_numbers(env: Env) -> None:
    documents = env.services.documents
    good_signer = documents.signer
    documents.signer = _failing_signer(env)
    try:
        assert env.post_xml(with_new_id(REQUEST)).status_code == 500
    finally:
        documents.signer = good_signer
    assert login(env.client).status_code == 302
    page = env.client.get("/documents").get_data(as_text=True)
    assert 'id="void-numbers"' in page
    assert _number(1) in page and "timestamp" in page
    # Another authority's officer does not see KZ-MVD's journal.
    other = env.app.test_client()
    assert login(other, "officer-by-mvd").status_code == 302
    assert 'id="void-numbers"' not in other.get("/documents").get_data(as_text=True)


def test_a_void_documentid_can_be_sent_again_under_a_new_number(env: Env) -> None:
    raw = with_new_id(REQUEST)
    documents = env.services.documents
    good_signer = documents.signer
    documents.signer = _failing_signer(env)
    try:
        assert env.post_xml(raw).status_code == 500
    finally:
        documents.signer = good_signer
    again = env.post_xml(raw)
    assert again.status_code == 201 and again.json["registration_number"] == _number(2)
    repeat = env.post_xml(raw)
    assert repeat.status_code == 200 and repeat.json["id"] == again.json["id"]


def _concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_duplicates_of_one_documentid_issue_once(env: Env) -> None:
    raw = with_new_id(REQUEST)
    changed = raw.replace(b"2026-07-02", b"2026-07-03")
    clients = [env.app.test_client() for _ in range(4)]
    bodies = [raw, raw, changed, raw]
    headers = {"X-API-Key": env.keys["KZ-MVD"], "Content-Type": "application/xml"}
    responses = _concurrently(
        [
            (lambda c=c, b=b: c.post("/api/v1/documents", data=b, headers=headers))
            for c, b in zip(clients, bodies, strict=True)
        ]
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, [r.json for r in responses]
    assert set(statuses) <= {200, 201, 409}, [r.json for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json
    for response in responses:
        if response.status_code == 200:
            assert response.json["id"] == winner["id"]
    with env.services.database.reading() as session:
        assert session.query(StoredDocument).count() == 1
        rows = session.execute(select(Issuance)).scalars().all()
    # Losers were refused before a number was taken, or their reservation rolled back.
    assert [(r.registration_number, r.status) for r in rows] == [(_number(1), ISSUED)]


def test_fsck_finds_and_repairs_what_a_crash_leaves(env: Env) -> None:
    kept = env.post_xml(with_new_id(REQUEST)).json
    lost = env.post_xml(with_new_id(REQUEST)).json
    storage = env.services.storage
    root = env.services.settings.storage_dir
    assert root is not None
    # 1. a worker died after writing the files of a reserved number (row stuck in issuing)
    with env.services.database.transaction() as session:
        from service.domain.documents import next_number

        seq = next_number(session, "KZ-MVD", YEAR)
        stuck = journal.reserve(
            session, "KZ-MVD", YEAR, seq, _number(seq), str(uuid.uuid4()), "0" * 64
        )
        row = session.get(Issuance, stuck.id)
        assert row is not None
        row.started_at = datetime.now(UTC) - timedelta(hours=1)
    storage.put(f"{stuck.id}.pdf", b"%PDF-1.7 signed, never issued")
    # 2. a temporary file of an interrupted write, and a file nobody knows
    temp = root / "ab" / ".abc.pdf.x1y2z3.tmp"
    temp.parent.mkdir(exist_ok=True)
    temp.write_bytes(b"%PDF half")
    old = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(temp, (old, old))
    stray_key = f"{uuid.uuid4()}.pdf"
    storage.put(stray_key, b"%PDF-1.7 of nobody")
    # 3. a document whose PDF disappeared
    storage.delete(f"{lost['id']}.pdf")

    report = _cli(env, "fsck")
    assert report.exit_code == 1
    lines = report.output.splitlines()

    def line_for(kind: str, subject: str) -> str:
        found = [ln for ln in lines if kind in ln and subject in ln]
        assert len(found) == 1, (kind, subject, report.output)
        return found[0]

    assert "fsck --repair" in line_for("stuck-issuing", _number(3))
    line_for("temporary-file", "ab/.abc.pdf.x1y2z3.tmp")
    line_for("file-without-row", stray_key)
    assert "restore it from a backup" in line_for("row-without-file", lost["registration_number"])
    assert storage.exists(stray_key)  # report mode changes nothing

    repaired = _cli(env, "fsck", "--repair")
    assert repaired.exit_code == 1, repaired.output  # the lost PDF still needs a person
    assert [ln for ln in repaired.output.splitlines() if ln.startswith("PROBLEM")] == [
        line_for("row-without-file", lost["registration_number"])
    ]
    assert not temp.exists() and not storage.exists(stray_key)
    assert not storage.exists(f"{stuck.id}.pdf")
    assert storage.exists(f"{kept['id']}.pdf")
    assert (_number(3), VOID, journal.ABANDONED) in _journal(env)
    assert _cli(env, "audit", "verify").exit_code == 0


def test_a_number_declared_abandoned_mid_render_is_not_issued(env: Env) -> None:
    """fsck --repair with a zero timeout during a render: the render's end finds it void."""
    renderer = env.services.documents.renderer
    real_pdf = renderer.pdf
    reports: list[fsck.Report] = []

    def pdf_while_a_sweeper_runs(*args: Any, **kwargs: Any) -> Any:
        reports.append(
            fsck.check(
                env.services.database,
                env.services.storage,
                repair=True,
                stuck_after=timedelta(0),
            )
        )
        return real_pdf(*args, **kwargs)

    renderer.pdf = pdf_while_a_sweeper_runs  # type: ignore[method-assign]
    try:
        response = env.post_xml(with_new_id(REQUEST))
    finally:
        renderer.pdf = real_pdf  # type: ignore[method-assign]
    assert response.status_code == 503  # the client may retry the same documentId
    assert response.json["error"] == "issuance_abandoned"
    assert [p.kind for p in reports[0].problems] == ["stuck-issuing"]
    assert _journal(env) == [(_number(1), VOID, journal.ABANDONED)]
    assert _files(env) == []


def test_fsck_leaves_a_number_being_issued_alone(env: Env) -> None:
    with env.services.database.transaction() as session:
        from service.domain.documents import next_number

        seq = next_number(session, "KZ-MVD", YEAR)
        busy = journal.reserve(session, "KZ-MVD", YEAR, seq, _number(seq), "x" * 36, "0" * 64)
    env.services.storage.put(f"{busy.id}.pdf", b"%PDF being written")
    report = fsck.check(env.services.database, env.services.storage, repair=True)
    assert report.problems == [] and report.numbers == 1
    assert env.services.storage.exists(f"{busy.id}.pdf")
    assert _journal(env) == [(_number(1), ISSUING, None)]


def test_migration_puts_existing_documents_in_the_journal(tmp_path: Path) -> None:
    """0005 backfills an ``issued`` journal row for every document stored before it."""
    from alembic import command

    from service.store.db import Database
    from service.store.migrate import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        with database.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO documents (id, upstream_id, document_type, sender, recipient, "
                "document_date, registration_number, reg_year, reg_seq, signatory_id, "
                "signatory_name, xml_sha256, pdf_sha256, pdf_size, page_count, form_version, "
                "signed_at, created_at) VALUES ('d1', 'u1', 'request', 'KZ-MVD', 'BY-MVD', "
                "'2026-01-01', 'KZ-MVD-2026-000001', 2026, 1, 's', 'S', 'x', 'p', 1, 1, '1', "
                "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
        upgrade(database)
        with database.reading() as session:
            row = session.get(Issuance, "d1")
            assert row is not None
            assert (row.registration_number, row.status, row.upstream_claim) == (
                "KZ-MVD-2026-000001",
                ISSUED,
                "u1",
            )
    finally:
        database.dispose()


def test_the_app_reports_fsck_problems_at_start(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    from service.app import create_app

    stray = f"{uuid.uuid4()}.pdf"
    env.services.storage.put(stray, b"%PDF-1.7 of nobody")
    settings = env.services.settings
    with caplog.at_level(logging.WARNING, logger="migdocs.fsck"):
        app = create_app(
            {
                "instance_dir": str(env.instance),
                "database_url": settings.database_url,
                "testing": True,
                "session_cookie_secure": False,
            }
        )
    app.extensions["migdocs"].database.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "migdocs.fsck"]
    assert any("file-without-row" in m and stray in m for m in messages), messages
    assert any("run migdocs fsck --repair" in m for m in messages), messages
    assert env.services.storage.exists(stray)  # report mode only


def test_one_authoritys_documents_render_at_the_same_time(env: Env) -> None:
    """Both renders must be inside the renderer at once: before the journal the second
    request waited for the first one's number lock (row lock / SQLite write lock) and the
    barrier broke."""
    renderer = env.services.documents.renderer
    real_pdf = renderer.pdf
    inside = threading.Barrier(2, timeout=30)

    def pdf_meeting_the_other(*args: Any, **kwargs: Any) -> Any:
        inside.wait()
        return real_pdf(*args, **kwargs)

    renderer.pdf = pdf_meeting_the_other  # type: ignore[method-assign]
    headers = {"X-API-Key": env.keys["KZ-MVD"], "Content-Type": "application/xml"}
    clients = [env.app.test_client() for _ in range(2)]
    try:
        responses = _concurrently(
            [
                (
                    lambda c=c: c.post(
                        "/api/v1/documents", data=with_new_id(REQUEST), headers=headers
                    )
                )
                for c in clients
            ]
        )
    finally:
        renderer.pdf = real_pdf  # type: ignore[method-assign]
    assert not inside.broken
    assert sorted(r.json["registration_number"] for r in responses) == [_number(1), _number(2)]

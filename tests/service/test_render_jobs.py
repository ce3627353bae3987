"""Issue 15 item 4: ``Prefer: respond-async`` → 202, a status URL, and the worker renders.

Real app, real rendering and signing, SQLite and PostgreSQL; the render worker is the
same :class:`RenderJobs` that ``migdocs worker`` polls (and the CLI itself once).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service.app import status_for
from service.cli.main import main
from service.domain.render_jobs import RenderJobs, respond_async
from service.store.tables import Issuance, RenderJob, StoredDocument
from tests.service.conftest import Env
from tests.service.test_api import REQUEST, with_new_id
from tests.signing.pdfcheck import xmp_text

ASYNC = {"Prefer": "respond-async, wait=5"}


def _worker(env: Env) -> RenderJobs:
    return RenderJobs(env.services.documents, status_for, retry_seconds=0)


def test_prefer_parsing() -> None:
    assert respond_async(["respond-async"])
    assert respond_async(["return=minimal, Respond-Async; foo=bar"])
    assert respond_async(["wait=10", "respond-async"])
    assert not respond_async(["return=representation"])
    assert not respond_async(["respond-asyncx"])
    assert not respond_async([])


def test_respond_async_answers_202_and_the_worker_renders(env: Env) -> None:
    raw = with_new_id(REQUEST)
    response = env.post_xml(raw, **ASYNC)
    assert response.status_code == 202, response.get_json()
    assert response.headers["Preference-Applied"] == "respond-async"
    status_url = response.headers["Location"]
    assert status_url == response.get_json()["links"]["status"]
    headers = {"X-API-Key": env.keys["KZ-MVD"]}

    queued = env.client.get(status_url, headers=headers)
    assert queued.status_code == 200
    assert queued.get_json()["status"] == "queued"
    assert queued.headers["Retry-After"] == "1"
    # Nothing is issued before the worker runs: no number taken, no document.
    with env.services.database.reading() as session:
        assert session.execute(select(func.count()).select_from(Issuance)).scalar_one() == 0
    # Another authority does not see the job.
    other = env.client.get(status_url, headers={"X-API-Key": env.keys["BY-MVD"]})
    assert other.status_code == 404

    assert _worker(env).run_once() == 1
    done = env.client.get(status_url, headers=headers).get_json()
    assert done["status"] == "done", done
    assert done["error"] is None
    number = done["document"]["registration_number"]
    assert number.startswith("KZ-MVD-")
    pdf = env.client.get(done["document"]["links"]["self"] + "/pdf", headers=headers)
    assert pdf.status_code == 200
    assert number in xmp_text(pdf.data)
    with env.services.database.reading() as session:
        job = session.execute(select(RenderJob)).scalar_one()
        assert job.xml is None  # the posted XML is kept with the document, not twice
    # Nothing left to do.
    assert _worker(env).run_once() == 0

    # The same document posted again, synchronously: the stored one (idempotent).
    again = env.post_xml(raw)
    assert again.status_code == 200
    assert again.get_json()["registration_number"] == number


def test_bad_input_is_refused_at_once_and_queues_nothing(env: Env) -> None:
    response = env.post_xml(b"<not-our-document/>", **ASYNC)
    assert response.status_code == 400
    foreign = env.post_xml(with_new_id(REQUEST), authority="BY-MVD", **ASYNC)
    assert foreign.status_code == 403
    with env.services.database.reading() as session:
        assert session.execute(select(func.count()).select_from(RenderJob)).scalar_one() == 0


def test_a_refusal_at_render_time_fails_the_job_with_the_synchronous_answer(env: Env) -> None:
    # A signatory of another authority: found by the registry only when the job runs.
    raw = with_new_id(REQUEST).replace(b"<signatory>KZ-MVD-001<", b"<signatory>BY-MVD-001<")
    assert b"BY-MVD-001" in raw
    response = env.post_xml(raw, **ASYNC)
    assert response.status_code == 202
    synchronous = env.post_xml(with_new_id(raw))
    assert synchronous.status_code == 403
    assert _worker(env).run_once() == 1
    failed = env.client.get(
        response.headers["Location"], headers={"X-API-Key": env.keys["KZ-MVD"]}
    ).get_json()
    assert failed["status"] == "failed"
    assert failed["document"] is None
    assert failed["error"]["status"] == 403
    assert failed["error"]["error"] == synchronous.get_json()["error"]
    with env.services.database.reading() as session:
        assert session.execute(select(func.count()).select_from(StoredDocument)).scalar_one() == 0


def test_a_job_whose_worker_died_is_rendered_once_after_its_lease(env: Env) -> None:
    response = env.post_xml(with_new_id(REQUEST), **ASYNC)
    worker = RenderJobs(env.services.documents, status_for, lease_seconds=0)
    claimed = worker.claim(datetime.now(UTC))
    assert claimed is not None  # … and its worker dies here, the job left "rendering"
    assert worker.run_once() == 1  # the lease (0 s) is over: claimed again and rendered
    done = env.client.get(
        response.headers["Location"], headers={"X-API-Key": env.keys["KZ-MVD"]}
    ).get_json()
    assert done["status"] == "done"
    with env.services.database.reading() as session:
        assert session.execute(select(func.count()).select_from(StoredDocument)).scalar_one() == 1


def test_migdocs_worker_once_renders_queued_documents(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = env.post_xml(with_new_id(REQUEST), **ASYNC)
    assert response.status_code == 202
    settings = env.services.settings
    monkeypatch.setenv("MIGDOCS_INSTANCE", str(settings.instance_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.delenv("MIGDOCS_PARTY", raising=False)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 render job(s)" in result.output
    done = env.client.get(
        response.headers["Location"], headers={"X-API-Key": env.keys["KZ-MVD"]}
    ).get_json()
    assert done["status"] == "done"

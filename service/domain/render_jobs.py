"""Documents rendered off the request path: ``Prefer: respond-async`` (RFC 7240).

A POST with that preference is checked as the synchronous path checks it before any
number is taken (XML, schema, limits, sender) — a bad document still gets its ``400`` /
``403`` / ``422`` at once and leaves nothing behind — and is then queued as a
``render_jobs`` row in the database (the XML in the row: any host may take it).  The
answer is ``202`` with the job's status URL.

``migdocs worker`` polls render jobs beside deliveries (:class:`RenderJobs` is one of
its job kinds).  Claiming is the deliveries' scheme: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (``BEGIN IMMEDIATE`` on SQLite) and a lease in ``due_at``; a worker that dies
mid-render leaves the job ``rendering`` until the lease ends, and the next claim runs
:meth:`DocumentService.create` again — idempotent on the documentId, so the document is
issued once.  Errors a client could fix end the job ``failed`` with the JSON answer the
synchronous path would have given; others (``5xx``, a number still being issued) are
retried, at most ``max_attempts`` times in all.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update

from service.domain.auth import Principal
from service.domain.documents import DocumentService
from service.domain.issuance import StillIssuing
from service.errors import Forbidden, MigdocsError, NotFound
from service.store.tables import DONE, FAILED_JOB, QUEUED, RENDERING, RenderJob, StoredDocument
from signing.errors import SigningError

log = logging.getLogger("migdocs.jobs")


class JobKind(Protocol):
    """What ``migdocs worker`` polls: deliveries, render jobs."""

    def run_once(self, now: datetime | None = None, limit: int = 10) -> int:
        """Claim and process the jobs due now (at most ``limit``); how many."""
        ...


def poll_forever(kinds: Sequence[JobKind], stop: threading.Event, poll_seconds: float) -> None:
    """One job of each kind in turn; wait ``poll_seconds`` when none had work."""
    while not stop.is_set():
        if sum(kind.run_once(limit=1) for kind in kinds) == 0:
            stop.wait(poll_seconds)


def respond_async(prefer_headers: Sequence[str]) -> bool:
    """True when a ``Prefer`` header (RFC 7240) asks for ``respond-async``."""
    for header in prefer_headers:
        for preference in header.split(","):
            token = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if token == "respond-async":
                return True
    return False


def enqueue(documents: DocumentService, raw: bytes, principal: Principal, address: str) -> str:
    """Check ``raw`` like the synchronous path, then queue it; the job's id."""
    doc, _ = documents.parse(raw)
    if doc.header.sender != principal.authority:
        raise Forbidden(
            f"this API key belongs to {principal.authority} and cannot send documents "
            f"of {doc.header.sender}"
        )
    now = datetime.now(UTC)
    job = RenderJob(
        id=str(uuid.uuid4()),
        authority=principal.authority,
        actor=principal.actor,
        address=address or "",
        xml=raw,
        status=QUEUED,
        attempts=0,
        due_at=now,
        created_at=now,
    )
    with documents.database.transaction() as session:
        session.add(job)
    return job.id


@dataclass(frozen=True)
class JobView:
    id: str
    status: str
    document_id: str | None
    registration_number: str | None
    error_status: int | None
    error: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


def find(documents: DocumentService, job_id: str, principal: Principal) -> JobView:
    """The job, if ``principal``'s authority sent it (else it does not exist: ``404``)."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no render job {job_id}") from None
    with documents.database.reading() as session:
        job = session.get(RenderJob, job_id)
        if job is None or job.authority != principal.authority:
            raise NotFound(f"no render job {job_id}")
        document = session.get(StoredDocument, job.document_id) if job.document_id else None
        return JobView(
            job.id,
            job.status,
            job.document_id,
            document.registration_number if document is not None else None,
            job.error_status,
            json.loads(job.error) if job.error else None,
            job.created_at,
            job.finished_at,
        )


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON error answer of the synchronous path (see ``service.app``)."""
    if isinstance(exc, MigdocsError):
        details = [v.as_dict() for v in exc.violations]
        return {"error": exc.code, "message": exc.message, "details": details}
    if isinstance(exc, SigningError):
        return {
            "error": exc.code.replace("-", "_"),
            "message": str(exc),
            "details": [{"reason": exc.reason}],
        }
    return {"error": "internal_error", "message": "internal error", "details": []}


def _principal(job: RenderJob) -> Principal:
    kind, _, name = job.actor.partition(":")
    return Principal(kind, name, job.authority)


class RenderJobs:
    """The render-job kind of ``migdocs worker``.

    :param status_for: the HTTP status the synchronous path answers an exception with.
    """

    def __init__(
        self,
        documents: DocumentService,
        status_for: Callable[[Exception], int],
        lease_seconds: float = 300.0,
        retry_seconds: float = 30.0,
        max_attempts: int = 5,
    ) -> None:
        self.documents = documents
        self.database = documents.database
        self.status_for = status_for
        self.lease = timedelta(seconds=lease_seconds)
        self.retry = timedelta(seconds=retry_seconds)
        self.max_attempts = max_attempts

    def claim(self, now: datetime) -> RenderJob | None:
        """The oldest due job, moved to ``rendering`` under a lease (or ``None``)."""
        with self.database.transaction() as session:
            job = session.execute(
                select(RenderJob)
                .where(
                    or_(RenderJob.status == QUEUED, RenderJob.status == RENDERING),
                    RenderJob.due_at <= now,
                )
                .order_by(RenderJob.due_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if job is None:
                return None
            won = session.execute(
                update(RenderJob)
                .where(RenderJob.id == job.id, RenderJob.due_at == job.due_at)
                .values(status=RENDERING, due_at=now + self.lease, attempts=job.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return None
            session.expunge(job)
        job.attempts += 1
        return job

    def _finish(self, job: RenderJob, **values: Any) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(RenderJob)
                .where(RenderJob.id == job.id, RenderJob.status == RENDERING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def process(self, job: RenderJob) -> None:
        assert job.xml is not None
        try:
            created = self.documents.create(job.xml, _principal(job), job.address)
        except Exception as exc:
            status = 409 if isinstance(exc, StillIssuing) else self.status_for(exc)
            retry = status >= 500 or isinstance(exc, StillIssuing)
            if retry and job.attempts < self.max_attempts:
                log.warning("render job %s: attempt %d failed (%s)", job.id, job.attempts, exc)
                self._finish(job, status=QUEUED, due_at=datetime.now(UTC) + self.retry)
                return
            if status >= 500:
                log.error("render job %s failed for good: %s", job.id, exc)
            self._finish(
                job,
                status=FAILED_JOB,
                xml=None,
                error_status=status,
                error=json.dumps(error_body(exc), ensure_ascii=False),
                finished_at=datetime.now(UTC),
            )
            return
        self._finish(
            job,
            status=DONE,
            xml=None,
            document_id=created.document.id,
            finished_at=datetime.now(UTC),
        )

    def run_once(self, now: datetime | None = None, limit: int = 10) -> int:
        done = 0
        while done < limit:
            job = self.claim(now or datetime.now(UTC))
            if job is None:
                break
            self.process(job)
            done += 1
        return done

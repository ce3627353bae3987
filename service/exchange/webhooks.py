"""Webhooks per API key: the recipient's upstream system told of each document received.

An API key registers a URL (``POST /api/v1/webhooks``) and gets a secret once.  Storing a
received document writes one ``pending`` :class:`WebhookDelivery` per live webhook of the
recipient authority **in the same transaction** (an outbox, as for documents); the
delivery workers POST it::

    POST <url>
    Content-Type: application/json
    X-Migdocs-Event: document.received
    X-Migdocs-Delivery: <delivery id>          (the same on every retry: deduplicate on it)
    X-Migdocs-Timestamp: <unix seconds>
    X-Migdocs-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

A 2xx answer delivers it; anything else (or no answer within 10 s) is retried with the
documents' back-off until ``delivery_give_up_seconds`` (then ``failed``).  Deliveries are
listed per webhook (``GET /api/v1/webhooks/<id>/deliveries``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.errors import Conflict, InputError, NotFound, Violation
from service.store.db import Database
from service.store.exchange_tables import (
    DELIVERED,
    FAILED,
    PENDING,
    Webhook,
    WebhookDelivery,
)

log = logging.getLogger("migdocs.exchange")

EVENT_RECEIVED = "document.received"
SIGNATURE_HEADER = "X-Migdocs-Signature"
TIMESTAMP_HEADER = "X-Migdocs-Timestamp"
EVENT_HEADER = "X-Migdocs-Event"
DELIVERY_HEADER = "X-Migdocs-Delivery"
TIMEOUT_SECONDS = 10.0
MAX_WEBHOOKS_PER_KEY = 10


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Migdocs-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


WEBHOOK_URL_PATTERN = r"^https?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?([/?#][\x21-\x7e]*)?$"
"""What the OpenAPI description declares (the view checks it first); ``_check_url`` below
stays as the domain's own guard."""


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise InputError(
            "a webhook needs an http(s) URL of at most 500 characters",
            (Violation(None, "url", f"got {url[:80]!r}"),),
        )
    return url


# ----- registration -----------------------------------------------------------------------


def add_webhook(session: Session, api_key_id: str, authority: str, url: str) -> Webhook:
    live = list_webhooks(session, api_key_id)
    if len(live) >= MAX_WEBHOOKS_PER_KEY:
        raise Conflict(
            f"an API key may have at most {MAX_WEBHOOKS_PER_KEY} webhooks; remove one first"
        )
    row = Webhook(
        id=str(uuid.uuid4()),
        api_key_id=api_key_id,
        authority=authority,
        url=_check_url(url),
        secret=secrets.token_urlsafe(32),
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def list_webhooks(session: Session, api_key_id: str) -> Sequence[Webhook]:
    return (
        session.execute(
            select(Webhook)
            .where(Webhook.api_key_id == api_key_id, Webhook.removed_at.is_(None))
            .order_by(Webhook.created_at)
        )
        .scalars()
        .all()
    )


def own_webhook(session: Session, api_key_id: str, webhook_id: str) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or row.api_key_id != api_key_id or row.removed_at is not None:
        raise NotFound(f"no webhook {webhook_id[:40]!r} for this API key")
    return row


def remove_webhook(session: Session, api_key_id: str, webhook_id: str) -> None:
    """Remove it; its pending deliveries are not sent any more."""
    row = own_webhook(session, api_key_id, webhook_id)
    now = datetime.now(UTC)
    row.removed_at = now
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == row.id, WebhookDelivery.status == PENDING)
        .values(status=FAILED, finished_at=now, last_error="webhook removed")
        .execution_options(synchronize_session=False)
    )


def deliveries(session: Session, webhook: Webhook, limit: int = 100) -> Sequence[WebhookDelivery]:
    return (
        session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def enqueue(
    session: Session, event: str, document_id: str, authority: str, data: dict[str, Any]
) -> int:
    """Add a delivery of ``event`` for every live webhook of ``authority`` to ``session``."""
    hooks = (
        session.execute(
            select(Webhook).where(Webhook.authority == authority, Webhook.removed_at.is_(None))
        )
        .scalars()
        .all()
    )
    now = datetime.now(UTC)
    for hook in hooks:
        payload = {"event": event, "webhook": hook.id, "created_at": now.isoformat(), **data}
        session.add(
            WebhookDelivery(
                webhook_id=hook.id,
                event=event,
                document_id=document_id,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(hooks)


# ----- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Due:
    id: int
    url: str
    secret: str
    event: str
    payload: str
    attempts: int
    created_at: datetime


@dataclass
class WebhookSender:
    settings: Settings
    database: Database
    rng: random.Random = field(default_factory=random.Random)

    def claim(self, now: datetime, limit: int) -> list[_Due]:
        with self.database.reading() as session:  # no write transaction when idle
            if (
                session.execute(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now
                    )
                    .limit(1)
                ).first()
                is None
            ):
                return []
        lease = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        found: list[_Due] = []
        with self.database.transaction() as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            ).tuples()
            for row, hook in rows.all():
                won = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == row.id,
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=lease, attempts=WebhookDelivery.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    found.append(
                        _Due(
                            row.id,
                            hook.url,
                            hook.secret,
                            row.event,
                            row.payload,
                            row.attempts + 1,
                            row.created_at,
                        )
                    )
        return found

    def send(self, due: _Due) -> tuple[int | None, str | None]:
        """One POST; (status, error) — error ``None`` means delivered."""
        body = due.payload.encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(
            due.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                EVENT_HEADER: due.event,
                DELIVERY_HEADER: str(due.id),
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: signature(due.secret, stamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"answered {exc.code}"
        except (OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _record(self, due: _Due, status: int | None, error: str | None, now: datetime) -> None:
        values: dict[str, Any] = {"last_status": status, "last_error": error}
        if error is None:
            values.update(status=DELIVERED, finished_at=now)
        elif now >= due.created_at + timedelta(seconds=self.settings.delivery_give_up_seconds):
            values.update(status=FAILED, finished_at=now)
        else:
            base = self.settings.delivery_backoff_seconds * 2 ** max(due.attempts - 1, 0)
            wait = min(float(self.settings.delivery_max_backoff_seconds), float(base))
            values["next_attempt_at"] = now + timedelta(seconds=wait * self.rng.uniform(0.75, 1.25))
        with self.database.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == due.id, WebhookDelivery.status == PENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def run_once(self, now: datetime | None = None, limit: int = 20) -> int:
        """Send the webhook deliveries due at ``now``; how many were attempted."""
        items = self.claim(now or datetime.now(UTC), limit)
        for due in items:
            status, error = self.send(due)
            if error is not None:
                log.warning("webhook delivery %d to %s: %s", due.id, due.url, error)
            self._record(due, status, error, datetime.now(UTC))
        return len(items)

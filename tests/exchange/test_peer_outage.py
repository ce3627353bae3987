"""The peer goes down in the middle of 100 deliveries: after it comes back every document
is delivered, and each exactly once (two workers, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from service.exchange.delivery import DeliveryWorker
from service.store.exchange_tables import DELIVERED, PENDING, Delivery, Incoming

from .conftest import Nodes, request_xml

COUNT = 100


def test_peer_down_during_100_deliveries(postgres_nodes: Nodes) -> None:
    kz, by = postgres_nodes.kz, postgres_nodes.by
    sent = [kz.post(request_xml(), "KZ-MTSZN") for _ in range(COUNT)]
    numbers = {str(doc["registration_number"]) for doc in sent}
    assert len(numbers) == COUNT

    for _ in range(30):  # BY is up for the first 30
        assert kz.worker.run_once(limit=1) == 1
    by.stop()
    assert kz.worker.run_once(limit=COUNT) == COUNT - 30  # every other one fails now
    with kz.services.database.reading() as session:
        rows = session.execute(select(Delivery)).scalars().all()
        statuses = sorted(row.status for row in rows)
        assert statuses.count(DELIVERED) == 30 and statuses.count(PENDING) == COUNT - 30
        assert all(
            "Connection refused" in (row.last_error or "") for row in rows if row.status == PENDING
        )

    by.start(kz.identity.root.read_text())  # back on the same port
    later = datetime.now(UTC) + timedelta(hours=1)
    second = DeliveryWorker(kz.services.settings, kz.services.database, kz.services.storage)
    done: list[int] = []

    def drain(worker: DeliveryWorker) -> None:
        count = 0
        while worker.run_once(now=later, limit=1):
            count += 1
        done.append(count)

    threads = [threading.Thread(target=drain, args=(w,)) for w in (kz.worker, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert sum(done) == COUNT - 30  # each pending row claimed once

    with kz.services.database.reading() as session:
        rows = session.execute(select(Delivery)).scalars().all()
        assert {row.status for row in rows} == {DELIVERED}
        assert len({row.incoming_number for row in rows}) == COUNT
        assert sorted(row.attempts for row in rows) == [1] * 30 + [2] * (COUNT - 30)
    with by.services.database.reading() as session:
        assert session.execute(select(func.count()).select_from(Incoming)).scalar_one() == COUNT
        received = set(session.execute(select(Incoming.sender_number)).scalars())
    assert received == numbers  # every one, each exactly once
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "50"} | ({"after": cursor} if cursor else {})
        page = by.get("/api/v1/inbox", "BY-MVD", **query).get_json()
        if not page["items"]:
            break
        seen += [item["registration_number"] for item in page["items"]]
        cursor = page["next"]
    assert sorted(seen) == sorted(numbers)

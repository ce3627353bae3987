"""Rows written by one Core ``INSERT`` each, on the hot path of a document's POST.

The ORM's unit of work (``session.add`` then a flush) cost ~0.4 ms of Python per object
on top of the statement itself; a document's store step inserts four rows (document,
case, case membership, search entry), so they are written with Core statements built
once per table instead (measured: the store transaction 6.3 → 5.0 ms p50).  The object
passed in stays *transient*: the session does not track it, so later changes to it are
not written, and it is read only for its column values.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from signing.db import Base


@functools.cache
def _insert_into(table: Table) -> Insert:
    return insert(table)


def insert_row(session: Session | Connection, row: Base) -> None:
    """``INSERT`` the columns set on ``row`` in one statement, now (a column never set
    is left out, so it gets its default or ``NULL``, as a flush would do)."""
    table: Table = row.__table__  # type: ignore[assignment]
    given = vars(row)
    values: dict[str, Any] = {c.key: given[c.key] for c in table.columns if c.key in given}
    session.execute(_insert_into(table), values)

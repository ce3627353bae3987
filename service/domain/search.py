"""Finding documents and cases by what an officer knows: a surname, a passport number, the
upstream ``documentId`` or the registration number.

One interface, two engines:

- :func:`index_document` stores the normalised words of a document (:class:`SearchEntry`);
- :func:`matching` is the ``SELECT document_id`` of the documents whose words start with
  every word of the query — answered by PostgreSQL's full-text search
  (``to_tsvector('simple', …) @@ to_tsquery('simple', 'w1:* & w2:*')``, GIN index) in
  production and by SQLite's FTS5 (``MATCH '"w1"* "w2"*'``) on the embedded default.

Both engines see the same normalised text (:func:`words`): lower case, ``ё`` → ``е``,
split at every character that is not a letter or a digit — so «Д'Артаньян-Ковалёва»,
«дартаньян», «ковалева» and ``KZ-MVD-2026-000012`` all find what they should.  Every
word is also kept glued (``дартаньянковалева``, ``mp3456789``) so a query typed without
the separators matches too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree
from sqlalchemy import Select, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.rows import insert_row
from service.store.tables import CaseDocument, SearchEntry, StoredDocument

MAX_QUERY_WORDS = 8
_SPLIT = re.compile(r"[^\w]+|_+")
_NS = f"{{{NAMESPACE}}}"


def _fold(value: str) -> str:
    return value.casefold().replace("ё", "е")


def words(value: str) -> list[str]:
    """The searchable words of ``value`` (see the module's docstring)."""
    return [w for w in _SPLIT.split(_fold(value)) if w]


def _with_glued(value: str) -> list[str]:
    parts = words(value)
    glued = "".join(parts)
    return parts + ([glued] if len(parts) > 1 else [])


# ----- what a document is found by ------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    terms: str
    persons: str


def extract(xml: bytes | etree._Element | None, row: StoredDocument) -> Extract:
    """Words of the stored row and, while its XML exists, of the persons in it (``xml``:
    the file's bytes, or the tree already parsed from them)."""
    values = [row.registration_number, row.upstream_id]
    names: list[str] = []
    if xml is not None:
        if isinstance(xml, bytes):
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
            root = etree.fromstring(xml, parser)
        else:
            root = xml
        for person in root.iter(f"{_NS}person"):
            for kind in ("nameCyrillic", "nameLatin"):
                name = person.find(f"{_NS}{kind}")
                if name is None:
                    continue
                parts = [
                    (name.findtext(f"{_NS}{p}") or "").strip()
                    for p in ("surname", "givenName", "patronymic")
                ]
                values.extend(p for p in parts if p)
                if kind == "nameCyrillic":
                    names.append(" ".join(p for p in parts if p))
            for paper in ("identityDocument", "residencePermit"):
                for elem in person.iter(f"{_NS}{paper}"):
                    series = (elem.findtext(f"{_NS}series") or "").strip()
                    number = (elem.findtext(f"{_NS}number") or "").strip()
                    values.extend(v for v in (number, series + number) if v)
    terms: list[str] = []
    for value in values:
        terms.extend(_with_glued(value))
    return Extract(" ".join(dict.fromkeys(terms)), "; ".join(dict.fromkeys(names)))


def index_document(
    session: Session, row: StoredDocument, xml: bytes | etree._Element | None, new: bool = False
) -> None:
    """Store (or replace) the words ``row`` is found by; ``new``: the row is being stored
    in this very transaction, so it has no entry yet (no lookup)."""
    found = extract(xml, row)
    if new:
        insert_row(
            session, SearchEntry(document_id=row.id, terms=found.terms, persons=found.persons)
        )
        return
    entry = session.get(SearchEntry, row.id)
    if entry is None:
        session.add(SearchEntry(document_id=row.id, terms=found.terms, persons=found.persons))
    else:
        entry.terms, entry.persons = found.terms, found.persons


def index_stored(session: Session, row: StoredDocument, root: etree._Element) -> None:
    """A :attr:`DocumentService.on_stored` hook: index each document as it is stored, from
    the tree the service parsed (no read of the file back, no second parse)."""
    index_document(session, row, root, new=True)


def backfill(database: Database, read_xml: Callable[[str], bytes], limit: int = 500) -> int:
    """Index documents stored before the index existed, or by another path (the exchange).

    Cheap when nothing is missing (one read-only anti-join); returns how many it indexed."""
    query = (
        select(StoredDocument)
        .outerjoin(SearchEntry, SearchEntry.document_id == StoredDocument.id)
        .where(SearchEntry.document_id.is_(None))
        .limit(limit)
    )
    with database.reading() as session:
        if session.execute(query.with_only_columns(StoredDocument.id)).first() is None:
            return 0
    with database.transaction() as session:
        missing = session.execute(query).scalars().all()
        for row in missing:
            xml = None
            if row.destroyed_at is None:
                try:
                    xml = read_xml(f"{row.id}.xml")
                except (OSError, KeyError):
                    xml = None  # fsck reports a missing file; the number still finds it
            try:
                index_document(session, row, xml)
            except etree.XMLSyntaxError:
                index_document(session, row, None)  # unreadable XML: found by its number
    return len(missing)


# ----- the query ------------------------------------------------------------------------------


def query_words(query: str) -> list[str]:
    return words(query)[:MAX_QUERY_WORDS]


def matching(session: Session, query: str) -> Select[tuple[str]]:
    """``SELECT document_id`` of the documents matching every word of ``query`` (prefixes)."""
    wanted = query_words(query)
    if not wanted:
        return select(SearchEntry.document_id).where(text("1 = 0"))
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in wanted)
        return select(SearchEntry.document_id).where(
            func.to_tsvector(literal_column("'simple'"), SearchEntry.terms).op("@@")(
                func.to_tsquery(literal_column("'simple'"), tsquery)
            )
        )
    fts = " ".join(f'"{w}"*' for w in wanted)
    rowids = text("SELECT rowid FROM search_fts WHERE search_fts MATCH :q").bindparams(q=fts)
    return select(SearchEntry.document_id).where(
        literal_column("search_index.rowid").in_(rowids.columns(literal_column("rowid")))
    )


def cases_matching(session: Session, query: str) -> Select[tuple[str]]:
    """``SELECT case_id`` of the cases with at least one matching document."""
    return select(CaseDocument.case_id).where(
        CaseDocument.document_id.in_(matching(session, query))
    )


# ----- the officers' document list ------------------------------------------------------------

INCOMING = "incoming"
OUTGOING = "outgoing"


@dataclass(frozen=True)
class Criteria:
    text: str = ""
    document_type: str | None = None
    counterpart: str | None = None
    direction: str | None = None
    """``incoming`` (the authority is the recipient), ``outgoing`` (the sender) or all."""
    date_from: date | None = None
    date_to: date | None = None
    new_since: datetime | None = None
    """Only documents received (incoming) after this moment."""


@dataclass(frozen=True)
class Found:
    row: StoredDocument
    persons: str


def search_documents(
    database: Database, authority: str, criteria: Criteria, page: int, page_size: int
) -> tuple[list[Found], int]:
    """The authority's documents matching ``criteria``, newest registration first."""
    mine = or_(StoredDocument.sender == authority, StoredDocument.recipient == authority)
    query = select(StoredDocument, SearchEntry.persons).outerjoin(
        SearchEntry, SearchEntry.document_id == StoredDocument.id
    )
    conditions = [mine]
    if criteria.document_type:
        conditions.append(StoredDocument.document_type == criteria.document_type)
    if criteria.counterpart:
        other = criteria.counterpart
        conditions.append(or_(StoredDocument.sender == other, StoredDocument.recipient == other))
    if criteria.direction == INCOMING:
        conditions.append(StoredDocument.recipient == authority)
    elif criteria.direction == OUTGOING:
        conditions.append(StoredDocument.sender == authority)
    if criteria.date_from:
        conditions.append(StoredDocument.document_date >= criteria.date_from.isoformat())
    if criteria.date_to:
        conditions.append(StoredDocument.document_date <= criteria.date_to.isoformat())
    if criteria.new_since is not None:
        conditions.append(StoredDocument.recipient == authority)
        conditions.append(StoredDocument.created_at > criteria.new_since)
    with database.reading() as session:
        if criteria.text.strip():
            conditions.append(StoredDocument.id.in_(matching(session, criteria.text)))
        query = query.where(*conditions)
        total = session.execute(
            select(func.count()).select_from(
                select(StoredDocument.id).where(*conditions).subquery()
            )
        ).scalar_one()
        rows = session.execute(
            query.order_by(StoredDocument.created_at.desc(), StoredDocument.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        for stored, _ in rows:
            session.expunge(stored)
    return [Found(stored, persons or "") for stored, persons in rows], total


def persons_of(database: Database, document_ids: Iterable[str]) -> dict[str, str]:
    """Document id → the persons' names (for lists that do not come from a search)."""
    ids: Sequence[str] = list(document_ids)
    if not ids:
        return {}
    with database.reading() as session:
        found = session.execute(
            select(SearchEntry.document_id, SearchEntry.persons).where(
                SearchEntry.document_id.in_(ids)
            )
        ).all()
    return {document_id: persons for document_id, persons in found}

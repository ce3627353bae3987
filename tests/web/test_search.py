"""The one search interface on both engines: PostgreSQL full-text and SQLite FTS5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain import search, visits
from service.domain.search import Criteria, search_documents
from service.paths import SAMPLES_DIR
from service.store.tables import SearchEntry
from tests.service.conftest import Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()
MULTIPAGE = (SAMPLES_DIR / "request-multipage.xml").read_bytes()


def _numbers(env: Env, text: str, authority: str = "KZ-MVD", **criteria: object) -> list[str]:
    flt = Criteria(text=text, **criteria)  # type: ignore[arg-type]
    found, total = search_documents(env.services.database, authority, flt, 1, 50)
    assert total == len(found)
    return [f.row.registration_number for f in found]


def test_words_fold_case_yo_and_separators() -> None:
    assert search.words("Д'Артаньян-Ковалёва") == ["д", "артаньян", "ковалева"]
    assert search.words("KZ-MVD-2026-000012") == ["kz", "mvd", "2026", "000012"]
    assert search.words("  ") == []


def test_search_by_surname_passport_document_id_and_number(env: Env) -> None:
    photo = env.post_xml(with_new_id(REQUEST)).json
    other = env.post_xml(with_new_id(MULTIPAGE), "BY-GPK").json["registration_number"]
    # Kazakh and Belarusian letters, typographic apostrophes
    assert _numbers(env, "Нұрғалиев", "KZ-MTSZN") == [other]
    assert _numbers(env, "вераб'еў", "KZ-MTSZN") == [other]
    assert _numbers(env, "Verabyou", "KZ-MTSZN") == [other]
    mine = photo["registration_number"]
    # surnames: Cyrillic, Latin, any case, ё or е, part of a double name, prefix
    for query in ("Ковалёва", "КОВАЛЕВА", "kovaleva", "Д'Артаньян-Ковалёва", "дартаньян", "ковал"):
        assert _numbers(env, query) == [mine], query
    # passport: number, series + number, with a space
    for query in ("3456789", "MP3456789", "mp 3456789"):
        assert _numbers(env, query) == [mine], query
    # upstream documentId and registration number (whole or its tail)
    assert _numbers(env, photo["upstream_id"]) == [mine]
    assert _numbers(env, mine) == [mine]
    assert _numbers(env, mine.rsplit("-", 1)[1]) == [mine]
    # nothing else matches; every word must match
    assert _numbers(env, "Иванов") == []
    assert _numbers(env, "ковалева 999") == []
    # SQL/FTS syntax in a query is just text
    assert _numbers(env, '" OR * NEAR(') == []
    assert _numbers(env, "%' --") == []


def test_filters_direction_new_and_order(env: Env) -> None:
    first = env.post_xml(with_new_id(REQUEST)).json["registration_number"]
    second = env.post_xml(with_new_id(REQUEST)).json["registration_number"]
    assert _numbers(env, "ковалева") == [second, first]  # newest registration first
    assert _numbers(env, "ковалева", direction="outgoing") == [second, first]
    assert _numbers(env, "ковалева", direction="incoming") == []
    # BY-MVD receives them: incoming there, and "new" since a visit before them
    found, _ = search_documents(
        env.services.database,
        "BY-MVD",
        Criteria(direction="incoming", new_since=datetime.now(UTC) - timedelta(hours=1)),
        1,
        50,
    )
    assert [f.row.registration_number for f in found] == [second, first]
    assert "Д'Артаньян-Ковалёва Анна-Мария Олеговна" in found[0].persons
    found, _ = search_documents(
        env.services.database, "BY-MVD", Criteria(new_since=datetime.now(UTC)), 1, 50
    )
    assert found == []
    # another authority does not see them at all
    found, total = search_documents(
        env.services.database, "BY-GPK", Criteria(text="ковалева"), 1, 50
    )
    assert (found, total) == ([], 0)


def test_backfill_indexes_documents_stored_before_the_index(env: Env) -> None:
    number = env.post_xml(with_new_id(REQUEST)).json["registration_number"]
    database = env.services.database
    with database.transaction() as session:
        session.query(SearchEntry).delete()
    assert _numbers(env, "ковалева") == []
    storage = env.services.storage
    assert search.backfill(database, storage.get) == 1
    assert search.backfill(database, storage.get) == 0
    assert _numbers(env, "ковалева") == [number]


def test_visits_move_on_at_each_login(env: Env) -> None:
    database = env.services.database
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with database.transaction() as session:
        assert visits.last_visit(session, "officer-kz-mvd") is None
        visits.start_visit(session, "officer-kz-mvd", t0)
    with database.transaction() as session:
        assert visits.last_visit(session, "officer-kz-mvd") is None
        visits.start_visit(session, "officer-kz-mvd", t0 + timedelta(days=1))
    with database.reading() as session:
        assert visits.last_visit(session, "officer-kz-mvd") == t0

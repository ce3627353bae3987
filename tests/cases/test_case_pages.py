"""Officers' case page, the overdue / due-soon dashboard and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from service.domain.cases import STATUS_TITLES
from service.store.tables import Case
from tests.cases.test_cases_api import ADDITIONAL, REQUEST, RESPONSE, get, post, reply
from tests.cases.xmltools import rewrite
from tests.service.conftest import Env
from tests.service.test_officers import login


def _age(env: Env, request_number: str, days: int) -> None:
    moved = datetime.now(UTC) - timedelta(days=days)
    with env.services.database.transaction() as session:
        session.execute(
            update(Case).where(Case.request_number == request_number).values(created_at=moved)
        )


def test_case_page_with_timeline_linked_from_the_document(sqlite_env: Env) -> None:
    env = sqlite_env
    request = post(env, REQUEST, "KZ-MVD")
    asked = post(env, reply(ADDITIONAL, request["registration_number"]), "BY-MVD")
    login(env.client)
    page = env.client.get(f"/documents/{asked['id']}").get_data(as_text=True)
    case_id = get(env, "/api/v1/cases").json["items"][0]["id"]
    assert f'href="/cases/{case_id}"' in page
    case_page = env.client.get(f"/cases/{case_id}")
    text = case_page.get_data(as_text=True)
    assert case_page.status_code == 200
    assert "ожидается дополнительная информация" in text
    assert text.index(request["registration_number"]) < text.index(asked["registration_number"])
    deadline = (datetime.now(UTC).date() + timedelta(days=30)).strftime("%d.%m.%Y")
    assert deadline in text and 'id="days-left">30<' in text
    stranger = env.app.test_client()
    login(stranger, "officer-by-gpk")
    assert stranger.get(f"/cases/{case_id}").status_code == 404
    assert env.app.test_client().get(f"/cases/{case_id}").status_code == 302


def test_dashboard_and_csv_list_overdue_and_due_soon_cases(sqlite_env: Env) -> None:
    env = sqlite_env
    overdue = post(env, REQUEST, "KZ-MVD")["registration_number"]
    soon = post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"]
    fresh = post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"]
    answered = post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"]
    post(env, reply(RESPONSE, answered), "BY-MVD")
    _age(env, overdue, 40)
    _age(env, soon, 27)
    _age(env, answered, 40)
    login(env.client, "officer-by-mvd")  # the requested authority sees them too
    # Every case is listed: open ones by deadline (earliest first), closed ones after them.
    text = env.client.get("/cases").get_data(as_text=True)
    assert text.index(overdue) < text.index(soon) < text.index(fresh) < text.index(answered)
    assert "просрочен на 10\u00a0дней" in text and "3\u00a0дня" in text
    assert "Просрочено: 1" in text and "ближайшие 5 дней: 1" in text
    # Overdue / due soon are filters of the same list.
    only_overdue = env.client.get("/cases?attention=overdue").get_data(as_text=True)
    assert overdue in only_overdue and soon not in only_overdue and fresh not in only_overdue
    attention = env.client.get("/cases?attention=due-soon").get_data(as_text=True)
    assert overdue in attention and soon in attention
    assert fresh not in attention and answered not in attention
    closed = env.client.get("/cases?status=answered").get_data(as_text=True)
    assert answered in closed and overdue not in closed
    incoming = env.client.get("/cases?direction=incoming&counterpart=KZ-MVD").get_data(as_text=True)
    assert all(n in incoming for n in (overdue, soon, fresh, answered))
    outgoing = env.client.get("/cases?direction=outgoing").get_data(as_text=True)
    assert 'id="no-cases"' in outgoing
    bad = env.client.get("/cases?status=nonsense&attention=late").get_data(as_text=True)
    assert "Неизвестное состояние" in bad and "Неизвестный фильтр по сроку" in bad
    assert overdue in bad and answered in bad
    exported = env.client.get("/cases.csv")
    assert exported.mimetype == "text/csv"
    body = exported.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert [(r["Рег. № запроса"], r["Осталось дней"], r["Просрочен"]) for r in rows] == [
        (overdue, "-10", "да"),
        (soon, "3", "нет"),
    ]
    assert rows[0]["Запрашивающий орган"] == "KZ-MVD"
    assert rows[0]["Статус"] == STATUS_TITLES["open"]
    other = env.app.test_client()
    login(other, "officer-by-gpk")
    assert 'id="no-cases"' in other.get("/cases").get_data(as_text=True)
    assert other.get("/cases.csv").get_data(as_text=True).count("\n") == 1

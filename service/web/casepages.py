"""Officers' pages of cases (Art. 10.3) and transfers (Art. 11.3): every case of the
authority with filters, one case with its timeline and the actions it allows now, the
pre-filled reply, the CSV export and the list of transfers."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Response, make_response, request

from service.domain.cases import DUE_SOON_DAYS, STATUS_TITLES, CaseService
from service.domain.workplace import (
    DUE_SOON,
    INCOMING,
    OUTGOING,
    OVERDUE,
    CaseQuery,
    allowed_replies,
    list_cases,
    reply_template,
    transfers_of,
)
from service.errors import NotFound
from service.pipeline.vocabulary import AUTHORITIES
from service.web.context import services
from service.web.pagekit import LoggedIn, bp, current_officer, officer_required, page
from service.web.principal import client_address

DIRECTIONS = {INCOMING: "Входящие (отвечаем мы)", OUTGOING: "Исходящие (запрашиваем мы)"}
ATTENTION = {OVERDUE: "Просроченные", DUE_SOON: f"Срок истекает (≤ {DUE_SOON_DAYS} дней)"}


def parse_case_query(args: Mapping[str, str]) -> tuple[CaseQuery, dict[str, str], list[str]]:
    """The filters of ``/cases``; unknown values are dropped and reported."""
    problems: list[str] = []
    values: dict[str, str] = {}
    choices: dict[str, tuple[Mapping[str, object], str]] = {
        "status": (STATUS_TITLES, "Неизвестное состояние"),
        "direction": (DIRECTIONS, "Неизвестное направление"),
        "counterpart": (AUTHORITIES, "Неизвестный компетентный орган"),
        "attention": (ATTENTION, "Неизвестный фильтр по сроку"),
    }
    for name, (allowed, message) in choices.items():
        value = args.get(name, "").strip()
        if value and value not in allowed:
            problems.append(f"{message} — фильтр не применён.")
            value = ""
        values[name] = value
    values["q"] = args.get("q", "").strip()[:100]
    query = CaseQuery(
        status=values["status"] or None,
        direction=values["direction"] or None,
        counterpart=values["counterpart"] or None,
        attention=values["attention"] or None,
        text=values["q"],
    )
    return query, values, problems


def _all_open(officer: LoggedIn) -> list[Any]:
    return list_cases(services().database, officer.authority, CaseQuery(attention=DUE_SOON))


@bp.get("/cases")
@officer_required
def cases_dashboard() -> tuple[str, int]:
    officer = current_officer()
    query, values, problems = parse_case_query(request.args)
    views = list_cases(services().database, officer.authority, query)
    attention = _all_open(officer)
    return page(
        "cases.html",
        views=views,
        values=values,
        problems=problems,
        filtered=any(values.values()),
        overdue_count=sum(1 for v in attention if v.overdue),
        due_soon_count=sum(1 for v in attention if v.due_soon),
        status_titles=STATUS_TITLES,
        directions=DIRECTIONS,
        attention_titles=ATTENTION,
        counterparts=[a for code, a in AUTHORITIES.items() if code != officer.authority],
        due_soon_days=DUE_SOON_DAYS,
    )


@bp.get("/cases.csv")
@officer_required
def cases_csv() -> Response:
    """The overdue and due-soon cases, earliest deadline first, for Excel."""
    officer = current_officer()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            "Рег. № запроса",
            "Запрашивающий орган",
            "Запрашиваемый орган",
            "Статус",
            "Дата поступления",
            "Срок исполнения",
            "Осталось дней",
            "Просрочен",
        ]
    )
    for v in _all_open(officer):
        writer.writerow(
            [
                v.case.request_number,
                v.case.requesting,
                v.case.requested,
                STATUS_TITLES.get(v.case.status, v.case.status),
                v.case.created_at.astimezone(UTC).date().strftime("%d.%m.%Y"),
                v.deadline.strftime("%d.%m.%Y"),
                v.days_left,
                "да" if v.overdue else "нет",
            ]
        )
    # UTF-8 with a byte-order mark and ';' so that Excel in a Russian locale opens it
    response = make_response(out.getvalue().encode("utf-8-sig"))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="cases.csv"'
    return response


@bp.get("/cases/<case_id>")
@officer_required
def case_page(case_id: str) -> tuple[str, int]:
    officer = current_officer()
    found = CaseService(services().database).get(case_id, officer.principal, client_address())
    return page(
        "case.html",
        v=found,
        status_titles=STATUS_TITLES,
        replies=allowed_replies(found, officer.authority),
        done=request.args.get("done", ""),
    )


@bp.get("/cases/<case_id>/reply/<reply_type>.xml")
@officer_required
def reply_xml(case_id: str, reply_type: str) -> Response:
    """A reply to the case's request with the header and ``inReplyTo`` filled in."""
    officer = current_officer()
    found = CaseService(services().database).get(
        case_id, officer.principal, client_address(), "case.reply-template"
    )
    if reply_type not in allowed_replies(found, officer.authority):
        raise NotFound(f"no {reply_type} can be sent in case {found.case.request_number}")
    today = datetime.now(UTC).date()
    xml = reply_template(services().database, found, reply_type, today)
    response = make_response(xml)
    response.mimetype = "application/xml"
    name = f"{reply_type}-{found.case.request_number}.xml"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/transfers")
@officer_required
def transfers_page() -> tuple[str, int]:
    officer = current_officer()
    with services().database.reading() as db:
        lines = transfers_of(db, None, officer.authority)
    return page("transfers.html", lines=lines)

"""Blueprint ``officers`` (see :mod:`service.web.pagekit`): login, the documents and
their downloads.  Cases and transfers are in :mod:`service.web.casepages`, the actions
(upload, sign, reply, transfer) in :mod:`service.web.actions`.

Every page here works on an officer's server-side session (:mod:`service.domain.logins`; the
cookie holds only its token).  The rules that matter:

- every ``POST`` of this blueprint carries the session's CSRF token in a hidden field
  (``csrf_token``); a missing or wrong token gets ``400`` before the view runs;
- ``?next=`` after login accepts only local paths, never another site;
- a document of another authority does not exist for the officer (``404`` page), exactly
  as in the API; reads and downloads go through :meth:`DocumentService.read`, so they
  are audited;
- pages are never cached and may not be framed; the CSP allows our own files only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, make_response, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.domain import issuance as journal
from service.domain import search, visits
from service.domain.auth import Principal, Unauthenticated, authenticate_officer
from service.domain.search import INCOMING, OUTGOING, Criteria
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.store import audit
from service.web.context import services
from service.web.httpinput import ascii_int
from service.web.pagekit import (
    LoggedIn,
    bp,
    csrf_token,
    current_officer,
    logged_in,
    officer_required,
    page,
    safe_next,
)
from service.web.principal import SESSION_TOKEN, client_address, logins, session_officer

__all__ = ["bp", "page_links", "safe_next"]

PAGE_SIZES = (10, 25, 50, 100)
MAX_PAGE_SIZE = 200
MAX_USERNAME = 64
"""Longer names cannot exist (``officers.username`` is 64 characters)."""

LOGIN_FAILED = "Неверное имя пользователя или пароль"
LOGIN_THROTTLED = "Слишком много неудачных попыток входа. Повторите через {seconds} с."


# ----- login, logout ------------------------------------------------------------------------


@bp.get("/")
def index() -> BaseResponse:
    """Officers start at their documents; anyone else at the public verification page."""
    target = "officers.documents" if logged_in() else "verify.verify_page"
    return redirect(url_for(target))


@bp.get("/login")
def login() -> BaseResponse | tuple[str, int]:
    next_target = safe_next(request.args.get("next"))
    if logged_in() is not None:
        return redirect(next_target)
    return page("login.html", next=next_target, username="", error=None)


def _throttled(username: str, address: str, wait: int, next_target: str) -> BaseResponse:
    with services().database.transaction() as db:
        audit.record(
            db,
            actor="anonymous",
            action="login.throttled",
            target=username[:200],
            address=address,
            details={"retry_after": wait},
        )
    body, status = page(
        "login.html",
        429,
        next=next_target,
        username=username,
        error=LOGIN_THROTTLED.format(seconds=wait),
    )
    response = make_response(body, status)
    response.headers["Retry-After"] = str(wait)
    return response


@bp.post("/login")
def login_submit() -> BaseResponse | tuple[str, int]:
    given = request.form.get("username", "").strip()
    username = given[:MAX_USERNAME]
    password = request.form.get("password", "")
    next_target = safe_next(request.form.get("next"))
    address = client_address()
    wait = logins().wait_seconds(username, address)
    if wait > 0:
        return _throttled(username, address, wait, next_target)
    principal: Principal | None = None
    if username and password and len(given) <= MAX_USERNAME:
        # Check the password outside the write transaction: scrypt is slow by design.
        with services().database.reading() as db:
            try:
                principal = authenticate_officer(db, username, password)
            except Unauthenticated:
                principal = None
    token = ""
    with services().database.transaction() as db:
        audit.record(
            db,
            actor=principal.actor if principal else "anonymous",
            action="login.success" if principal else "login.failure",
            target=username[:200],
            address=address,
            details={"user_agent": request.user_agent.string[:200]},
        )
        if principal is None:
            logins().failed(db, username, address)
        else:
            logins().succeeded(db, principal.name)
            visits.start_visit(db, principal.name)
            token = logins().start(db, principal.name, address)
    if principal is None:
        return page("login.html", 401, next=next_target, username=username, error=LOGIN_FAILED)
    # A fresh session (new CSRF token) on every login: no session fixation.
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN] = token
    csrf_token()
    return redirect(next_target)


@bp.post("/logout")
def logout() -> BaseResponse:
    officer = session_officer()
    token = session.get(SESSION_TOKEN)
    if officer is not None and isinstance(token, str):
        with services().database.transaction() as db:
            logins().end(db, token)
            audit.record(
                db, actor=f"officer:{officer.username}", action="logout", address=client_address()
            )
    session.clear()
    return redirect(url_for("officers.login"))


# ----- documents ----------------------------------------------------------------------------

DIRECTIONS = {INCOMING: "Входящие", OUTGOING: "Исходящие"}


@dataclass(frozen=True)
class ListQuery:
    """The list page's query arguments, checked; bad values are reported, not fatal."""

    criteria: Criteria
    page: int
    page_size: int
    values: dict[str, str]
    """What the form shows (the valid values only)."""
    problems: list[str]


def _positive_int(value: str | None, default: int, maximum: int) -> int | None:
    if value is None or value == "":
        return default
    number = ascii_int(value)
    if number is None or not 1 <= number <= maximum:
        return None
    return number


def parse_list_query(args: Mapping[str, str], default_page_size: int) -> ListQuery:
    problems: list[str] = []
    document_type = args.get("type", "").strip()
    if document_type and document_type not in DOCUMENT_TITLES:
        problems.append("Неизвестный тип документа — фильтр по типу не применён.")
        document_type = ""
    counterpart = args.get("counterpart", "").strip()
    if counterpart and counterpart not in AUTHORITIES:
        problems.append("Неизвестный компетентный орган — фильтр не применён.")
        counterpart = ""
    direction = args.get("direction", "").strip()
    if direction and direction not in DIRECTIONS:
        problems.append("Неизвестное направление — показаны входящие и исходящие.")
        direction = ""
    dates: dict[str, date | None] = {}
    for name, label in (("date_from", "«Дата с»"), ("date_to", "«Дата по»")):
        raw = args.get(name, "").strip()
        try:
            dates[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.append(f"Поле {label} должно содержать дату — фильтр не применён.")
            dates[name] = None
    query = args.get("q", "").strip()[:100]
    page_number = _positive_int(args.get("page"), 1, 1_000_000)
    if page_number is None:
        problems.append("Неверный номер страницы — показана первая страница.")
        page_number = 1
    page_size = _positive_int(args.get("page_size"), default_page_size, MAX_PAGE_SIZE)
    if page_size is None:
        page_size = default_page_size
    values = {
        "q": query,
        "type": document_type,
        "counterpart": counterpart,
        "direction": direction,
        "date_from": dates["date_from"].isoformat() if dates["date_from"] else "",
        "date_to": dates["date_to"].isoformat() if dates["date_to"] else "",
        "new": "1" if args.get("new") == "1" else "",
    }
    if page_size != default_page_size:
        values["page_size"] = str(page_size)
    criteria = Criteria(
        text=query,
        document_type=document_type or None,
        counterpart=counterpart or None,
        direction=direction or None,
        date_from=dates["date_from"],
        date_to=dates["date_to"],
    )
    return ListQuery(criteria, page_number, page_size, values, problems)


def page_links(current: int, last: int) -> list[int | None]:
    """Page numbers to link; ``None`` stands for an ellipsis."""
    if last <= 9:
        return list(range(1, last + 1))
    wanted = {1, 2, last - 1, last, *range(current - 2, current + 3)}
    numbers = sorted(n for n in wanted if 1 <= n <= last)
    links: list[int | None] = []
    for n in numbers:
        if links and isinstance(links[-1], int) and n - links[-1] > 1:
            links.append(None)
        links.append(n)
    return links


VOID_NUMBERS_SHOWN = 20
"""The newest void registration numbers listed under the documents."""


def _last_visit(officer: LoggedIn) -> Any:
    with services().database.reading() as db:
        return visits.last_visit(db, officer.username)


@bp.get("/documents")
@officer_required
def documents() -> tuple[str, int]:
    officer = current_officer()
    s = services()
    query = parse_list_query(request.args, s.settings.page_size)
    search.backfill(s.database, s.storage.get)
    since = _last_visit(officer)
    criteria = query.criteria
    if query.values["new"]:
        # The first visit has no "before": everything received is new.
        criteria = Criteria(**{**criteria.__dict__, "direction": INCOMING})
        if since is not None:
            criteria = Criteria(**{**criteria.__dict__, "new_since": since})
    found, total = search.search_documents(
        s.database, officer.authority, criteria, query.page, query.page_size
    )
    last_page = max(1, math.ceil(total / query.page_size))
    active: dict[str, Any] = {k: v for k, v in query.values.items() if v}

    def page_url(number: int) -> str:
        return url_for("officers.documents", **active, page=number)

    counterparts = [a for code, a in AUTHORITIES.items() if code != officer.authority]
    with s.database.reading() as db:
        void_rows, void_total = journal.void_numbers(db, officer.authority, VOID_NUMBERS_SHOWN)
    return page(
        "documents.html",
        void_rows=void_rows,
        void_total=void_total,
        found=found,
        total=total,
        since=since,
        page=query.page,
        page_size=query.page_size,
        page_sizes=PAGE_SIZES,
        last_page=last_page,
        page_links=page_links(query.page, last_page),
        page_url=page_url,
        values=query.values,
        filtered=any(v for k, v in query.values.items() if k != "page_size"),
        problems=query.problems,
        document_types=DOCUMENT_TITLES,
        counterparts=counterparts,
        directions=DIRECTIONS,
    )


def is_new(row: Any, authority: str, since: Any) -> bool:
    """Received by ``authority`` after its officer's previous visit."""
    return bool(row.recipient == authority and (since is None or row.created_at > since))


@bp.app_context_processor
def _list_helpers() -> dict[str, Any]:
    return {"is_new": is_new}


def _download(document_id: str, what: str, mimetype: str) -> Response:
    officer = current_officer()
    row, data = services().documents.read(document_id, officer.principal, client_address(), what)
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{row.registration_number}.{what}"'
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/documents/<document_id>/pdf")
@officer_required
def document_pdf(document_id: str) -> Response:
    return _download(document_id, "pdf", "application/pdf")


@bp.get("/documents/<document_id>/xml")
@officer_required
def document_xml(document_id: str) -> Response:
    return _download(document_id, "xml", "application/xml")


# The other views of this blueprint register themselves on import.
from service.web import actions, casepages, documentpage  # noqa: E402, F401

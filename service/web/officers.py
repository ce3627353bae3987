"""Blueprint ``officers``: Russian web pages for officers (login, documents).

Every page here works on an officer's server-side session (:mod:`service.domain.logins`; the
cookie holds only its token).  The rules that matter:

- every ``POST`` of this blueprint carries the session's CSRF token in a hidden field
  (``csrf_token``); a missing or wrong token gets ``400`` before the view runs;
- ``?next=`` after login accepts only local paths, never another site;
- a document of another authority does not exist for the officer (``404`` page), exactly
  as in the API; reads and downloads go through :meth:`DocumentService.read`, so they
  are audited;
- pages are never cached and may not be framed; the CSP allows our own stylesheet only.
"""

from __future__ import annotations

import csv
import hmac
import io
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from service.domain import issuance as journal
from service.domain.auth import Principal, Unauthenticated, authenticate_officer
from service.domain.cases import DUE_SOON_DAYS, STATUS_TITLES, CaseFilter, CaseService, CaseView
from service.domain.documents import DocumentFilter
from service.errors import NotFound
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.store import audit
from service.web.context import services
from service.web.httpinput import ascii_int
from service.web.principal import SESSION_TOKEN, client_address, logins, session_officer

bp = Blueprint("officers", __name__)

SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"
PAGE_SIZES = (10, 25, 50, 100)
MAX_PAGE_SIZE = 200
MAX_USERNAME = 64
"""Longer names cannot exist (``officers.username`` is 64 characters)."""

LOGIN_FAILED = "Неверное имя пользователя или пароль"
SESSION_EXPIRED = "Сеанс устарел, обновите страницу"
LOGIN_THROTTLED = "Слишком много неудачных попыток входа. Повторите через {seconds} с."

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

P = ParamSpec("P")
R = TypeVar("R")


# ----- helpers for templates ----------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def ru_date(value: date | datetime | str | None) -> str:
    """``DD.MM.YYYY`` from a date, a datetime or an ISO date string."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]).strftime("%d.%m.%Y")
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y")


def ru_datetime(value: datetime | None) -> str:
    """``DD.MM.YYYY HH:MM:SS UTC``."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%d.%m.%Y %H:%M:%S UTC")


def authority_short(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.short_ru if authority else code


def authority_name(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.name_ru if authority else code


def document_title(code: str) -> str:
    return DOCUMENT_TITLES.get(code, code)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "authority_short": authority_short,
        "authority_name": authority_name,
        "document_title": document_title,
    }


@bp.app_template_filter("ru_date")
def _ru_date_filter(value: date | datetime | str | None) -> str:
    return ru_date(value)


@bp.app_template_filter("ru_datetime")
def _ru_datetime_filter(value: datetime | None) -> str:
    return ru_datetime(value)


# ----- who is logged in ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedIn:
    username: str
    full_name: str
    authority: str

    @property
    def principal(self) -> Principal:
        return Principal("officer", self.username, self.authority)


def logged_in() -> LoggedIn | None:
    """The officer of this session (server-side, see :mod:`service.domain.logins`); an ended,
    expired or disabled officer's session is cleared."""
    officer = session_officer()
    if officer is None:
        return None
    return LoggedIn(officer.username, officer.full_name, officer.authority)


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else becomes the document list."""
    default = url_for("officers.documents")
    if not target or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _login_redirect() -> BaseResponse:
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("officers.login", next=target))


def officer_required(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
    """Send anonymous visitors to the login page, with the page they wanted as ``next``."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
        officer = logged_in()
        if officer is None:
            return _login_redirect()
        g.officer = officer
        return view(*args, **kwargs)

    return wrapper


def current_officer() -> LoggedIn:
    officer = g.get("officer")
    assert isinstance(officer, LoggedIn), "view without @officer_required"
    return officer


def page(template: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("officer", g.get("officer"))
    return render_template(template, **context), http_status


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return page("error.html", status, status=status, title=title, message=message)


# ----- CSRF, headers, errors ----------------------------------------------------------------


@bp.before_request
def _check_csrf() -> tuple[str, int] | None:
    if request.method != "POST":
        return None
    expected = session.get(SESSION_CSRF)
    presented = request.form.get(CSRF_FIELD, "")
    if (
        not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(expected.encode(), presented.encode())
    ):
        return error_page(400, "Ошибка запроса", SESSION_EXPIRED)
    return None


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> tuple[str, int]:
    return error_page(404, "Документ не найден", "Такого документа нет или он вам недоступен.")


# ----- login, logout ------------------------------------------------------------------------


@bp.get("/")
def index() -> BaseResponse:
    target = "officers.documents" if logged_in() else "officers.login"
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


@dataclass(frozen=True)
class ListQuery:
    """The list page's query arguments, checked; bad values are reported, not fatal."""

    filter: DocumentFilter
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
    values: dict[str, str] = {}
    document_type = args.get("type", "").strip()
    if document_type and document_type not in DOCUMENT_TITLES:
        problems.append("Неизвестный тип документа — фильтр по типу не применён.")
        document_type = ""
    counterpart = args.get("counterpart", "").strip()
    if counterpart and counterpart not in AUTHORITIES:
        problems.append("Неизвестный компетентный орган — фильтр не применён.")
        counterpart = ""
    dates: dict[str, date | None] = {}
    for name, label in (("date_from", "«Дата с»"), ("date_to", "«Дата по»")):
        raw = args.get(name, "").strip()
        try:
            dates[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.append(f"Поле {label} должно содержать дату — фильтр не применён.")
            dates[name] = None
    query = args.get("q", "").strip()[:64]
    page_number = _positive_int(args.get("page"), 1, 1_000_000)
    if page_number is None:
        problems.append("Неверный номер страницы — показана первая страница.")
        page_number = 1
    page_size = _positive_int(args.get("page_size"), default_page_size, MAX_PAGE_SIZE)
    if page_size is None:
        page_size = default_page_size
    values = {
        "type": document_type,
        "counterpart": counterpart,
        "date_from": dates["date_from"].isoformat() if dates["date_from"] else "",
        "date_to": dates["date_to"].isoformat() if dates["date_to"] else "",
        "q": query,
    }
    if page_size != default_page_size:
        values["page_size"] = str(page_size)
    flt = DocumentFilter(
        document_type=document_type or None,
        counterpart=counterpart or None,
        date_from=dates["date_from"],
        date_to=dates["date_to"],
        registration_number=query or None,
    )
    return ListQuery(flt, page_number, page_size, values, problems)


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


@bp.get("/documents")
@officer_required
def documents() -> tuple[str, int]:
    officer = current_officer()
    default_size = services().settings.page_size
    query = parse_list_query(request.args, default_size)
    rows, total = services().documents.list(
        officer.principal, query.filter, query.page, query.page_size
    )
    last_page = max(1, math.ceil(total / query.page_size))
    active: dict[str, Any] = {k: v for k, v in query.values.items() if v}

    def page_url(number: int) -> str:
        return url_for("officers.documents", **active, page=number)

    counterparts = [a for code, a in AUTHORITIES.items() if code != officer.authority]
    with services().database.reading() as db:
        void_rows, void_total = journal.void_numbers(db, officer.authority, VOID_NUMBERS_SHOWN)
    return page(
        "documents.html",
        void_rows=void_rows,
        void_total=void_total,
        rows=rows,
        total=total,
        page=query.page,
        page_size=query.page_size,
        page_sizes=PAGE_SIZES,
        last_page=last_page,
        page_links=page_links(query.page, last_page),
        page_url=page_url,
        values=query.values,
        filtered=any(
            query.values.get(k) for k in ("type", "counterpart", "date_from", "date_to", "q")
        ),
        problems=query.problems,
        document_types=DOCUMENT_TITLES,
        counterparts=counterparts,
    )


@bp.get("/documents/<document_id>")
@officer_required
def document(document_id: str) -> tuple[str, int]:
    officer = current_officer()
    row, _ = services().documents.read(document_id, officer.principal, client_address(), "meta")
    with services().database.reading() as db:
        case = CaseService(services().database).case_of(db, row.id, officer.principal)
    return page("document.html", doc=row, case=case)


# ----- cases (Art. 10.3) ---------------------------------------------------------------------


def _attention(officer: LoggedIn) -> list[CaseView]:
    """Overdue and due-soon cases of the officer's authority, earliest deadline first."""
    views, _ = CaseService(services().database).list(
        officer.principal, CaseFilter(due_soon=True), 1, 1_000_000
    )
    return views


@bp.get("/cases")
@officer_required
def cases_dashboard() -> tuple[str, int]:
    officer = current_officer()
    views = _attention(officer)
    return page(
        "cases.html",
        overdue=[v for v in views if v.overdue],
        due_soon=[v for v in views if v.due_soon],
        status_titles=STATUS_TITLES,
        due_soon_days=DUE_SOON_DAYS,
    )


@bp.get("/cases.csv")
@officer_required
def cases_csv() -> Response:
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
    for v in _attention(officer):
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
    return page("case.html", v=found, status_titles=STATUS_TITLES)


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

"""What every officers' page shares: the blueprint, login state, CSRF, Russian formatting.

The views live in :mod:`service.web.officers` (login, documents), :mod:`service.web.casepages`
(cases, transfers) and :mod:`service.web.actions` (upload, sign, reply, transfer); all of
them register on the one blueprint ``officers`` defined here.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from service.domain.auth import Principal
from service.errors import NotFound
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.web.principal import session_officer

bp = Blueprint("officers", __name__)

SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"
SESSION_EXPIRED = "Сеанс устарел, обновите страницу"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Our own stylesheet and script (``/static/migdocs.js``: progress), nothing inline."""

P = ParamSpec("P")
R = TypeVar("R")


# ----- Russian formatting -------------------------------------------------------------------


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


NBSP = "\u00a0"


def ru_number(value: int | float) -> str:
    """Digits grouped by a non-breaking space, decimal comma: ``57 453``, ``1,5``."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, fraction = f"{value:,.1f}".partition(".")
        return whole.replace(",", NBSP) + "," + fraction
    return f"{int(value):,}".replace(",", NBSP)


def ru_size(size: int) -> str:
    """A file size as a person reads it: ``812 байт``, ``56 КБ``, ``1,5 МБ``."""
    if size < 1024:
        return f"{ru_number(size)}{NBSP}байт"
    if size < 1024 * 1024:
        return f"{ru_number(round(size / 1024))}{NBSP}КБ"
    megabytes = size / (1024 * 1024)
    shown = round(megabytes, 1) if megabytes < 10 else float(round(megabytes))
    return f"{ru_number(shown)}{NBSP}МБ"


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    """``1 день``, ``3 дня``, ``5 дней``."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def days_phrase(days: int) -> str:
    return f"{ru_number(days)}{NBSP}{ru_plural(days, 'день', 'дня', 'дней')}"


def authority_short(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.short_ru if authority else code


def authority_name(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.name_ru if authority else code


def document_title(code: str) -> str:
    return DOCUMENT_TITLES.get(code, code)


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


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    viewer = g.get("officer")
    if viewer is None and has_request_context():
        viewer = logged_in()
    return {
        "viewer": viewer,
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "authority_short": authority_short,
        "authority_name": authority_name,
        "document_title": document_title,
        "ru_number": ru_number,
        "ru_size": ru_size,
        "days_phrase": days_phrase,
    }


bp.add_app_template_filter(ru_date, "ru_date")
bp.add_app_template_filter(ru_datetime, "ru_datetime")
bp.add_app_template_filter(ru_size, "ru_size")
bp.add_app_template_filter(ru_number, "ru_number")


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

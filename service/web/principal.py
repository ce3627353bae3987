"""Who is making the current request: an API key, or an officer's session."""

from __future__ import annotations

from flask import current_app, request, session

from service.domain.auth import Principal, Unauthenticated, authenticate_api_key
from service.domain.logins import Logins, SessionOfficer
from service.web.context import services

API_KEY_HEADER = "X-API-Key"
SESSION_TOKEN = "sid"
"""Key of the server-side session's token in the (signed) session cookie."""
_CACHE = "migdocs.session_officer"
"""Where the request keeps its checked session (per request, unlike ``g``)."""


def client_address() -> str:
    return request.remote_addr or ""


def logins() -> Logins:
    """The app's sessions and login throttle (see :mod:`service.domain.logins`)."""
    found = current_app.extensions["migdocs.logins"]
    assert isinstance(found, Logins)
    return found


def session_officer() -> SessionOfficer | None:
    """The officer of this request's session, checked against the server once per request.

    An ended, expired or disabled officer's session clears the cookie."""
    if _CACHE in request.environ:
        cached: SessionOfficer | None = request.environ[_CACHE]
        return cached
    token = session.get(SESSION_TOKEN)
    officer = None
    if isinstance(token, str) and token:
        officer = logins().resolve(token, client_address())
        if officer is None:
            session.clear()
    request.environ[_CACHE] = officer
    return officer


def officer_principal() -> Principal | None:
    officer = session_officer()
    return None if officer is None else Principal("officer", officer.username, officer.authority)


def current_principal(api_key_only: bool = False) -> Principal:
    """The caller; raise :class:`Unauthenticated` (401) when there is none.

    ``api_key_only`` refuses officers' session cookies: upstream systems alone create
    documents (and a cookie-authenticated POST would need CSRF protection).
    """
    presented = request.headers.get(API_KEY_HEADER)
    if presented is not None or api_key_only:
        with services().database.read_connection() as db:
            return authenticate_api_key(db, presented)
    officer = officer_principal()
    if officer is None:
        raise Unauthenticated(f"missing API key: send it in the {API_KEY_HEADER} header")
    return officer

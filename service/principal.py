"""Who is making the current request: an API key, or an officer's session."""

from __future__ import annotations

from flask import request, session

from .auth import Principal, Unauthenticated, authenticate_api_key
from .context import services
from .models import Officer

API_KEY_HEADER = "X-API-Key"


def client_address() -> str:
    return request.remote_addr or ""


def officer_principal() -> Principal | None:
    username = session.get("officer")
    if not username:
        return None
    with services().database.reading() as db:
        row = db.get(Officer, username)
        if row is None or row.disabled_at is not None:
            session.clear()
            return None
        return Principal("officer", row.username, row.authority)


def current_principal(api_key_only: bool = False) -> Principal:
    """The caller; raise :class:`Unauthenticated` (401) when there is none.

    ``api_key_only`` refuses officers' session cookies: upstream systems alone create
    documents (and a cookie-authenticated POST would need CSRF protection).
    """
    presented = request.headers.get(API_KEY_HEADER)
    if presented is not None or api_key_only:
        with services().database.reading() as db:
            return authenticate_api_key(db, presented)
    officer = officer_principal()
    if officer is None:
        raise Unauthenticated(f"missing API key: send it in the {API_KEY_HEADER} header")
    return officer

"""Application factory: ``create_app(test_config=None)``."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix

from service import errors
from service.config import Settings, load_settings
from service.domain import fsck, search
from service.domain.auth import Unauthenticated
from service.domain.documents import DocumentService
from service.domain.issuance import IssuanceAbandoned
from service.domain.logins import Logins, SessionPolicy
from service.domain.signing_setup import signing_config
from service.exchange.errors import ExchangeUnavailable
from service.paths import TEMPLATE_DIR
from service.pipeline.rendering import default_renderer
from service.store.blobs import open_storage
from service.store.db import Database
from service.store.storage import Storage
from service.web import errorpages
from service.web.bodylimit import BODY_TOO_LARGE, ChunkedBodyLimit
from service.web.context import Services
from service.web.errorpages import wants_html
from service.web.httpinput import request_id
from signing.api import DocumentSigner
from signing.errors import (
    CertificateNotUsable,
    SignatoryNotAuthorised,
    SignatoryUnknown,
    SigningError,
)

log = logging.getLogger("migdocs.http")

STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (errors.InputTooLarge, 413),
    (errors.RequestTimeout, 408),
    (errors.InconsistentDocument, 422),
    (errors.InputError, 400),
    (Unauthenticated, 401),
    (errors.Forbidden, 403),
    (SignatoryUnknown, 403),
    (SignatoryNotAuthorised, 403),
    (CertificateNotUsable, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.UnsupportedMediaType, 415),
    (ExchangeUnavailable, 503),
    (IssuanceAbandoned, 503),  # fsck voided the number mid-render: retry the same documentId
)
"""The one place where our exceptions become HTTP statuses (first match wins)."""


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    if has_request_context() and wants_html():
        return errorpages.html_error(status, message if status < 500 else None)
    response = jsonify({"error": code, "message": message, "details": details or []})
    response.status_code = status
    return response


def status_for(exc: Exception) -> int:
    """The HTTP status of one of our exceptions (render jobs record it too)."""
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)), 500)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(errors.MigdocsError)
    def _migdocs_error(exc: errors.MigdocsError) -> Response:
        status = status_for(exc)
        if status >= 500:
            app.logger.error("internal error: %s", exc)
        return error_response(status, exc.code, exc.message, exc.details())

    @app.errorhandler(SigningError)
    def _signing_error(exc: SigningError) -> Response:
        status = status_for(exc)
        if status >= 500:
            app.logger.error("signing failed: %s", exc)
        detail = {"code": exc.reason, "reason": exc.reason, "message": str(exc)}
        return error_response(status, exc.code.replace("-", "_"), str(exc), [detail])

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        codes = {
            413: "too_large",
            408: "request_timeout",
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            415: "unsupported_media_type",
        }
        status = exc.code or 500
        response = error_response(
            status, codes.get(status, "http_error"), exc.description or exc.name
        )
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 §15.5.6
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return error_response(
            500, "internal_error", "internal error; the request id is in the X-Request-Id header"
        )


def _register_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.request_id = request_id(request.headers.get("X-Request-Id"))
        g.started = time.perf_counter()
        if request.environ.get(BODY_TOO_LARGE):
            limit = app.config["MAX_CONTENT_LENGTH"]
            raise errors.InputTooLarge(
                f"the request body is larger than {limit} bytes",
                (errors.Violation(None, "body", f"more than {limit} bytes (chunked)"),),
            )

    @app.after_request
    def _log(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        duration = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info(
            json.dumps(
                {
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "route": request.url_rule.rule if request.url_rule else None,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(duration, 1),
                    "remote": request.remote_addr,
                    "pid": os.getpid(),
                }
            )
        )
        return response


HTML_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
"""On every HTML page (a view may set a stricter CSP first).  No inline script or style
anywhere: the templates use only ``/static`` stylesheets and ``/static/migdocs.js``."""


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            for name, value in HTML_SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response


def _configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def document_service(settings: Settings, database: Database, storage: Storage) -> DocumentService:
    """Documents as the app serves them (also built by ``migdocs worker`` for render jobs)."""
    renderer = default_renderer().bounded(settings.limits())
    signer = DocumentSigner(
        database.sessions,
        config=signing_config(settings),
    )
    documents = DocumentService(database, storage, renderer, signer, settings.max_xml_bytes)
    documents.on_stored.append(search.index_stored)
    if settings.party is not None:
        from service.exchange.outbox import outbox_hook

        documents.on_stored.append(outbox_hook(settings.party))
    return documents


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from layered settings (defaults → file/env → ``test_config``)."""
    settings = load_settings(test_config)
    app = Flask(
        __name__,
        template_folder=str(TEMPLATE_DIR / "web"),
        static_folder=str(TEMPLATE_DIR / "web" / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Cookies ignore ports: two nodes on one host must not overwrite each other's.
        SESSION_COOKIE_NAME=f"session-{settings.party.lower()}" if settings.party else "session",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_absolute_minutes),
        TESTING=settings.testing,
    )
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, settings.max_content_length)  # type: ignore[method-assign]
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    database = Database(settings.database_url)
    assert settings.storage_dir is not None
    storage = open_storage(settings.storage_backend, settings.storage_dir, database)
    documents = document_service(settings, database, storage)
    renderer, signer = documents.renderer, documents.signer
    app.extensions["migdocs"] = Services(settings, database, storage, renderer, signer, documents)
    app.extensions["migdocs.logins"] = Logins(database, SessionPolicy.from_settings(settings))

    _configure_logging()
    _register_error_handlers(app)
    _register_request_logging(app)
    _register_security_headers(app)

    from service.web import api, jobs, officers, public, verify, xsd

    app.register_blueprint(api.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(officers.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(xsd.bp)
    if settings.demo_pki:
        from service.web import demo_pki
        from signing.demo_services import DemoPkiServices

        app.extensions["migdocs.demo_pki"] = DemoPkiServices(settings.instance_dir / "pki")
        app.register_blueprint(demo_pki.bp)
    from service.exchange import form_views as exchange_form_views
    from service.exchange import views as exchange_views

    app.register_blueprint(exchange_views.bp)
    app.register_blueprint(exchange_form_views.bp)
    _fsck_report(database, storage)
    return app


def _fsck_report(database: Database, storage: Storage) -> None:
    """Report (never repair) what a crash left behind; a failure here must not stop us."""
    logger = logging.getLogger("migdocs.fsck")
    try:
        report = fsck.check(database, storage)
    except Exception:
        logger.exception("fsck at start failed; run migdocs fsck")
        return
    finally:
        # gunicorn --preload forks the workers after this: none may inherit a connection.
        database.engine.dispose()
    for problem in report.remaining:
        logger.warning("fsck: %s", problem)
    if report.remaining:
        logger.warning("fsck: %s; run migdocs fsck --repair", report.summary())

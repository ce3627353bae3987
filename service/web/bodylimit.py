"""WSGI middleware: a chunked request body over the limit is refused, not cut.

With ``Content-Length`` Werkzeug refuses a body over ``MAX_CONTENT_LENGTH`` (413) before
reading it.  A chunked body has no length: Werkzeug then reads *up to* the limit and stops
silently, so the view sees the first 24 MiB as if they were the whole upload (a PDF cut
there verified as DAMAGED_PDF with 200).  This middleware reads a chunked body itself, at
most ``limit + 1`` bytes: over the limit it hands the app an empty body and the flag
:data:`BODY_TOO_LARGE`, which the app turns into ``413`` (JSON); within it, the app gets
the body with a ``Content-Length`` like any other request.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

BODY_TOO_LARGE = "migdocs.body_too_large"
"""Environ key set when a chunked body exceeded the limit."""
_CHUNK = 64 * 1024


def _is_chunked(environ: WSGIEnvironment) -> bool:
    """Chunked transfer coding; any ``Content-Length`` beside it is void (RFC 9112 §6.3)."""
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (fewer only at its end)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        data = stream.read(min(_CHUNK, limit - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


class ChunkedBodyLimit:
    def __init__(self, app: WSGIApplication, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if _is_chunked(environ):
            body = read_at_most(cast(IO[bytes], environ["wsgi.input"]), self.limit + 1)
            if len(body) > self.limit:
                environ[BODY_TOO_LARGE] = True
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

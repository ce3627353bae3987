"""Validators of the API's documents and paging links.

* ``ETag`` (strong) and ``Last-Modified`` on a document's PDF, XML and metadata, and the
  answer ``304 Not Modified`` to a matching ``If-None-Match`` / ``If-Modified-Since``
  (RFC 9110 §13: ``If-None-Match`` wins when both are sent);
* ``Link`` headers (RFC 8288: ``first``, ``prev``, ``next``, ``last``) and the same links in
  the body of a page of a list.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Response, jsonify, request, url_for

PRIVATE_REVALIDATE = "private, no-cache"
"""Documents are confidential (no shared cache) and must be revalidated before reuse."""


def conditional(response: Response, etag: str, last_modified: datetime | None = None) -> Response:
    """Add the validators and answer 304 if the client's copy is current."""
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified.replace(microsecond=0)
    response.headers["Cache-Control"] = PRIVATE_REVALIDATE
    response.make_conditional(request)  # in place: 304 and no body when current
    return response


def json_etag(body: Mapping[str, Any]) -> str:
    """A strong validator of a JSON body: SHA-256 of its canonical form."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def page_response(
    endpoint: str, items: list[dict[str, Any]], page: int, page_size: int, total: int
) -> Response:
    """A page of a list with ``links`` in the body and a ``Link`` header."""
    last = max(1, math.ceil(total / page_size))
    args: dict[str, Any] = {name: v for name, v in request.args.lists() if name != "page"}

    def at(number: int) -> str:
        return url_for(endpoint, **args, page=number)

    links: dict[str, str | None] = {
        "self": at(page),
        "first": at(1),
        "prev": at(min(page - 1, last)) if page > 1 else None,
        "next": at(page + 1) if page < last else None,
        "last": at(last),
    }
    response = jsonify(
        {"items": items, "page": page, "page_size": page_size, "total": total, "links": links}
    )
    response.headers["Link"] = ", ".join(
        f'<{url}>; rel="{rel}"' for rel, url in links.items() if url is not None and rel != "self"
    )
    return response

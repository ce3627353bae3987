"""Blueprint ``public``: sample blank forms and the lists of authorised signatories."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("public", __name__)

OPENAPI_PATHS: dict[str, Any] = {}
"""This blueprint's routes in the OpenAPI document (merged by :mod:`service.openapi`)."""

"""Blueprint ``officers``: Russian web pages for officers (login, documents)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("officers", __name__)

"""The objects an app instance is made of, reachable from views via :func:`services`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from signing.api import DocumentSigner

from .config import Settings
from .db import Database
from .documents import DocumentService
from .rendering import Renderer
from .storage import Storage


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    storage: Storage
    renderer: Renderer
    signer: DocumentSigner
    documents: DocumentService


def services() -> Services:
    found: Services = current_app.extensions["migdocs"]
    return found

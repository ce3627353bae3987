"""The objects an app instance is made of, reachable from views via :func:`services`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from service.config import Settings
from service.domain.documents import DocumentService
from service.pipeline.rendering import Renderer
from service.store.db import Database
from service.store.storage import Storage
from signing.api import DocumentSigner


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

"""Hostile-input and fault tests reuse the service fixtures (demo PKI, both databases)."""

from tests.service.conftest import database_url, demo_template  # noqa: F401

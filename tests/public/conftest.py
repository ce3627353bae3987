"""The public pages reuse the service fixtures (demo PKI and registry, SQLite and PostgreSQL)."""

from tests.service.conftest import (  # noqa: F401  (fixtures)
    database_url,
    demo_template,
    env,
    sqlite_env,
)

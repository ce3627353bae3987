"""The service fixtures (SQLite and PostgreSQL) for the web pages."""

from tests.service.conftest import (  # noqa: F401  (fixtures)
    database_url,
    demo_template,
    env,
    sqlite_env,
)

"""The service fixtures (SQLite and PostgreSQL) for the case tests."""

from tests.service.conftest import (  # noqa: F401  (fixtures)
    database_url,
    demo_template,
    env,
    sqlite_env,
)

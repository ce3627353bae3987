"""What every ``migdocs`` command shares: exit codes, failure output, the configured
database and audited changes.  Kept apart from :mod:`service.cli.main` so that the
commands of other packages (the exchange) can use it without importing the group."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import click
from sqlalchemy.orm import Session

from service.config import load_settings
from service.errors import InputError, MigdocsError
from service.store import audit
from service.store.db import Database

EXIT_INVALID = 1
EXIT_FAILURE = 3


def fail(error: MigdocsError, source: str, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": False,
                    "file": source,
                    "error": error.code,
                    "message": error.message,
                    "details": error.details(),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(f"{source}: {error.message}", err=True)
        for violation in error.violations:
            click.echo(f"  {violation}", err=True)
    sys.exit(EXIT_INVALID if isinstance(error, InputError) else EXIT_FAILURE)


@contextmanager
def configured_database() -> Iterator[Database]:
    """The configured database, its connections closed when the command ends."""
    database = Database(load_settings().database_url)
    try:
        yield database
    finally:
        database.dispose()


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@dataclass
class Change:
    session: Session
    target: str


@contextmanager
def audited_change(action: str, target: str, what: str, **details: str) -> Iterator[Change]:
    """One write transaction that ends with its audit entry; refusals exit with code 1.

    The body may set ``change.target`` once it knows it (e.g. a new key's id).
    """
    try:
        with configured_database() as database, database.transaction() as session:
            change = Change(session, target)
            yield change
            audit.record(
                session, actor=cli_actor(), action=action, target=change.target, details=details
            )
    except MigdocsError as exc:
        fail(exc, what)

"""``migdocs timestamps renew [--before DAYS]`` (attach with :func:`register`).

Meant for cron (daily is plenty): idempotent, safe to run twice at once, audited.  Exit
code 0 when every due document was renewed (or none was due), 1 when some failed (the
TSA or the revocation services did not answer: run it again later).
"""

from __future__ import annotations

import sys

import click

from service.cli.common import cli_actor, configured_database
from service.config import ConfigError, load_settings
from service.domain.renewal import DEFAULT_BEFORE_DAYS, RenewalImpossible, renew_all
from service.domain.signing_setup import archive_setup
from service.store.migrate import upgrade
from service.store.storage import LocalStorage


@click.group("timestamps")
def timestamps_group() -> None:
    """Archive timestamps (PAdES B-LTA) of stored documents."""


@timestamps_group.command("renew")
@click.option(
    "--before",
    "before_days",
    type=click.IntRange(min=0, max=36500),
    default=DEFAULT_BEFORE_DAYS,
    show_default=True,
    help="Renew when the newest timestamp's TSA certificate expires within DAYS days.",
    metavar="DAYS",
)
def renew_command(before_days: int) -> None:
    """Add a fresh archive timestamp to every stored document whose newest timestamp's
    TSA certificate expires within DAYS days or whose algorithm is weak."""
    settings = load_settings()
    try:
        timestamper, ltv = archive_setup(settings)
    except ConfigError as exc:
        click.echo(f"timestamps renew: {exc.message}", err=True)
        sys.exit(1)
    assert settings.storage_dir is not None
    with configured_database() as database:
        upgrade(database)
        try:
            results = renew_all(
                database,
                LocalStorage(settings.storage_dir),
                timestamper,
                ltv,
                before_days=before_days,
                actor=cli_actor(),
            )
        except RenewalImpossible as exc:
            click.echo(f"timestamps renew: {exc.message}", err=True)
            sys.exit(1)
    for r in results:
        click.echo(f"{r.registration_number}: {r.outcome} — {r.message}")
    renewed = sum(1 for r in results if r.outcome == "renewed")
    failed = sum(1 for r in results if r.outcome == "failed")
    click.echo(f"renewed {renewed}, failed {failed}, skipped {len(results) - renewed - failed}")
    sys.exit(1 if failed else 0)


def register(group: click.Group) -> None:
    """Attach ``timestamps`` to the ``migdocs`` command group."""
    group.add_command(timestamps_group)

"""`voicebot purge [--dry-run]`: delete the records older than their [retention] days.

Meant for cron (once a day): it prints one line per kind of record, deletes each kind in a
transaction of its own, and running it twice, or two at once, deletes nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from voicebot.records.retention import Purged


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
def purge(dry_run: bool) -> None:
    """Delete records older than their [retention] days (opt-outs are never deleted)."""
    from sqlalchemy.exc import SQLAlchemyError

    from voicebot.cli.common import engine_or_exit, settings_or_exit
    from voicebot.records import retention

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    try:
        results = retention.purge(engine, settings.retention, dry_run=dry_run)
    except SQLAlchemyError as exc:  # hide_parameters: the message carries no values
        raise click.ClickException(
            f"purge stopped: the database failed ({type(exc).__name__}); the kinds already "
            "done stay done, the one in progress was rolled back; run it again"
        ) from exc
    for done in results:
        click.echo(_line(done, dry_run))
    click.echo("opt-outs: never purged")


def _line(done: Purged, dry_run: bool) -> str:
    """One kind's line, e.g. "transfers: 12 deleted (older than 365 days)"."""
    if done.count is None:
        return f"{done.name}: kept for good (0 days)"
    verb = "cleared" if done.cleared else "deleted"
    if dry_run:
        verb = f"would be {verb}"
    return f"{done.name}: {done.count} {verb} (older than {done.days} days)"

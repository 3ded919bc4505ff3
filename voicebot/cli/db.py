"""`voicebot db upgrade`: the SQL schema, brought up to date with Alembic."""

from __future__ import annotations

import click

from voicebot.cli.common import settings_or_exit


@click.group("db")
def database() -> None:
    """The SQL database."""


@database.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (run on every release)."""
    from voicebot.records import db

    settings = settings_or_exit()
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    click.echo(f"database at revision {db.current_revision(engine)}")

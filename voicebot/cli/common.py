"""What every `voicebot` command needs first: valid settings and an up-to-date database,
or a one-line error naming what to fix (never a traceback)."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import Engine

from voicebot.config import ConfigError, Settings, load_settings
from voicebot.records import db


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


def engine_or_exit(settings: Settings | None = None) -> Engine:
    """The database engine, refusing an out-of-date schema with the command that fixes it."""
    engine = db.make_engine((settings or settings_or_exit()).database_url)
    try:
        db.check_schema(engine)
    except db.SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from exc
    return engine

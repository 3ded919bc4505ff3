"""`voicebot serve`: the webhooks under gunicorn, after checking what would break calls."""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from voicebot.cli.common import settings_or_exit
from voicebot.config import REPO_ROOT, ConfigError, Settings, require_for_serving
from voicebot.dialog.flow import FlowError
from voicebot.services import load_checked


def _port_from_environment() -> int | None:
    """PORT as platforms set it; checked when serving, so a bad one breaks no other command."""
    value = os.environ.get("PORT", "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise click.ClickException(f"PORT: not a port number: {value!r}")
    return int(value)


def _check_server_environment() -> None:
    """gunicorn reads these itself and would stop with a traceback: name the variable."""
    workers = os.environ.get("WEB_CONCURRENCY", "").strip()
    if workers and not (workers.isdigit() and int(workers) > 0):
        raise click.ClickException(f"WEB_CONCURRENCY: not a number of workers: {workers!r}")
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    if level and level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise click.ClickException(
            f"LOG_LEVEL: {level.lower()!r} is not DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )


def _warn_if_redis_is_down(url: str) -> None:
    """Start anyway (service resumes by itself when Redis comes back), but say so now: a
    mistyped REDIS_URL would otherwise show only as every caller being transferred."""
    from voicebot.sessions.store import connect

    try:
        connect(url).ping()
    except Exception as exc:
        click.echo(
            f"warning: REDIS_URL: Redis does not answer ({type(exc).__name__}); until it does, "
            "every caller hears an apology and is transferred, and /readyz answers 503",
            err=True,
        )


def _warn_if_database_is_open_to_others(url: str) -> None:
    """New SQLite files are private (voicebot.records.db); one made before, or copied in,
    may not be, and it holds students' names, birth dates and last four digits."""
    from voicebot.records.db import sqlite_path

    path = sqlite_path(url)
    if path is None or not path.exists():
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        click.echo(
            f"warning: DATABASE_URL: {path} can be read by other users of this machine "
            f"(mode {mode:o}) and holds students' names, birth dates and last four digits: "
            f"chmod 600 {path}",
            err=True,
        )


def _warn_if_the_public_url_is_unknown(settings: Settings) -> None:
    """Without VOICEBOT_PUBLIC_URL or trusted proxies, Twilio's signatures are checked against
    the URL this server sees: right only when Twilio reaches it directly. Behind a proxy or
    tunnel every webhook would be refused, and callers would hear Twilio's error message."""
    if settings.public_url or settings.trusted_proxies:
        return
    click.echo(
        "warning: VOICEBOT_PUBLIC_URL is not set (nor VOICEBOT_TRUSTED_PROXIES): Twilio's "
        "signatures are checked against the URL this server sees (http://host:port/...), so "
        "behind a proxy or tunnel every webhook is refused (403); set VOICEBOT_PUBLIC_URL to "
        "the base URL in the Twilio console",
        err=True,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: PORT, else 8000")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="default: WEB_CONCURRENCY, else 2 per core; 1 without Redis",
)
def serve(host: str, port: int | None, workers: int | None) -> None:
    """Serve Twilio's webhooks with gunicorn (GET /readyz answers 200 when ready)."""
    from voicebot.records import db

    port = port or _port_from_environment() or 8000
    _check_server_environment()
    settings = settings_or_exit()
    try:
        require_for_serving(settings)
        db.check_schema(db.make_engine(settings.database_url))
        load_checked(settings)
    except (ConfigError, FlowError, db.SchemaOutOfDate) as exc:
        raise click.ClickException(str(exc)) from exc
    except (SQLAlchemyError, OSError, ImportError) as exc:
        cause = getattr(exc, "orig", None) or exc
        raise click.ClickException(
            f"DATABASE_URL: cannot open the database ({type(cause).__name__})"
        ) from exc
    if settings.redis_url:
        _warn_if_redis_is_down(settings.redis_url)
    _warn_if_database_is_open_to_others(settings.database_url)
    _warn_if_the_public_url_is_unknown(settings)
    # gunicorn in a fresh interpreter, not in this one: this process has already imported
    # prometheus_client, before config/gunicorn.conf.py could set PROMETHEUS_MULTIPROC_DIR,
    # so its workers would keep their metrics to themselves and /metrics would be empty.
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(REPO_ROOT / "config" / "gunicorn.conf.py"),
    ]
    command += ["--bind", f"{host}:{port}"]
    if workers and settings.redis_url:  # without Redis the config keeps one worker
        command += ["--workers", str(workers)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)

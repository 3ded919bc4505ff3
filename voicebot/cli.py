"""The `voicebot` command: serve, chat, classify, flows check/graph, db upgrade."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from voicebot.agents.cli import agents
from voicebot.classify_cli import classify
from voicebot.cli_common import settings_or_exit
from voicebot.config import (
    REPO_ROOT,
    ConfigError,
    Settings,
    require_for_serving,
)
from voicebot.dialog.flow import Flow, FlowError, mermaid
from voicebot.flows_check import load_checked
from voicebot.roster_cli import roster


@click.group()
def main() -> None:
    """The Parent Portal help line."""


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


@main.command()
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


@main.command()
@click.option("--sms", "channel", flag_value="sms", help="A text-message thread.")
@click.option("--voice", "channel", flag_value="voice", default=True, help="A phone call.")
@click.option("--from", "caller", default="+14045550123", show_default=True)
def chat(channel: str, caller: str) -> None:
    """Talk to the help line here in the terminal: no Twilio account, no server."""
    import tempfile

    from voicebot.channels import simulator

    settings = settings_or_exit()
    token = settings.twilio_auth_token or simulator.throwaway_token()
    # The chat serves no console sessions; a throwaway key keeps the console's warning away.
    os.environ.setdefault("VOICEBOT_SECRET_KEY", simulator.throwaway_token())
    with contextlib.ExitStack() as cleanup:
        outbox = settings.outbox
        if not os.environ.get("VOICEBOT_OUTBOX"):  # texts may hold codes: gone at the end
            folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="voicebot-chat-"))
            outbox = Path(folder) / "outbox.jsonl"
        _chat(settings.with_overrides(outbox=outbox), token, channel, caller)


def _chat(settings: Settings, token: str, channel: str, caller: str) -> None:
    from voicebot.app import create_app
    from voicebot.channels import simulator

    outbox = settings.outbox
    # The chat never sends real texts: they appear in the terminal instead.
    settings = settings.with_overrides(
        twilio_auth_token=token, twilio_account_sid="", public_url=""
    )
    try:
        app = create_app(settings, upgrade_db=True)
    except (ConfigError, FlowError) as exc:
        raise click.ClickException(str(exc)) from exc
    client = simulator.SignedClient(app, token)
    to = settings.twilio_number or "+14045550100"

    def ask(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    try:
        if channel == "sms":
            click.echo("Texting the help line. Type a message; an empty line ends. Try: MENU, HELP")
            simulator.chat_sms(client, simulator.Outbox(outbox), caller, to, ask, click.echo)
        else:
            click.echo(
                "Calling the help line. Type what you would say; #1 presses 1 (#0 a person, "
                "#* repeat); an empty line is silence; Ctrl-D hangs up."
            )
            simulator.chat_voice(client, simulator.Outbox(outbox), caller, to, ask, click.echo)
    finally:
        # The chat writes to the configured database like the server; its conversation
        # counts wait in the store for a minute, which a short chat never reaches.
        app.extensions["voicebot"].conversations.flush_counts()


@main.group()
def flows() -> None:
    """Check or draw the dialog in flows/."""


FLOWS_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="A copy of flows/ to use, e.g. to try an edit before it goes live "
    "(default: the flows directory in the settings).",
)


def _flow_or_exit(directory: Path | None) -> Flow:
    """The flow in `directory`, with its intents and prompts checked as the app checks them."""
    settings = settings_or_exit()
    try:
        return load_checked(settings, directory)[0]
    except FlowError as exc:
        raise click.ClickException(str(exc)) from exc


@flows.command("check")
@FLOWS_DIR
def flows_check(directory: Path | None) -> None:
    """Validate flows/: unknown states, missing prompts, unreachable states."""
    flow = _flow_or_exit(directory)
    click.echo(
        f"flows OK: {len(flow.states)} states, "
        f"{len(flow.prompts[flow.languages[0]])} prompts in {', '.join(flow.languages)}"
    )


@flows.command("graph")
@FLOWS_DIR
def flows_graph(directory: Path | None) -> None:
    """Print the state machine as a Mermaid diagram."""
    click.echo(mermaid(_flow_or_exit(directory)), nl=False)


@main.group("db")
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


main.add_command(classify)
main.add_command(agents)
main.add_command(roster)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

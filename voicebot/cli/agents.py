"""`voicebot agents`: accounts for the agents' console.

voicebot agents add NAME             # asks for the password twice
voicebot agents add NAME --password-stdin < file
voicebot agents reset NAME           # new password; also lifts a lockout
voicebot agents list                 # who can sign in, and who is locked out
voicebot agents remove NAME          # no more access; their sessions end
"""

from __future__ import annotations

import re
import sys

import click

MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _handoffs():  # type: ignore[no-untyped-def]
    from voicebot.cli.common import engine_or_exit
    from voicebot.records import db
    from voicebot.records.handoffs import Handoffs

    return Handoffs(db.make_sessions(engine_or_exit()))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise click.ClickException(
            "a name is 1-64 letters, digits, dots, dashes, underscores or @, "
            "starting with a letter or digit"
        )
    return name


@click.group()
def agents() -> None:
    """Accounts for the agents' web console (/agents)."""


@agents.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
def add(name: str, password_stdin: bool) -> None:
    """Create an agent account (the password is stored hashed with scrypt)."""
    from voicebot.agents.console import hash_password

    name = _name(name)
    handoffs = _handoffs()
    if handoffs.agent(name) is not None:
        raise click.ClickException(f"agent {name!r} exists: use `voicebot agents reset {name}`")
    password = _password(password_stdin)
    handoffs.add_agent(name, hash_password(password))
    click.echo(f"agent {name} added")


@agents.command("reset")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
def reset(name: str, password_stdin: bool) -> None:
    """Set a new password for an agent; also lifts a lockout and ends their sessions."""
    from voicebot.agents.console import hash_password

    handoffs = _handoffs()
    if handoffs.agent(_name(name)) is None:
        raise click.ClickException(f"no agent {name!r}")
    handoffs.set_password(name, hash_password(_password(password_stdin)))
    click.echo(f"agent {name}: password changed")


@agents.command("list")
def list_agents() -> None:
    """Who can sign in to the console, who is locked out, and the id the log uses."""
    from datetime import UTC, datetime

    accounts = _handoffs().agents()
    if not accounts:
        click.echo("no agents yet: voicebot agents add NAME")
    now = datetime.now(UTC)
    for agent in accounts:
        until = agent.locked_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        state = f"locked until {until:%Y-%m-%d %H:%M} UTC" if until and until > now else "active"
        # the id is how the log names an agent ("agent 3 signed in")
        click.echo(f"{agent.name}\t{state}\tadded {agent.created_at:%Y-%m-%d}\tid {agent.id}")


@agents.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove an agent's account (someone who left): they cannot sign in again, and any
    session of theirs ends at its next page."""
    if not _handoffs().remove_agent(_name(name)):
        raise click.ClickException(f"no agent {name!r}")
    click.echo(f"agent {name} removed")

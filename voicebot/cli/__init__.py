"""The `voicebot` command: one module per command group, joined here."""

from __future__ import annotations

import sys

import click

from voicebot.cli.agents import agents
from voicebot.cli.audit import audit
from voicebot.cli.chat import chat
from voicebot.cli.classify import classify
from voicebot.cli.db import database
from voicebot.cli.flows import flows
from voicebot.cli.purge import purge
from voicebot.cli.roster import roster
from voicebot.cli.serve import serve
from voicebot.cli.twilio import twilio_group


@click.group()
def main() -> None:
    """The Parent Portal help line."""


for command in (serve, chat, classify, flows, database, roster, agents, twilio_group, purge, audit):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`voicebot chat`: a call or a text thread in the terminal, through the signed webhooks."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from voicebot.cli.common import settings_or_exit
from voicebot.config import ConfigError, Settings
from voicebot.dialog.flow import FlowError


@click.command()
@click.option("--sms", "channel", flag_value="sms", help="A text-message thread.")
@click.option("--voice", "channel", flag_value="voice", default=True, help="A phone call.")
@click.option("--from", "caller", default="+14045550123", show_default=True)
def chat(channel: str, caller: str) -> None:
    """Talk to the help line here in the terminal: no Twilio account, no server."""
    import tempfile

    from voicebot.cli import simulator

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
    from voicebot.cli import simulator
    from voicebot.services import services

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
        services(app).conversations.flush_counts()

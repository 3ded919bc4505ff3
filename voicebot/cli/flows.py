"""`voicebot flows check|graph`: the dialog in flows/, validated or drawn."""

from __future__ import annotations

from pathlib import Path

import click

from voicebot.cli.common import settings_or_exit
from voicebot.dialog.flow import Flow, FlowError, mermaid
from voicebot.services import load_checked


@click.group()
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

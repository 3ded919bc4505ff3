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


def _shown(path: Path) -> Path:
    """A path as short as it can be: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


@flows.command("test")
@FLOWS_DIR
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def flows_test(directory: Path | None, files: tuple[Path, ...]) -> None:
    """Play conversation transcripts (default: every tests/*.txt in the flows directory)
    against a fresh help line; see docs/flows-tests.md."""
    import os

    from voicebot.cli import transcripts
    from voicebot.cli.simulator import throwaway_token

    flows_dir = directory or settings_or_exit().flows_dir
    chosen = [_shown(f) for f in files] or [
        _shown(f) for f in sorted((flows_dir / "tests").glob("*.txt"))
    ]
    if not chosen:
        raise click.ClickException(f"no transcripts: {flows_dir / 'tests'} has no .txt files")
    # No agents' console is served here; a throwaway key keeps its warning away.
    os.environ.setdefault("VOICEBOT_SECRET_KEY", throwaway_token())
    passed = failed = 0
    for path in chosen:
        result = transcripts.run_file(path, flows_dir)
        click.echo(f"{'PASS' if result.passed else 'FAIL'}  {path}")
        for failure in result.failures:
            click.echo(f"  {failure}")
        passed, failed = passed + result.passed, failed + (not result.passed)
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)

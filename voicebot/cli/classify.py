"""`voicebot classify`: the intent matcher from the command line.

Without --eval it is a filter (one utterance in, one intent name out, per line), so other
tools can drive it; with --eval FILE.tsv it prints accuracy, per-intent precision and
recall and every confusion, so whoever edits flows/intents/ sees what changed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from voicebot.config import REPO_ROOT
from voicebot.dialog.evaluation import evaluate, format_report, load_labelled
from voicebot.dialog.intents import IntentDataError, IntentMatcher

DEFAULT_FLOWS = REPO_ROOT / "flows"


@click.command("classify")
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A TSV with header intent<TAB>utterance: print accuracy and confusions.",
)
@click.option(
    "--flows",
    "flows_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_FLOWS,
    show_default=True,
    help="The flows folder (intent data in its intents/ subfolder).",
)
def classify(eval_file: Path | None, flows_dir: Path) -> None:
    """Read utterances on stdin, one a line; print one intent name a line."""
    try:
        matcher = IntentMatcher.from_directory(flows_dir / "intents")
    except IntentDataError as exc:
        raise click.ClickException(f"intent data: {exc}") from exc
    if eval_file is not None:
        try:
            rows = load_labelled(eval_file)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(format_report(evaluate(matcher, rows)))
        return
    out = sys.stdout
    for line in _stdin_lines():
        out.write(matcher.classify(line.rstrip("\r\n")).public_intent + "\n")
    out.flush()


def _stdin_lines() -> Iterator[str]:
    """Lines of stdin, decoded leniently: one bad byte must not stop the whole run."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        yield from sys.stdin
        return
    for raw in buffer:
        yield raw.decode("utf-8", errors="replace")

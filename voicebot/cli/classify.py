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

from voicebot.cli.common import settings_or_exit
from voicebot.config import REPO_ROOT
from voicebot.dialog.evaluation import (
    evaluate,
    format_report,
    format_scenarios,
    is_scenario_file,
    judge,
    load_labelled,
    load_scenarios,
)
from voicebot.dialog.flow import Flow, FlowError, load_flow
from voicebot.dialog.intents import PUBLIC, IntentDataError, IntentMatcher
from voicebot.dialog.understanding import Decision, decide, opening

DEFAULT_FLOWS = REPO_ROOT / "flows"


@click.command("classify")
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A TSV with header intent<TAB>utterance (accuracy and confusions), or "
    "channel<TAB>lang<TAB>expect<TAB>utterance (opening requests: what the dialog does, "
    "per category).",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Per utterance: every need found with its score, and whether the dialog would "
    "answer, confirm, ask which, or hand over.",
)
@click.option(
    "--flows",
    "flows_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_FLOWS,
    show_default=True,
    help="The flows folder (intent data in its intents/ subfolder).",
)
def classify(eval_file: Path | None, verbose: bool, flows_dir: Path) -> None:
    """Read utterances on stdin, one a line; print one intent name a line."""
    try:
        matcher = IntentMatcher.from_directory(flows_dir / "intents")
    except IntentDataError as exc:
        raise click.ClickException(f"intent data: {exc}") from exc
    if eval_file is not None:
        click.echo(_evaluation(eval_file, matcher, flows_dir))
        return
    flow = _flow(flows_dir) if verbose else None
    out = sys.stdout
    for line in _stdin_lines():
        text = line.rstrip("\r\n")
        if flow is None:
            out.write(matcher.classify(text).public_intent + "\n")
        else:
            out.write(explain(decide(flow, matcher, text, opening(flow, "voice", "en"))) + "\n")
    out.flush()


def _flow(flows_dir: Path) -> Flow:
    try:
        return load_flow(flows_dir, settings_or_exit().languages)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from exc


def _evaluation(eval_file: Path, matcher: IntentMatcher, flows_dir: Path) -> str:
    try:
        if is_scenario_file(eval_file):
            flow = _flow(flows_dir)
            scenarios = load_scenarios(eval_file)
            return format_scenarios([judge(flow, matcher, s) for s in scenarios])
        return format_report(evaluate(matcher, load_labelled(eval_file)))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def explain(decision: Decision) -> str:
    """One line: the public intent, what the dialog does, and every need with its score."""
    choice = decision.choice
    public = PUBLIC.get(choice.intent, choice.intent)
    what = f"{decision.action} {choice.target or ''}".strip()
    if choice.also:
        what += f", then offer {choice.also}"
    needs = ", ".join(
        f"{intent} {score:.2f}" + (" (the problem)" if problem else "")
        for intent, score, problem in decision.needs
    )
    return f"{public}\t{what}\tneeds: {needs or 'one'}"


def _stdin_lines() -> Iterator[str]:
    """Lines of stdin, decoded leniently: one bad byte must not stop the whole run."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        yield from sys.stdin
        return
    for raw in buffer:
        yield raw.decode("utf-8", errors="replace")

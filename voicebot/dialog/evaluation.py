"""Measure the intent matcher on a labelled file, so a change to flows/intents/ shows
what it fixed and what it broke (`voicebot classify --eval FILE.tsv`)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from voicebot.dialog.flow import Flow
from voicebot.dialog.intents import NO_ANSWER, PUBLIC
from voicebot.dialog.understanding import Classifier, Decision, decide, opening


class _Match(Protocol):
    intent: str
    score: float


class _Classifier(Protocol):
    def classify(self, text: str) -> _Match: ...


@dataclass(frozen=True)
class IntentStats:
    """How one intent fared: precision = right among those predicted as it."""

    intent: str
    support: int  # how many rows carry this label
    predicted: int  # how many rows were classified as it
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0


@dataclass(frozen=True)
class Confusion:
    expected: str
    got: str
    utterance: str
    score: float


@dataclass(frozen=True)
class EvalReport:
    total: int
    correct: int
    per_intent: dict[str, IntentStats] = field(default_factory=dict)
    confusions: list[Confusion] = field(default_factory=list)
    scores_right: list[float] = field(default_factory=list)  # confidence of right answers
    scores_wrong: list[float] = field(default_factory=list)  # ... and of wrong ones

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def load_labelled(path: Path | str) -> list[tuple[str, str]]:
    """(intent, utterance) rows of a TSV whose header is `intent<TAB>utterance`."""
    rows: list[tuple[str, str]] = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            return rows
        if [h.strip().lower() for h in header[:2]] != ["intent", "utterance"]:
            raise ValueError(f"{path}: the first line must be: intent<TAB>utterance")
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{number}: expected intent<TAB>utterance")
            rows.append((row[0].strip(), "\t".join(row[1:]).strip()))
    return rows


def _public(intent: str) -> str:
    """The catalogue's name, as `voicebot classify` prints it (thanks is goodbye there)."""
    return PUBLIC.get(intent, intent)


def evaluate(matcher: _Classifier, rows: list[tuple[str, str]]) -> EvalReport:
    """Classify every row and compare with its label, by the catalogue's names."""
    support: dict[str, int] = {}
    predicted: dict[str, int] = {}
    right: dict[str, int] = {}
    confusions: list[Confusion] = []
    scores_right: list[float] = []
    scores_wrong: list[float] = []
    for expected, utterance in rows:
        expected = _public(expected)
        match = matcher.classify(utterance)
        got = _public(match.intent)
        support[expected] = support.get(expected, 0) + 1
        predicted[got] = predicted.get(got, 0) + 1
        if got == expected:
            right[expected] = right.get(expected, 0) + 1
            scores_right.append(match.score)
        else:
            confusions.append(Confusion(expected, got, utterance, match.score))
            scores_wrong.append(match.score)
    per_intent = {
        name: IntentStats(name, support.get(name, 0), predicted.get(name, 0), right.get(name, 0))
        for name in sorted(set(support) | set(predicted))
    }
    return EvalReport(
        total=len(rows),
        correct=sum(right.values()),
        per_intent=per_intent,
        confusions=confusions,
        scores_right=scores_right,
        scores_wrong=scores_wrong,
    )


def format_report(report: EvalReport) -> str:
    """A plain table: accuracy, precision/recall per intent, then every confusion."""
    lines = [
        f"accuracy: {report.accuracy:.1%} ({report.correct}/{report.total})",
        "",
        f"{'intent':<26} {'precision':>9} {'recall':>7} {'support':>8}",
    ]
    for stats in report.per_intent.values():
        lines.append(
            f"{stats.intent:<26} {stats.precision:>9.2f} {stats.recall:>7.2f} {stats.support:>8}"
        )
    lines.append("")
    if report.confusions:
        lines.append(f"confusions ({len(report.confusions)}): expected -> got  [score] utterance")
        for c in report.confusions:
            lines.append(f"  {c.expected} -> {c.got}  [{c.score:.2f}] {c.utterance}")
    else:
        lines.append("confusions: none")
    return "\n".join(lines)


# ---- opening requests, judged by the dialog's own decision -------------------------------

SCENARIO_HEADER = ["channel", "lang", "expect", "utterance"]


@dataclass(frozen=True)
class Scenario:
    """One opening request and the answer its first reply must give (a catalogue intent;
    "support": say plainly there is no answer here; "out_of_scope": not the portal)."""

    channel: str
    lang: str
    expect: str
    utterance: str
    line: int = 0


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    decision: Decision
    right: bool
    other_topic: bool  # a "support" opening answered with a topic of the help page


def is_scenario_file(path: Path | str) -> bool:
    """Whether the file's header (after # comments) is channel, lang, expect, utterance."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                return [h.strip().lower() for h in line.split("\t")] == SCENARIO_HEADER
    return False


def load_scenarios(path: Path | str) -> list[Scenario]:
    rows: list[Scenario] = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(handle, start=1)]
    body = [(n, line) for n, line in lines if line.strip() and not line.startswith("#")]
    for number, line in body[1:]:
        cells = line.split("\t")
        if len(cells) != 4 or cells[0] not in ("voice", "sms"):
            raise ValueError(f"{path}:{number}: expected channel<TAB>lang<TAB>expect<TAB>utterance")
        rows.append(Scenario(*(cell.strip() for cell in cells), line=number))
    return rows


def judge(flow: Flow, classifier: Classifier, scenario: Scenario) -> Outcome:
    """What the help line's first reply does with the opening (after one "yes" to a
    confirmation question), against what it must do."""
    context = opening(flow, scenario.channel, flow.languages[0])
    decision = decide(flow, classifier, scenario.utterance, context)
    choice, expect = decision.choice, scenario.expect
    if expect == "agent":
        right = decision.action == "hand over"
    elif expect == "support":
        right = choice.intent == NO_ANSWER
    else:
        right = choice.intent == expect
    topical = choice.target is not None and bool(flow.label(choice.target, flow.languages[0]))
    other = expect == "support" and topical and choice.intent != NO_ANSWER
    return Outcome(scenario, decision, right, other)


def format_scenarios(outcomes: list[Outcome]) -> str:
    """Right answers overall, per category (the expected answer) and per channel and
    language, how many came after a confirmation, and every miss."""
    right = [o for o in outcomes if o.right]
    confirmed = [o for o in right if o.decision.action == "confirm"]
    lines = [
        f"answered as expected: {_share(len(right), len(outcomes))}; "
        f"after a confirmation: {len(confirmed)} of {len(right)}; "
        f"'support' openings answered with another topic: {sum(o.other_topic for o in outcomes)}",
        "",
        f"{'category':<26} {'right':>9}",
    ]
    for name, group in _groups(outcomes, lambda o: o.scenario.expect):
        lines.append(f"{name:<26} {_share(sum(o.right for o in group), len(group)):>9}")
    lines.append("")
    for name, group in _groups(outcomes, lambda o: f"{o.scenario.channel} {o.scenario.lang}"):
        lines.append(f"{name:<26} {_share(sum(o.right for o in group), len(group)):>9}")
    misses = [o for o in outcomes if not o.right]
    lines += ["", f"misses ({len(misses)}): expected -> got (what the help line does) utterance"]
    for o in misses:
        got = o.decision.choice.intent
        lines.append(f"  {o.scenario.expect} -> {got} ({o.decision.action}) {o.scenario.utterance}")
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {part / whole:.0%}" if whole else "0/0"


def _groups(
    outcomes: list[Outcome], key: Callable[[Outcome], str]
) -> list[tuple[str, list[Outcome]]]:
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(key(outcome), []).append(outcome)
    return sorted(grouped.items())

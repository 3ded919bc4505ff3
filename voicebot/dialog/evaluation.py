"""Measure the intent matcher on a labelled file, so a change to flows/intents/ shows
what it fixed and what it broke (`voicebot classify --eval FILE.tsv`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from voicebot.dialog.intents import PUBLIC


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

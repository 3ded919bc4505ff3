"""Stand-ins for the engine's collaborators, and a way to hold a conversation with it.

The dialog engine is pure: `Dialog.step(state, event) -> Turn`. Its two collaborators are
Protocols (voicebot.dialog.engine.Classifier and Verifier), so these fakes replace the
intent matcher and the student records: no HTTP, Flask, Redis or SQL in these tests.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import Action, Ask, CallResult, Event, Say, State, Turn
from voicebot.verification import CodeResult

CALLER = "+14045550123"
T = TypeVar("T")
START_TIME = 1_750_000_000.0


# ---- the classifier ---------------------------------------------------------------------


@dataclass(frozen=True)
class FakeMatch:
    intent: str
    score: float
    language: str | None
    ranked: tuple[tuple[str, float], ...] = ()


UNKNOWN = FakeMatch("unknown", 0.0, None)

# What the fake understands: exact utterances (lower case) -> (intent, score, language).
UTTERANCES: dict[str, tuple[str, float, str | None]] = {
    "activation key": ("activation_key", 0.92, "en"),
    "the key thingy": ("activation_key", 0.30, "en"),  # a weak guess: confirm it first
    "clave de activación": ("activation_key", 0.90, "es"),
    "last four digits": ("ssn_last4", 0.90, "en"),
    "i forgot my password": ("forgot_password", 0.90, "en"),
    "yes": ("yes", 0.95, "en"),
    "sí": ("yes", 0.95, "es"),
    "no": ("no", 0.95, "en"),
    "repeat": ("repeat", 0.95, "en"),
    "agent": ("agent", 0.95, "en"),
    "goodbye": ("goodbye", 0.95, "en"),
    "main menu": ("main_menu", 0.95, "en"),
}


class FakeClassifier:
    """The engine's Classifier: a lookup table, and a record of what it was asked."""

    def __init__(self, table: Mapping[str, tuple[str, float, str | None]] = UTTERANCES) -> None:
        self.table = {text.lower(): match for text, match in table.items()}
        self.asked: list[str] = []

    def classify(
        self, text: str, expected: Collection[str] = (), allowed: Collection[str] | None = None
    ) -> FakeMatch:
        self.asked.append(text)
        entry = self.table.get(text.strip().lower())
        if entry is None or (allowed is not None and entry[0] not in allowed):
            return UNKNOWN
        return FakeMatch(*entry)

    def needs(self, text: str, whole: Sequence[tuple[str, float]] = ()) -> list[Any]:
        """Several requests in one utterance: none here, every utterance asks one thing."""
        return []

    def knows(self, word: str) -> bool:
        return any(word.lower() in text.split() for text in self.table)


# ---- the verifier -----------------------------------------------------------------------


@dataclass(frozen=True)
class FakeDisclosed:
    first_name: str
    last4: str


@dataclass
class FakeVerifier:
    """The engine's Verifier: check_code answers from `results`, in order (EXHAUSTED when
    they run out), and every call is recorded."""

    results: list[tuple[CodeResult, FakeDisclosed | None]] = field(default_factory=list)
    locked: set[str | None] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    # call_code answers from `call_results`, in order (CALLING when they run out)
    call_results: list[CallResult] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def request_code(
        self,
        conversation: str,
        student_number: str,
        birth_date: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str | None = None,
    ) -> None:
        self.requests.append(
            {
                "conversation": conversation,
                "student_number": student_number,
                "birth_date": birth_date,
                "caller": caller,
                "channel": channel,
                "message": message,
            }
        )

    def check_code(
        self,
        conversation: str,
        code: str,
        caller: str | None,
        channel: str,
        call_id: str,
        stir: str | None,
    ) -> tuple[CodeResult, FakeDisclosed | None]:
        self.checks.append({"conversation": conversation, "code": code, "caller": caller})
        return self.results.pop(0) if self.results else (CodeResult.EXHAUSTED, None)

    def is_locked(self, caller: str | None) -> bool:
        return caller in self.locked

    def call_code(
        self,
        conversation: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str,
        lang: str,
    ) -> CallResult:
        self.calls.append({"conversation": conversation, "message": message, "lang": lang})
        return self.call_results.pop(0) if self.call_results else CallResult.CALLING


# ---- a conversation ---------------------------------------------------------------------


class Conversation:
    """One caller (or texter) talking to the engine, turn by turn; the state is carried
    between turns as the channels carry it in the session store."""

    def __init__(
        self,
        dialog: Dialog,
        channel: str = "voice",
        caller: str | None = CALLER,
        support_open: bool | None = None,
    ) -> None:
        self.dialog = dialog
        self.channel = channel
        self.caller = caller
        self.support_open = support_open
        self.now = START_TIME
        self.state: State | None = None
        self.turns: list[Turn] = []

    def _step(self, kind: str, **fields: Any) -> Turn:
        self.now += 1.0
        event = Event(
            kind=kind,  # type: ignore[arg-type]
            channel=self.channel,  # type: ignore[arg-type]
            caller=self.caller,
            conversation=f"{self.channel}:test-conversation",
            request_id=f"R{len(self.turns)}",
            now=self.now,
            support_open=self.support_open,
            **fields,
        )
        turn = self.dialog.step(self.state, event)
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def start(self) -> Turn:
        return self._step("start")

    def press(self, digits: str) -> Turn:
        return self._step("input", digits=digits)

    def say(self, words: str, confidence: float | None = 0.9) -> Turn:
        return self._step("input", text=words, confidence=confidence)

    def text(self, body: str) -> Turn:
        return self._step("input", text=body)

    def silence(self) -> Turn:
        return self._step("silence")

    def dial(self, status: str) -> Turn:
        return self._step("dial_result", dial_status=status)

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def run(self, lines: Iterable[str]) -> list[Turn]:
        """Lines like "start", "press 1", "say yes", "text hi", "silence", "dial busy"."""
        turns = []
        for line in lines:
            verb, _, rest = line.partition(" ")
            if verb in ("start", "silence"):
                turns.append(getattr(self, verb)())
            elif verb in ("press", "say", "text", "dial"):
                turns.append(getattr(self, verb)(rest))
            else:
                raise ValueError(f"not a line of a conversation: {line!r}")
        return turns


def talk(dialog: Dialog, lines: Iterable[str], **how: Any) -> Conversation:
    """Hold a conversation from a script; the conversation (its turns, its state) back."""
    conversation = Conversation(dialog, **how)
    conversation.run(lines)
    return conversation


# ---- reading a turn ---------------------------------------------------------------------


def kinds(turn: Turn) -> list[str]:
    """The actions' types, in order: ["Say", "Ask"]."""
    return [type(action).__name__ for action in turn.actions]


def keys(turn: Turn) -> list[str]:
    """The prompt keys said and asked, in order."""
    return [action.key for action in turn.actions if isinstance(action, Say | Ask)]


def words(turn: Turn) -> str:
    """Everything the turn says, asks, texts or tells before a transfer or goodbye."""
    return " ".join(_text(action) for action in turn.actions)


def _text(action: Action) -> str:
    return getattr(action, "text", "") or getattr(action, "body", "")


def question(turn: Turn) -> Ask:
    """The question the turn ends with."""
    last = turn.actions[-1]
    assert isinstance(last, Ask), f"the turn asks nothing: {turn.actions}"
    return last


def of_type(turn: Turn, kind: type[T]) -> list[T]:
    return [action for action in turn.actions if isinstance(action, kind)]


def numbers(text: str) -> set[str]:
    """The numbers of two digits or more in `text`, digits spoken one by one ("6, 7, 8, 9")
    or written with dashes joined up ("the last 4 digits" counts no number)."""
    joined = re.sub(r"(?<=\d)[ ,.-]+(?=\d)", "", text)
    return {run for run in re.findall(r"\d+", joined) if len(run) > 1}

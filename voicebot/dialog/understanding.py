"""What the caller chose at a question: a keypad key, a command, or a request in words.

One function, :func:`choose`, makes the decision the dialog acts on; `voicebot classify
--verbose` prints the same decision, so what the command shows is what a caller gets.

Pure: the classifier comes in through the small Classifier interface.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from voicebot.dialog.flow import Flow, StateSpec
from voicebot.dialog.normalize import is_greeting, is_unsure, spoken_digits


class Match(Protocol):
    intent: str
    score: float
    language: str | None
    ranked: Sequence[tuple[str, float]]  # every intent's score for the whole utterance


class Need(Protocol):
    intent: str
    score: float
    problem: bool  # put as the problem that blocks the caller ("but now ...")


class Classifier(Protocol):
    def classify(
        self, text: str, expected: Collection[str] = (), allowed: Collection[str] | None = None
    ) -> Match: ...

    def needs(self, text: str, whole: Sequence[tuple[str, float]] = ()) -> Sequence[Need]: ...

    def knows(self, word: str) -> bool: ...


# Asked for in so many words, a person wins over anything else a sentence is about.
PERSON = frozenset({"agent", "callback"})


@dataclass(frozen=True)
class Context:
    """Where the caller is: the question asked and what the conversation knows so far."""

    question: StateSpec
    step: str  # the state the conversation is in (the question, or a transfer by text)
    lang: str
    channel: str
    first: bool = False  # the first text of a thread
    turn: int = 0
    confidence: float | None = None  # the speech recogniser's, on a call


@dataclass(frozen=True)
class Choice:
    """Where the caller's answer leads: a state or an @command (None: not understood)."""

    target: str | None
    intent: str
    weak: bool = False  # understood, but not clearly: confirm before answering
    language: str | None = None  # the conversation switches to this language
    also: str = ""  # a second request in the same breath: offered after the answer
    needs: tuple[Need, ...] = ()  # every request found, in the order they are answered


@dataclass(frozen=True)
class Thresholds:
    confirm_below: float = 0.55
    speech_confidence_floor: float = 0.3


def choose(
    flow: Flow,
    classifier: Classifier,
    context: Context,
    text: str,
    digits: str = "",
    limits: Thresholds = Thresholds(),
) -> Choice:
    """The caller's choice at this question."""
    digits, text = digits.strip(), text.strip()
    if not digits and text:
        spoken = spoken_digits(text)
        if spoken and len(spoken) == 1:
            digits = spoken
    if digits:
        return _keyed(flow, context.question, digits)
    if not text:
        return Choice(None, "unknown")
    if is_unsure(text):
        # "I don't know": the menu to choose from, except where it answers the question
        # itself ("the birth date?" "I don't know"): not understood, so the options,
        # with a person among them, and then a person.
        home = flow.special["on_home"]
        at_home = context.step == home or bool(context.question.collect)
        return Choice(None if at_home else home, "unsure")
    return _worded(flow, classifier, context, text, limits)


def _keyed(flow: Flow, question: StateSpec, digits: str) -> Choice:
    # After an answer a caller who remembers the menu presses a topic's number (and a
    # texter replies with one from the list just read).
    keys = flow.states[question.keys_of].keys if question.keys_of else question.keys
    target = keys.get(digits) or flow.keys.get(digits)
    # Long digit strings may be secrets (student numbers, codes): never name them.
    return Choice(target, f"key {digits}" if len(digits) <= 2 else "digits")


def target_of(flow: Flow, question: StateSpec, intent: str) -> str | None:
    """Where an intent leads at this question: its own answers first, then the flow's."""
    return question.on.get(intent) or flow.intents.get(intent)


def _worded(
    flow: Flow, classifier: Classifier, context: Context, text: str, limits: Thresholds
) -> Choice:
    question = context.question
    # At a verification question what is said is about it ("the code didn't come" is the
    # texted code there); elsewhere a "no thanks, and ..." must keep its request.
    match = classifier.classify(text, expected=tuple(question.on) if question.collect else ())
    target = target_of(flow, question, match.intent)
    if target == "@next":
        # A reading that means something only where a question expects it ("the code
        # didn't come" away from the code question): the best request that means
        # something here. This question's own answers only when clear: a weak "yes" or
        # "no" read into "I didn't get the text" would hang up or send a text.
        allowed = {i for i, t in flow.intents.items() if t != "@next"} | set(question.on)
        match = classifier.classify(text, expected=tuple(question.on), allowed=allowed)
        target = target_of(flow, question, match.intent)
        if match.intent in question.on and match.score < limits.confirm_below:
            target = None
    greeting = (context.first or context.step == flow.special["on_home"]) and is_greeting(text)
    language = _language(flow, context, match, bool(target or (context.first and greeting)))
    if greeting:  # "good evening" on its own is a hello, not a topic to guess
        # A first text is greeted; "hola" at the menu switches to Spanish; any other hello
        # is not an answer, so the menu is asked again and a caller who keeps saying
        # "hello?" (a bad line) still reaches a person.
        now = language or context.lang
        spanish = match.language == "es" != now and "es" in flow.languages
        return Choice(
            "@spanish" if spanish and not context.first else None, "greeting", False, language
        )
    intent, score, also = match.intent, match.score, ""
    needs: tuple[Need, ...] = ()
    if not question.collect and intent not in PERSON:
        needs = _needs(flow, classifier, context, text, match, limits)
        if needs:
            intent, score = needs[0].intent, needs[0].score
            target = target_of(flow, question, intent)
            also = _also(flow, question, needs)
    weak = score < limits.confirm_below or (
        context.confidence is not None and context.confidence < limits.speech_confidence_floor
    )
    return Choice(target, intent, weak, language, also, needs)


@dataclass(frozen=True)
class _Reading:
    intent: str
    score: float
    problem: bool = False


def _needs(
    flow: Flow,
    classifier: Classifier,
    context: Context,
    text: str,
    whole: Match,
    limits: Thresholds,
) -> tuple[Need, ...]:
    """Several requests in one breath, in the order they are answered: the one put as the
    problem ("but now I forgot my password", "it wants the student number") first; then
    the flow's priority (later steps of getting into the portal before earlier ones, a key
    already used last). Empty for a single request."""
    found: list[Need] = [
        n for n in classifier.needs(text, whole.ranked) if _is_topic(flow, context, n.intent)
    ]
    strong = whole.score >= limits.confirm_below and _is_topic(flow, context, whole.intent)
    if found and strong and all(n.intent != whole.intent for n in found):
        found.append(_Reading(whole.intent, whole.score))
    found = _together(flow, found)
    rank = {intent: index for index, intent in enumerate(flow.priority)}
    found.sort(key=lambda n: (not n.problem, rank.get(n.intent, len(rank)), -n.score))
    return tuple(found)


def _together(flow: Flow, found: list[Need]) -> list[Need]:
    """Requests made together that are one request ("my username and my password": both
    forgotten) become that one, at the weakest of their scores."""
    for intent, parts in flow.together.items():
        named = [n for n in found if n.intent in parts]
        if len({n.intent for n in named}) == len(parts) and parts:
            score = min(n.score for n in named)
            problem = any(n.problem for n in named)
            found = [n for n in found if n.intent not in parts and n.intent != intent]
            found.append(_Reading(intent, score, problem))
    return found


def _also(flow: Flow, question: StateSpec, needs: tuple[Need, ...]) -> str:
    """The request to offer after the first one's answer, unless that answer covers it."""
    covered = flow.covers.get(needs[0].intent, ())
    for need in needs[1:]:
        if need.intent not in covered and need.intent != needs[0].intent:
            return target_of(flow, question, need.intent) or ""
    return ""


def _is_topic(flow: Flow, context: Context, intent: str) -> bool:
    """An intent with an answer of its own here: a topic the flow labels, or one ranked."""
    target = target_of(flow, context.question, intent)
    return bool(target) and (bool(flow.label(target, context.lang)) or intent in flow.priority)


def _language(flow: Flow, context: Context, match: Match, understood: bool) -> str | None:
    """A request in Spanish, said or texted, is answered in Spanish from now on (the agent
    hears "Language: Spanish" too); the second text may still change it ("hola", then a
    question in English), but a caller who chose Spanish keeps it. A bare answer to the
    question asked ("sí" to "Would you like a text?") is no request and changes nothing."""
    if not understood or match.intent in context.question.on:
        return None
    if match.language not in flow.languages:
        return None
    free = context.lang == flow.languages[0] or (context.channel == "sms" and context.turn <= 2)
    return match.language if free else None


# ---- the same decision, explained (voicebot classify --verbose, --eval of scenarios) -----


@dataclass(frozen=True)
class Decision:
    """What the dialog does with an opening request, and why."""

    choice: Choice
    action: str  # "answer", "confirm", "ask which", "offer a person", "hand over", ...
    needs: tuple[tuple[str, float, bool], ...]  # every need found: intent, score, problem


def opening(flow: Flow, channel: str, lang: str) -> Context:
    """Where an opening request is made: the first text of a thread, or at a call's menu."""
    home = flow.states[flow.special["on_home"]]
    return Context(
        question=home, step=home.name, lang=lang, channel=channel, first=channel == "sms"
    )


def decide(
    flow: Flow,
    classifier: Classifier,
    text: str,
    context: Context,
    limits: Thresholds = Thresholds(),
) -> Decision:
    """The dialog's choice for `text` (:func:`choose`, not a copy), and what it leads to."""
    choice = choose(flow, classifier, context, text, "", limits)
    needs = tuple((n.intent, n.score, n.problem) for n in choice.needs)
    return Decision(choice, _action(flow, choice, context.lang), needs)


def _action(flow: Flow, choice: Choice, lang: str) -> str:
    target = choice.target
    if target is None:
        return "not understood"
    if target.startswith("@"):
        return target[1:]
    if choice.weak and flow.label(target, lang):
        return "confirm"
    spec = flow.states[target]
    if spec.type in ("transfer", "callback"):
        return "hand over"
    if spec.type == "ask":
        onward = set(spec.keys.values()) | set(spec.on.values())
        transfers = any(flow.states[t].type == "transfer" for t in onward if t in flow.states)
        return "offer a person" if transfers else "ask which"
    return "answer"

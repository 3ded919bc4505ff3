"""How a conversation turned out, for the statistics page: the one place outcomes are defined.

A conversation (a call, or a text thread) ends in exactly one of five outcomes:

* ``answered``: the caller heard (or was texted) an answer from the district's help page, or
  the last four digits after verification, and needed no person.
* ``handed_to_person``: the help line sent the caller to a person: a transfer to support
  (connected or not), support's number texted when the caller asked for a person, support's
  number and hours asked for, a question the help page leaves to support, or support closed
  when the caller asked for it.
* ``callback``: the caller asked support to call them back (whatever happened before).
* ``abandoned``: the caller hung up or stopped texting before any answer, not after a turn the
  help line failed to understand (silence counts as abandoning: nothing was misunderstood).
* ``not_understood``: the conversation ended right after words the help line did not
  understand ("Sorry, I didn't catch that"), even if an earlier question was answered; or the
  help line gave up and transferred because it could not understand (or heard nothing).

Two pieces of the dialog's State carry it: ``State.outcome`` remembers the lasting part (an
answer given, a person reached, a callback asked for, a give-up transfer), updated after each
turn by :func:`progress`; :func:`outcome_of` reads the outcome so far from the state alone
(``no_match`` says whether the last words were understood). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.dialog.flow import Flow, StateSpec
from voicebot.dialog.model import Ask, RequestCallback, Say, SendText, State, Transfer, Turn

ANSWERED = "answered"
HANDED_TO_PERSON = "handed_to_person"
CALLBACK = "callback"
ABANDONED = "abandoned"
NOT_UNDERSTOOD = "not_understood"
OUTCOMES = (ANSWERED, HANDED_TO_PERSON, CALLBACK, ABANDONED, NOT_UNDERSTOOD)

# Transfer reasons that mean the help line gave up, not that the caller wanted a person.
GAVE_UP = frozenset({"not_understood", "no_input"})
# Steps that send the caller to support by giving its number: the caller asked how to reach
# support, or the help page leaves the matter to support (no answer here, a reset that failed,
# a verification not passed).
TO_SUPPORT = ("support_hours", "no_answer", "reset_failed", "verify_failed")
# What lasts once reached: later turns do not undo a person or a callback.
LASTING = frozenset({HANDED_TO_PERSON, NOT_UNDERSTOOD, CALLBACK})


@dataclass(frozen=True)
class Marks:
    """The prompt keys that tell, in a turn's actions, what the turn did (from the flow)."""

    answers: frozenset[str]  # an answer from the help page, or the digits read back
    to_support: frozenset[str]  # support's number given (TO_SUPPORT)
    closed: frozenset[str]  # support closed when a transfer was due

    @classmethod
    def of(cls, flow: Flow) -> Marks:
        states = flow.states
        answers = {
            key
            for spec in states.values()
            if spec.type == "read_back"
            or (spec.type == "answer" and spec.name != flow.start and not _verifies(flow, spec))
            for key in _said(spec)
        }
        to_support = {key for name in TO_SUPPORT if name in states for key in _said(states[name])}
        closed_state = states.get(flow.special.get("on_support_closed", ""))
        closed = _said(closed_state) if closed_state is not None else set()
        return cls(frozenset(answers - to_support), frozenset(to_support), frozenset(closed))


def _said(spec: StateSpec) -> set[str]:
    """The prompt keys a state may say on entering: its own, the first time's, or the one
    for a caller who cannot be texted."""
    return {getattr(spec, name, "") for name in ("say", "first_say", "say_no_text")} - {""}


def _verifies(flow: Flow, answer: StateSpec) -> bool:
    """An "answer" that only explains the verification that follows is not the answer yet."""
    after = flow.states.get(answer.next)
    return after is not None and bool(after.collect)


def progress(previous: str, state: State, turn: Turn, marks: Marks) -> str:
    """The lasting part of the outcome after this turn (stored in State.outcome)."""
    actions = turn.actions
    if previous == CALLBACK or any(isinstance(a, RequestCallback) for a in actions):
        return CALLBACK
    transfer = next((a for a in actions if isinstance(a, Transfer)), None)
    if transfer is not None:
        return NOT_UNDERSTOOD if transfer.reason in GAVE_UP else HANDED_TO_PERSON
    keys = {a.key for a in actions if isinstance(a, Say | Ask)}
    if keys & marks.closed:  # a transfer was due, but support is closed
        return NOT_UNDERSTOOD if state.transfer_reason in GAVE_UP else HANDED_TO_PERSON
    if previous in LASTING:
        return previous
    if keys & marks.to_support:
        return HANDED_TO_PERSON
    if keys & marks.answers or any(isinstance(a, SendText) for a in actions):
        return ANSWERED
    return previous


def outcome_of(state: State | None) -> str:
    """The conversation's outcome if it ended now."""
    if state is None:
        return ABANDONED
    if state.outcome in LASTING:
        return state.outcome
    if state.no_match:  # the last words were not understood, and nothing since
        return NOT_UNDERSTOOD
    return ANSWERED if state.outcome == ANSWERED else ABANDONED

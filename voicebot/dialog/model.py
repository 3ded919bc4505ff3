"""The dialog's vocabulary: what comes in (Event), what is remembered (State), what goes out.

All channel-neutral: the voice and SMS channels translate Twilio's form fields into an Event
and render the actions back into TwiML.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Channel = Literal["voice", "sms"]
EventKind = Literal["start", "input", "silence", "dial_result"]


@dataclass(frozen=True)
class Event:
    """One thing the caller did: started, said or pressed something, stayed silent."""

    kind: EventKind
    channel: Channel
    text: str = ""
    digits: str = ""
    confidence: float | None = None
    caller: str | None = None  # E.164, or None when withheld; never proof of identity
    dial_status: str = ""
    conversation: str = ""  # the session key, for the verifier's one-time codes
    request_id: str = ""  # CallSid or MessageSid, for the disclosure record
    stir: str = ""  # STIR/SHAKEN attestation of the caller ID: recorded, never trusted
    now: float = 0.0  # seconds since the epoch, from the channel (the engine reads no clock)
    support_open: bool | None = None  # None: support's hours are not configured
    # A code text of this conversation is known not to have arrived (Twilio's status
    # callback said so); set by the channel adapter, read at the code question only.
    code_undelivered: bool = False


@dataclass
class State:
    """What the help line remembers about one conversation between turns.

    Kept in the session store only; never read from URLs or form fields.
    """

    step: str
    lang: str
    turn: int = 0
    no_input: int = 0
    no_match: int = 0
    topic: str = ""  # the last topic answered, for texting it and for the agent
    topics: list[str] = field(default_factory=list)  # topics asked about, oldest first
    pending: str = ""  # a state awaiting the caller's confirmation
    also: str = ""  # a second request made in the same breath, offered after the answer
    replay: list[str] = field(default_factory=list)  # prompt keys said last turn, for "repeat"
    transfer_reason: str = ""
    verified: bool = False
    # How far the last-four verification got, for the agent (see VERIFICATION_NOTES):
    # never whether the details matched, which the help line itself does not know.
    verification: str = ""
    handoff: int = 0  # the reference of the last transfer, shared with the agent
    student: str = ""  # a student number being verified; cleared once the birth date is in
    asked_at: float = 0.0  # when the current verification question was asked
    outcome: str = ""  # how it turned out so far, the lasting part (dialog.outcomes)
    counted_on: str = ""  # the district's day (ISO) the statistics count it on

    def to_dict(self) -> dict[str, Any]:
        # Flat fields only (lists of strings): cheaper than dataclasses.asdict's deep copy.
        return {
            name: list(value) if isinstance(value, list) else value
            for name, value in vars(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        known = _STATE_FIELDS
        return cls(**{key: value for key, value in data.items() if key in known})


_STATE_FIELDS = frozenset(f.name for f in fields(State))

# What the agent is told of a verification: whispered briefly, written in full on the console.
VERIFICATION_NOTES: dict[str, tuple[str, str]] = {
    "code_texted": (
        "details given, no code entered",
        "student number and birth date given; a code was texted to the phone on file if they "
        "matched; no code entered yet",
    ),
    "code_wrong": ("a wrong code was entered", "a wrong code was entered (tries are left)"),
    "code_called": (
        "details given, code called",
        "student number and birth date given; the caller asked for the code by phone call, "
        "so it was said in a call to the phone on file if they matched; no code entered yet",
    ),
    "refused": (
        "not passed, too many tries",
        "not passed: too many tries, an expired code, or the student or this number is "
        "locked for 24 hours",
    ),
    "read_back": (
        "passed, last four digits already read",
        "passed (the code sent to the phone on file matched); the last four digits were read "
        "to the caller",
    ),
    "no_number": (
        "passed, no last four digits on file",
        "passed (the code sent to the phone on file matched), but no last four digits are on file",
    ),
}


class CodeResult(enum.Enum):
    """How a one-time code check ended (the verifier's answer to the dialog)."""

    OK = "ok"
    WRONG = "wrong"  # tries left
    EXHAUSTED = "exhausted"  # no code pending, expired, 3 tries used, or locked


class CallResult(enum.Enum):
    """How a request to have the pending code said in a phone call ended. CALLING also when
    the details did not match (nothing is called then): the caller hears the same words."""

    CALLING = "calling"
    LIMIT = "limit"  # this code was already called as often as it may be
    NONE = "none"  # no code is pending (expired or used up): start again
    UNAVAILABLE = "unavailable"  # the help line cannot place calls


@dataclass(frozen=True)
class Say:
    """Words for the caller: spoken on a call, part of the reply on SMS."""

    text: str
    key: str = ""  # the prompt key it came from, for logs and tests


@dataclass(frozen=True)
class Ask:
    """A question; the conversation waits for the caller's answer."""

    text: str
    key: str = ""
    hints: tuple[str, ...] = ()
    num_digits: int | None = None  # when the answer has a known length
    digits: bool = False  # the answer is a number: keypad first, ended by #
    patient: bool = False  # "take your time": a call waits longer for the answer


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a person at support, with the reason for the agent."""

    text: str
    reason: str
    topic: str = ""


@dataclass(frozen=True)
class SendText:
    """Text the caller's phone (voice only): details too long to listen to."""

    body: str
    topic: str = ""


@dataclass(frozen=True)
class RequestCallback:
    """Ask support to call the caller back (the caller's number, topic and language)."""

    topic: str = ""


@dataclass(frozen=True)
class End:
    """Say goodbye and end the conversation."""

    text: str


Action = Say | Ask | Transfer | SendText | RequestCallback | End


@dataclass(frozen=True)
class Turn:
    """The engine's answer to one event."""

    actions: tuple[Action, ...]
    state: State
    intent: str = ""  # what the caller's words were understood as, for logs and statistics

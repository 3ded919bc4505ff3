"""Conversation tests written as plain-text transcripts (flows/tests/*.txt).

A transcript is a call or a text thread, line by line: what the caller says, presses or
texts, and what the help line must (or must not) say back. See docs/flows-tests.md for the
format. `parse` reads a file into steps with their line numbers; `run_file` plays it against
a fresh help line built in a temporary folder (its own SQLite file, outbox and in-process
Redis stand-in) and returns the failures, each naming `file:line`.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from voicebot.cli.simulator import Heard, Outbox, SignedClient, read_twiml, throwaway_token
from voicebot.config import ConfigError, Settings, load_settings
from voicebot.phones import ANONYMOUS, PhoneError, parse_phone, redact

DEFAULT_CALLER = "+14045550123"
HELPLINE = "+14045550100"
ROSTER_FILE = "roster.csv"

# Lines without a colon (or with nothing after it): what they mean.
BARE = {
    "silence": "silence",
    "support answers": "answered",
    "support does not answer": "unanswered",
    "support doesn't answer": "unanswered",
    "transfer": "transfer",
    "hangup": "hangup",
    "hang up": "hangup",
    "no reply": "no_reply",
    "no text": "no_text",
    "no call": "no_call",
}
# Lines `key: value`: what the key means.
KEYED = {
    "caller": "say",
    "press": "press",
    "bot": "expect",
    "bot!": "expect_not",
    "text to guardian": "text",
    "call to guardian": "call",
}
HEADER = ("channel", "caller", "roster")
ACTIONS = {"say", "press", "silence", "answered", "unanswered"}
VOICE_ONLY = {"press", "silence", "answered", "unanswered", "hangup"}
CODE = "{code}"


@dataclass(frozen=True)
class Step:
    """One line of a transcript: an action of the caller or an expectation."""

    line: int
    kind: str  # a value of BARE or KEYED
    text: str = ""


@dataclass(frozen=True)
class Failure:
    """What went wrong, and where: `file:line: message` (line 0: the file as a whole)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


@dataclass
class Transcript:
    """A parsed transcript: its header, its steps, and the lines that could not be read."""

    path: Path
    channel: str = "voice"
    caller: str = DEFAULT_CALLER  # what Twilio sends as From ("anonymous" when withheld)
    roster: str | None = None  # a CSV file next to the transcript
    steps: list[Step] = field(default_factory=list)
    errors: list[Failure] = field(default_factory=list)


@dataclass
class Result:
    """The outcome of running one transcript."""

    path: Path
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


# ---- reading -----------------------------------------------------------------------------


def _split(line: str) -> tuple[str, str]:
    """`key: value` -> (key, value), the key lower-cased; a bare line -> (its words, "")."""
    key, _, value = line.partition(":")
    key = " ".join(key.lower().split()).rstrip(".")
    return key, value.strip()


def _header(transcript: Transcript, key: str, value: str) -> bool:
    """Apply a header line; False if this is not one (e.g. `caller:` with words)."""
    if key == "channel":
        if value.lower() not in ("voice", "sms"):
            raise ValueError(f'channel must be "voice" or "sms", not "{value}"')
        transcript.channel = value.lower()
        return True
    if key == "roster":
        answer = value.lower()
        if answer in ("yes", "no"):
            transcript.roster = ROSTER_FILE if answer == "yes" else None
        elif answer.endswith(".csv") and "/" not in answer:
            transcript.roster = value
        else:
            raise ValueError(f'roster must be "yes", "no" or a .csv file name, not "{value}"')
        return True
    if key == "caller":
        if value.lower() in ANONYMOUS or value.lower() in ("withheld", "hidden"):
            transcript.caller = "anonymous"
            return True
        if re.fullmatch(r"\+?[\d\s().-]{10,}", value):  # a phone number, not words
            try:
                transcript.caller = parse_phone(value)
            except PhoneError as exc:
                raise ValueError(f'caller "{value}": {exc}') from exc
            return True
    return False


def _step(transcript: Transcript, key: str, value: str, number: int) -> Step:
    """The step a conversation line stands for; ValueError says what is wrong with it."""
    if key in BARE and not value:
        kind = BARE[key]
    elif key in KEYED:
        kind = KEYED[key]
    elif key in HEADER:
        raise ValueError(f"{key}: belongs in the header, before the conversation starts")
    else:
        close = difflib.get_close_matches(key, [*BARE, *KEYED], n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ValueError(f'cannot read "{key}"{hint}; see docs/flows-tests.md for the lines')
    if kind in VOICE_ONLY and transcript.channel == "sms":
        raise ValueError(f'"{key}" is only for calls (this transcript is channel: sms)')
    if kind in KEYED.values() and not value and kind not in ("text", "call"):
        raise ValueError(f'"{key}:" needs some words after the colon')
    if kind == "press":
        value = value.replace(" ", "")
        if not re.fullmatch(r"(?:[0-9*#]|\{code\})+", value):
            raise ValueError(f'press: keys are 0-9, * and # (or {CODE}), not "{value}"')
    return Step(number, kind, value)


def _check_order(transcript: Transcript, step: Step) -> None:
    """An expectation in a text thread needs a text before it to answer."""
    acted = any(s.kind in ACTIONS for s in transcript.steps)
    if transcript.channel == "sms" and not acted and step.kind not in ACTIONS:
        raise ValueError("nothing has been texted yet: start with a caller: line")


def parse(text: str, path: Path) -> Transcript:
    """Read a transcript; lines that cannot be read are listed in `errors`, not raised."""
    transcript = Transcript(path)
    in_header = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if re.fullmatch(r"#\s*[0-9*]+", line):  # `voicebot chat`'s "#1" is a comment here
            kind = "caller" if transcript.channel == "sms" else "press"
            message = f'"{line}" is a comment; for a key press write: {kind}: {line.lstrip("# ")}'
            transcript.errors.append(Failure(path, number, message))
            continue
        if not line or line.startswith("#"):
            continue
        key, value = _split(line)
        try:
            if in_header and key in HEADER and _header(transcript, key, value):
                continue
            in_header = False
            step = _step(transcript, key, value, number)
            _check_order(transcript, step)
            transcript.steps.append(step)
        except ValueError as exc:
            transcript.errors.append(Failure(path, number, str(exc)))
    if not transcript.steps and not transcript.errors:
        transcript.errors.append(Failure(path, 0, "no conversation in this file"))
    return transcript


# ---- comparing ---------------------------------------------------------------------------


def normal(text: str) -> str:
    """For comparing: no capitals, accents, curly quotes or extra spaces, and the digits of
    a number joined (404-802-1000 and the voice's "4 0 4, 8 0 2, 1 0 0 0" read the same)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = text.replace("\u201d", '"')
    text = re.sub(r"(?<=\d)[\s,.()-]+(?=\d)", "", text)
    return " ".join(text.split())


def contains(haystack: str, needle: str) -> bool:
    return normal(needle) in normal(haystack)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# ---- playing -----------------------------------------------------------------------------


@dataclass
class Turn:
    """What the help line did in answer to one caller line (or at the start of a call)."""

    after: int  # the line it answers (0: the start of the call)
    heard: Heard = field(default_factory=Heard)
    status: int = 200
    texts: list[dict[str, str]] = field(default_factory=list)  # sent to any phone
    calls: list[dict[str, str]] = field(default_factory=list)  # placed: the words they said

    @property
    def said(self) -> str:
        return " ".join(self.heard.said + self.heard.messages)

    def describe(self) -> str:
        return f'"{self.said}"' if self.said else "nothing"

    def describe_texts(self) -> str:
        """The texts, for a failure report: the number as its last digits and a one-time
        code as {code} (a transcript's roster could be a copy of a real one)."""
        if not self.texts:
            return "no text was sent"
        return "; ".join(
            f'to {redact(t["to"])}: "{_CODE.sub("{code}", t["body"])}"' for t in self.texts
        )

    def describe_calls(self) -> str:
        """The calls placed, for a failure report: the code they said as {code}."""
        if not self.calls:
            return "no call was placed"
        return "; ".join(
            f'to {redact(c["to"])}: "{_SPOKEN_CODE.sub("{code}", c["body"])}"' for c in self.calls
        )


_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")  # a one-time code in a text
_SPOKEN_CODE = re.compile(r"(?<![\d,] )(?<!\d)\d(?:, \d){5}(?!\d)")  # "1, 2, 3, 4, 5, 6" in a call


def _code_in(message: dict[str, str]) -> str | None:
    """The last one-time code a text or a call carried (a call says it digit by digit)."""
    if message.get("channel") == "voice":
        found = [digits(code) for code in _SPOKEN_CODE.findall(message["body"])]
    else:
        found = _CODE.findall(message["body"])
    return found[-1] if found else None


class Player:
    """Plays a transcript's steps against the app, remembering the help line's last turn."""

    def __init__(self, app: Flask, transcript: Transcript, token: str, support: str) -> None:
        self.client = SignedClient(app, token)
        self.outbox = Outbox(app.extensions["voicebot"].settings.outbox)
        self.transcript = transcript
        self.support = support
        self.base = {
            "CallSid": "CA" + secrets.token_hex(16),
            "From": transcript.caller,
            "To": HELPLINE,
            "AccountSid": "AC" + "0" * 32,
        }
        self.turn: Turn | None = None
        self.code: str | None = None

    def begin(self) -> None:
        """A call starts with the help line's greeting; a text thread with the caller."""
        if self.transcript.channel == "voice":
            self._post(0, "/voice", self.base | {"CallStatus": "ringing", "Direction": "inbound"})

    def _post(self, line: int, path: str, fields: dict[str, str]) -> None:
        response = self.client.post(path, fields)
        sent = self.outbox.new()
        turn = Turn(line, status=response.status_code)
        turn.texts = [m for m in sent if m.get("channel") != "voice"]
        turn.calls = [m for m in sent if m.get("channel") == "voice"]
        if response.status_code == 200:
            turn.heard = read_twiml(response.get_data(as_text=True))
        for message in sent:
            self.code = _code_in(message) or self.code
        self.turn = turn

    def _fill(self, words: str) -> str:
        if CODE not in words:
            return words
        if self.code is None:
            raise ValueError(f"{CODE}: no one-time code has been texted or called yet")
        return words.replace(CODE, self.code)

    def act(self, step: Step) -> str | None:
        """Do what the caller does; a message if it cannot be done at this point."""
        try:
            words = self._fill(step.text)
        except ValueError as exc:
            return str(exc)
        if self.transcript.channel == "sms":
            fields = {
                "MessageSid": "SM" + secrets.token_hex(16),
                "From": self.transcript.caller,
                "To": HELPLINE,
                "Body": words,
                "NumMedia": "0",
            }
            self._post(step.line, "/sms", fields)
            return None
        return self._voice(step, words)

    def _voice(self, step: Step, words: str) -> str | None:
        heard = self.turn.heard if self.turn else Heard()
        if step.kind in ("answered", "unanswered"):
            if not heard.dialed:
                return "no transfer is ringing here: the help line did not transfer the call"
            status = "completed" if step.kind == "answered" else "no-answer"
            self._post(
                step.line,
                heard.dial_action or "/voice/dial",
                self.base | {"DialCallStatus": status},
            )
            return None
        if heard.dialed:
            return (
                "the call is being transferred: write `support answers` or "
                "`support does not answer` first"
            )
        if not heard.gather_action:
            return "the call has already ended"
        fields = dict(self.base)
        if step.kind == "press":
            fields["Digits"] = words
        elif step.kind == "say":
            fields |= {"SpeechResult": words, "Confidence": "0.9"}
        self._post(step.line, heard.gather_action, fields)
        return None

    def check(self, step: Step) -> str | None:
        """An expectation about the last turn; a message saying how it failed, or None."""
        turn = self.turn or Turn(0)
        if turn.status != 200:
            return f"the help line answered with an HTTP {turn.status} error"
        return CHECKS[step.kind](self, turn, step.text)


def _expect(player: Player, turn: Turn, words: str) -> str | None:
    if contains(turn.said, words):
        return None
    return f'expected the help line to say "{words}"; it said {turn.describe()}'


def _expect_not(player: Player, turn: Turn, words: str) -> str | None:
    everything = " ".join([turn.said, *(t["body"] for t in turn.texts + turn.calls)])
    if not contains(everything, words):
        return None
    texts = f" ({turn.describe_texts()})" if turn.texts else ""
    texts += f" ({turn.describe_calls()})" if turn.calls else ""
    return f'the help line must not say "{words}", but it did; it said {turn.describe()}{texts}'


def _text(player: Player, turn: Turn, words: str) -> str | None:
    if any(contains(t["body"], words) for t in turn.texts):
        return None
    wanted = f'a text containing "{words}"' if words else "a text"
    return f"expected {wanted} to be sent; {turn.describe_texts()}"


def _no_text(player: Player, turn: Turn, words: str) -> str | None:
    return f"expected no text; {turn.describe_texts()}" if turn.texts else None


def _call(player: Player, turn: Turn, words: str) -> str | None:
    if any(contains(c["body"], words) for c in turn.calls):
        return None
    wanted = f'a call saying "{words}"' if words else "a call"
    return f"expected {wanted} to be placed; {turn.describe_calls()}"


def _no_call(player: Player, turn: Turn, words: str) -> str | None:
    return f"expected no call; {turn.describe_calls()}" if turn.calls else None


def _transfer(player: Player, turn: Turn, words: str) -> str | None:
    if player.transcript.channel == "sms":
        if digits(player.support)[-10:] in digits(turn.said):
            return None
        return f"expected support's number in the reply; it said {turn.describe()}"
    if turn.heard.dialed and digits(turn.heard.dialed) == digits(player.support):
        return None
    if turn.heard.dialed:
        return f"expected a transfer to support; it dialed {turn.heard.dialed}"
    return f"expected a transfer to support; it did not transfer, it said {turn.describe()}"


def _hangup(player: Player, turn: Turn, words: str) -> str | None:
    heard = turn.heard
    if heard.hung_up or not (heard.gather_action or heard.dialed):
        return None
    return f"expected the call to end; it went on, it said {turn.describe()}"


def _no_reply(player: Player, turn: Turn, words: str) -> str | None:
    return f"expected no reply; it said {turn.describe()}" if turn.said else None


CHECKS = {
    "expect": _expect,
    "expect_not": _expect_not,
    "text": _text,
    "no_text": _no_text,
    "call": _call,
    "no_call": _no_call,
    "transfer": _transfer,
    "hangup": _hangup,
    "no_reply": _no_reply,
}


# ---- running -----------------------------------------------------------------------------


def transcript_settings(folder: Path, flows_dir: Path, token: str) -> Settings:
    """config/default.toml only (no VOICEBOT_CONFIG, no support hours), so a transcript's
    outcome does not depend on the server's settings or the time of day; everything the
    help line keeps goes into `folder`."""
    environ = {
        "TWILIO_AUTH_TOKEN": token,
        "DATABASE_URL": f"sqlite:///{folder / 'transcript.sqlite3'}",
        "VOICEBOT_OUTBOX": str(folder / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(folder / "instance"),
        "VOICEBOT_FLOWS_DIR": str(flows_dir),
    }
    return load_settings(environ, testing=True)


@contextlib.contextmanager
def fresh_app(flows_dir: Path, token: str) -> Iterator[Flask]:
    """A help line of its own in a temporary folder, removed afterwards."""
    from voicebot.app import create_app

    with tempfile.TemporaryDirectory(prefix="voicebot-transcript-") as folder:
        app = create_app(transcript_settings(Path(folder), flows_dir, token), upgrade_db=True)
        try:
            yield app
        finally:
            app.extensions["voicebot"].engine.dispose()


def _load_roster(app: Flask, transcript: Transcript) -> Failure | None:
    from voicebot.records.roster import RosterError, import_roster

    assert transcript.roster is not None
    path = transcript.path.parent / transcript.roster
    if not path.is_file():
        return Failure(transcript.path, 0, f"roster: {path} not found")
    try:
        result = import_roster(app.extensions["voicebot"].engine, path, workers=0)
    except RosterError as exc:
        return Failure(transcript.path, 0, f"roster {path}: {exc}")
    if not result.committed or result.errors:
        problems = "; ".join(str(e) for e in result.errors) or "not imported"
        return Failure(transcript.path, 0, f"roster {path}: {problems}")
    return None


def play(player: Player) -> list[Failure]:
    """Every step in order. After a failed expectation the other expectations of the same
    turn are still checked, then the run stops: later turns would only fail in its wake."""
    failures: list[Failure] = []
    path = player.transcript.path
    player.begin()
    for step in player.transcript.steps:
        if step.kind in ACTIONS:
            if failures:
                break
            problem = player.act(step)
        else:
            problem = player.check(step)
        if problem:
            failures.append(Failure(path, step.line, problem))
            if step.kind in ACTIONS:
                break
    return failures


def run_transcript(transcript: Transcript, flows_dir: Path) -> Result:
    """Play a parsed transcript against a fresh help line built from `flows_dir`."""
    if transcript.errors:
        return Result(transcript.path, list(transcript.errors))
    from voicebot.dialog.flow import FlowError

    token = throwaway_token()
    try:
        with fresh_app(flows_dir, token) as app:
            if transcript.roster and (problem := _load_roster(app, transcript)):
                return Result(transcript.path, [problem])
            support = app.extensions["voicebot"].settings.district.support_number
            player = Player(app, transcript, token, support)
            return Result(transcript.path, play(player))
    except (ConfigError, FlowError) as exc:
        return Result(transcript.path, [Failure(transcript.path, 0, f"help line: {exc}")])


def run_file(path: Path, flows_dir: Path) -> Result:
    """Read and play one transcript file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from Notepad is no line
    except (OSError, UnicodeDecodeError) as exc:
        return Result(path, [Failure(path, 0, f"cannot read the file: {exc}")])
    return run_transcript(parse(text, path), flows_dir)

"""What every test uses (as in CTFd's tests/helpers.py): the test numbers and roster,
settings for a temporary folder, and callers who talk to the help line over HTTP.

Fixtures live in tests/conftest.py; this module has none, so test files import from here.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from voicebot.cli.simulator import Heard, SignedClient, read_twiml
from voicebot.config import Settings, load_settings

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
CALLER = "+14045550123"
HELPLINE = "+14045550100"
# Twilio's known-good signature vector (twilio-python's own tests): token, URL, fields, signature.
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_FIELDS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SUPPORT = "+14048021000"

GUARDIAN_PHONE = "+14045550123"  # on file
OTHER_PHONE = "+14045550199"  # someone else's phone
STUDENT = "1234567"
BIRTH = "03142015"
SSN = "123-45-6789"

ROSTER = (
    "student_number,first_name,last_name,birth_date,ssn,guardian_name,guardian_phone,"
    "guardian_email,school\n"
    f"{STUDENT},Maria,Lopez,2015-03-14,{SSN},Ana Lopez,(404) 555-0123,ana@example.org,Grady HS\n"
    "7654321,Sam,Lee,2013-11-02,987654321,Kim Lee,404.555.0177,,Jackson HS\n"
    "5555555,Lee,Park,2014-06-01,,Jo Park,404-555-0188,,Grady HS\n"
)


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the captured log records say: formatted lines, messages, args and string
    extras; not their timestamps and process ids, whose digits can match a secret by chance."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(f"{record.getMessage()} {record.args!r}")
        parts += [value for value in vars(record).values() if isinstance(value, str)]
    return " ".join(parts)


def redis_test_url() -> str:
    """REDIS_URL, but database 15: tests flush it, so they never touch the data in 0."""
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit(parts._replace(path="/15"))


def settings_in(folder: Path, flush_redis: bool = True) -> Settings:
    """Test settings: a SQLite file and an outbox in `folder`, Redis if REDIS_URL is set."""
    environ = {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DATABASE_URL": f"sqlite:///{folder / 'test.sqlite3'}",
        "VOICEBOT_OUTBOX": str(folder / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(folder / "instance"),
    }
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = redis_test_url()
        if flush_redis:
            redis.Redis.from_url(environ["REDIS_URL"]).flushdb()  # each test starts clean
    return load_settings(environ, testing=True)


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]


class Reply:
    """One answer from the help line, readable in tests."""

    def __init__(self, response) -> None:  # type: ignore[no-untyped-def]
        self.status = response.status_code
        self.xml = response.get_data(as_text=True)
        self.heard: Heard = read_twiml(self.xml) if self.status == 200 else Heard()

    @property
    def text(self) -> str:
        return " ".join(self.heard.said + self.heard.messages)

    @property
    def asks(self) -> bool:
        return self.heard.gather_action is not None

    @property
    def transfers_to(self) -> str | None:
        return self.heard.dialed

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.xml})"


class Call:
    """A parent on the phone: calls, says, presses, stays silent."""

    def __init__(self, twilio: SignedClient, caller: str = CALLER, **extra: str) -> None:
        self.twilio = twilio
        self.base = {"CallSid": "CA" + secrets.token_hex(16), "From": caller, "To": HELPLINE}
        self.base |= extra
        self.last: Reply | None = None

    def _post(self, path: str, fields: dict[str, str]) -> Reply:
        self.last = Reply(self.twilio.post(path, self.base | fields))
        return self.last

    def start(self) -> Reply:
        return self._post("/voice", {"CallStatus": "ringing", "Direction": "inbound"})

    def _action(self) -> str:
        assert self.last is not None and self.last.heard.gather_action, (
            "the help line asked nothing"
        )
        return self.last.heard.gather_action

    def say(self, words: str, confidence: str = "0.92") -> Reply:
        return self._post(self._action(), {"SpeechResult": words, "Confidence": confidence})

    def press(self, keys: str) -> Reply:
        return self._post(self._action(), {"Digits": keys})

    def silence(self) -> Reply:
        return self._post(self._action(), {})

    def dial_ends(self, status: str) -> Reply:
        assert self.last is not None and self.last.heard.dial_action, "no transfer to end"
        return self._post(self.last.heard.dial_action, {"DialCallStatus": status})


class Thread:
    """A parent texting the help line."""

    def __init__(self, twilio: SignedClient, sender: str = CALLER) -> None:
        self.twilio = twilio
        self.sender = sender

    def text(self, body: str, **extra: str) -> Reply:
        fields = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": self.sender,
            "To": HELPLINE,
            "Body": body,
            "NumMedia": "0",
        } | extra
        return Reply(self.twilio.post("/sms", fields))


def edit(path: Path, old: str, new: str) -> None:
    """Change one place of a copied flows/ file, failing loudly if it is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def upgrade_database(environ: dict[str, str]) -> None:
    """`voicebot db upgrade` in a fresh interpreter, as a deployment runs it before serving."""
    from voicebot.config import REPO_ROOT

    upgrade = subprocess.run(
        [sys.executable, "-m", "voicebot.cli", "db", "upgrade"],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

"""Talk to the help line in a terminal, through the same signed webhooks Twilio uses.

No Twilio account and no server: requests go to the app in-process with Flask's test client,
signed with the configured auth token (or a throwaway one), and the TwiML that comes back is
read the way Twilio would: say what is said, wait where it gathers, follow dials and hangups.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from flask import Flask
from twilio.request_validator import RequestValidator

BASE_URL = "http://localhost"


@dataclass
class Heard:
    """What one webhook answer does, in caller's terms."""

    said: list[str] = field(default_factory=list)
    gather_action: str | None = None
    dialed: str | None = None
    dial_action: str | None = None
    hung_up: bool = False
    messages: list[str] = field(default_factory=list)


def read_twiml(xml: str) -> Heard:
    heard = Heard()
    root = ElementTree.fromstring(xml)
    for verb in root:
        if verb.tag == "Say":
            heard.said.append("".join(verb.itertext()).strip())
        elif verb.tag == "Gather":
            heard.said += ["".join(say.itertext()).strip() for say in verb.iter("Say")]
            heard.gather_action = verb.get("action")
            break  # Twilio waits here
        elif verb.tag == "Dial":
            numbers = [n.text or "" for n in verb.iter("Number")] or [verb.text or ""]
            heard.dialed = numbers[0].strip()
            heard.dial_action = verb.get("action")
            break
        elif verb.tag == "Hangup":
            heard.hung_up = True
            break
        elif verb.tag == "Message":
            heard.messages.append("".join(verb.itertext()).strip())
    return heard


class SignedClient:
    """Posts form fields to the app exactly as Twilio would, signature included."""

    def __init__(self, app: Flask, auth_token: str) -> None:
        self.client = app.test_client()
        self.validator = RequestValidator(auth_token)

    def post(self, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
        signature = self.validator.compute_signature(BASE_URL + path, fields)
        return self.client.post(
            path, data=fields, headers={"X-Twilio-Signature": signature}, base_url=BASE_URL
        )


def throwaway_token() -> str:
    return secrets.token_hex(16)


class Outbox:
    """New lines in the outbox file: the texts the help line would have sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = self._count()

    def _count(self) -> int:
        if not self.path.exists():
            return 0
        return len(self.path.read_text(encoding="utf-8").splitlines())

    def new(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        fresh, self.seen = lines[self.seen :], len(lines)
        return [json.loads(line) for line in fresh]


def _sent_as(message: dict[str, str]) -> str:
    """How an outbox line went: a text, or a phone call that says a one-time code."""
    return "phone call" if message.get("channel") == "voice" else "text message"


def chat_voice(
    client: SignedClient,
    outbox: Outbox,
    caller: str,
    to: str,
    ask: Callable[[str], str | None],
    show: Callable[[str], None],
) -> None:
    """A phone call: type words to speak, #digits to press keys, an empty line for silence."""
    call_sid = "CA" + secrets.token_hex(16)
    base = {"CallSid": call_sid, "From": caller, "To": to, "AccountSid": "AC" + "0" * 32}
    response = client.post("/voice", base | {"CallStatus": "ringing", "Direction": "inbound"})
    for _ in itertools.count():
        heard = read_twiml(response.get_data(as_text=True))
        for text in heard.said:
            show(f"help line: {text}")
        for message in outbox.new():
            show(f"[{_sent_as(message)} to {message['to']}: {message['body']}]")
        if heard.dialed:
            show(f"[transferring the call to {heard.dialed}]")
            answer = ask("[did support answer? y/n] ")
            status = "completed" if (answer or "y").strip().lower().startswith("y") else "no-answer"
            if status == "completed":
                show("[you talk with support ... then the call continues]")
            response = client.post(
                heard.dial_action or "/voice/dial", base | {"DialCallStatus": status}
            )
            continue
        if heard.hung_up or not heard.gather_action:
            show("[call ended]")
            return
        line = ask("you: ")
        if line is None:
            show("[you hung up]")
            return
        fields = dict(base)
        line = line.strip()
        if line.startswith("#"):
            fields["Digits"] = line[1:]
        elif line:
            fields |= {"SpeechResult": line, "Confidence": "0.9"}
        response = client.post(heard.gather_action, fields)


def chat_sms(
    client: SignedClient,
    outbox: Outbox,
    sender: str,
    to: str,
    ask: Callable[[str], str | None],
    show: Callable[[str], None],
) -> None:
    """A text thread: each line is a text; an empty line or end of input stops. Texts the
    help line sends on its own (a verification code, to the guardian's phone on file) are
    shown as such, apart from its replies in the thread."""
    while True:
        line = ask("you: ")
        if line is None or not line.strip():
            return
        fields = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": sender,
            "To": to,
            "Body": line,
            "NumMedia": "0",
        }
        heard = read_twiml(client.post("/sms", fields).get_data(as_text=True))
        for message in heard.messages:
            show(f"help line: {message}")
        if not heard.messages:
            show("[no reply]")
        for message in outbox.new():
            show(f"[{_sent_as(message)} to {message['to']}: {message['body']}]")

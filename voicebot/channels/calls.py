"""Phone calls the help line places itself: only to say a one-time code to the phone on file.

A landline on file cannot get the code by text (Twilio error 30006), so a caller may ask for
it to be said in a call instead. The call's TwiML is built with twilio.twiml (a pause, the
words, goodbye), screened by the disclosure guard like every text (only the code may pass),
and counted against the same cap per number as texts (Outbound.count_delivery), so nobody
can make the district ring a family's phone over and over.

With a Twilio account configured the call goes out through Twilio's REST API
(``calls.create(twiml=...)``); otherwise one JSON line ``{"to", "body", "channel": "voice"}``
is appended to the outbox file, ``body`` being the words the call would say.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from twilio.twiml.voice_response import VoiceResponse

from voicebot.channels.outbound import Outbound, OutboxFile, Sent, rest_client
from voicebot.phones import redact
from voicebot.policy.guard import Guard

log = logging.getLogger("voicebot.calls")


class CallTransport(Protocol):
    def place(self, to: str, twiml: str, words: str) -> str | None:
        """Place one call that plays ``twiml`` (``words`` is what it says); its call SID
        (None when the transport gives none)."""
        ...


class OutboxCalls:
    """Calls as JSON lines in the outbox file the texts go to (no Twilio account)."""

    def __init__(self, path: Path) -> None:
        self.file = OutboxFile(path)

    def place(self, to: str, twiml: str, words: str) -> str | None:
        self.file.write({"to": to, "body": words, "channel": "voice"})
        return None


class TwilioCalls:
    """Twilio's REST API: ``calls.create`` with the TwiML inline (no webhook to answer)."""

    def __init__(
        self, account_sid: str, auth_token: str, sender: str, http_client: object | None = None
    ) -> None:
        self.client = rest_client(account_sid, auth_token, http_client)
        self.sender = sender

    def place(self, to: str, twiml: str, words: str) -> str | None:
        call = self.client.calls.create(to=to, from_=self.sender, twiml=twiml)
        return call.sid


class CodeCalls:
    """The one way to say a code in a call: the guard and the cap per number, every time.

    ``voices``: language -> (Say voice, Say language), from the settings' say_voice and
    speech_language, so the code is said in the caller's language.
    """

    def __init__(
        self,
        transport: CallTransport,
        outbound: Outbound,
        guard: Guard,
        voices: Mapping[str, tuple[str, str]],
    ) -> None:
        self.transport = transport
        self.outbound = outbound
        self.guard = guard
        self.voices = dict(voices)

    def twiml(self, words: str, lang: str) -> str:
        """A second's pause (the phone is picked up), the words, and the end of the call."""
        voice, language = self.voices.get(lang) or next(iter(self.voices.values()))
        response = VoiceResponse()
        response.pause(length=1)
        response.say(words, voice=voice, language=language)
        response.hangup()
        return str(response)

    def say_code(self, to: str, words: str, code: str, lang: str) -> Sent:
        """Call ``to`` and say ``words``, which carry ``code`` (and nothing else secret)."""
        twiml = self.twiml(words, lang)
        if not self.guard.check(twiml, where="outbound call", allow=code):
            return Sent.BLOCKED
        counted = self.outbound.count_delivery(to)
        if counted is not Sent.SENT:
            return counted
        try:
            sid = self.transport.place(to, twiml, words)
        except Exception:  # a failed call must not fail the turn that asked for it
            log.exception("call to %s failed", redact(to))
            return Sent.FAILED
        log.info("called %s to say a code", redact(to), extra={"call_sid": sid})
        return Sent.SENT

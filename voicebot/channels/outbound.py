"""Texts the help line starts itself (e.g. a link texted during a call).

With a Twilio account configured they go out through Twilio's REST API; otherwise each is
appended as one JSON line to the outbox file, so development and tests see exactly what
would have been sent.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from voicebot.phones import redact
from voicebot.policy.guard import Guard
from voicebot.records.optouts import OptOuts

log = logging.getLogger("voicebot.outbound")


class Transport(Protocol):
    def deliver(self, to: str, body: str) -> None: ...


class OutboxFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def deliver(self, to: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": to, "body": body}, ensure_ascii=False)
        # Texts may carry one-time codes: readable by this user only.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)  # a file made earlier, by hand or an older version
        with self._lock, open(descriptor, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class TwilioMessages:
    def __init__(self, account_sid: str, auth_token: str, sender: str) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # A slow Twilio API must not hold a call's turn past Twilio's own webhook timeout.
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=3))
        self.sender = sender

    def deliver(self, to: str, body: str) -> None:
        self.client.messages.create(to=to, from_=self.sender, body=body)


class Outbound:
    """The one way to text someone: opt-outs and the guard are checked here, every time."""

    def __init__(self, transport: Transport, optouts: OptOuts, guard: Guard) -> None:
        self.transport = transport
        self.optouts = optouts
        self.guard = guard

    def opted_out(self, to: str) -> bool:
        """Whether ``to`` texted STOP (and not START since): nothing is sent to it."""
        return self.optouts.has(to)

    def send(self, to: str, body: str, allow: str | None = None) -> bool:
        """Text ``body`` to ``to``. ``allow`` is the one secret this body is meant to carry
        (the one-time code in the message that delivers it): the guard lets exactly that
        digit string through, and still blocks anything else secret-looking."""
        if self.opted_out(to):
            log.info("not texting %s: opted out", redact(to))
            return False
        if not self.guard.check(body, where="outbound text", allow=allow):
            return False
        try:
            self.transport.deliver(to, body)
        except Exception:  # a failed text must not fail the call that asked for it
            log.exception("text to %s failed", redact(to))
            return False
        log.info("texted %s (%d characters)", redact(to), len(body))
        return True

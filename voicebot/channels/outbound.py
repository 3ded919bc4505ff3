"""Texts the help line starts itself (e.g. a link texted during a call).

With a Twilio account configured they go out through Twilio's REST API; otherwise each is
appended as one JSON line to the outbox file, so development and tests see exactly what
would have been sent.

Caller ID can be spoofed, so anyone could make the district's number text a stranger over
and over ("yes, text it" thirty times). Every text, one-time codes included, therefore
counts against a cap per destination number (TextLimits: per hour and per day), kept in
Redis so it holds across calls, conversations and web processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

import redis as redis_lib

from voicebot.phones import redact
from voicebot.policy.guard import Guard
from voicebot.records.optouts import OptOuts

log = logging.getLogger("voicebot.outbound")

PREFIX = "vb:texts:"
HOUR, DAY = 3600, 24 * 3600
MARGIN = 3600  # Redis keeps keys this much longer than the windows need them

# KEYS: the texts sent to one number (sorted set: text id -> time sent). ARGV: now, text id,
# hour start, day start (both exclusive), per hour, per day, seconds to keep the key.
# Checking and counting in one script: two processes at once cannot both take the last text.
_COUNT_TEXT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then return 0 end
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf') >= tonumber(ARGV[5]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
"""


class Sent(Enum):
    """What became of one text: sent, or why not."""

    SENT = "sent"
    OPTED_OUT = "opted_out"  # the number texted STOP
    BLOCKED = "blocked"  # the disclosure guard stopped it
    LIMITED = "limited"  # the number had its texts for this hour or day
    FAILED = "failed"  # Twilio (or Redis) refused or failed


@dataclass(frozen=True)
class TextLimits:
    """How many texts one number may get from the help line ([limits] in the settings)."""

    per_hour: int = 3
    per_day: int = 10


def _pseudonym(value: str, key: bytes) -> str:
    """Keeps phone numbers out of Redis key names. Keyed (HMAC, with the secret key): a plain
    hash of a phone number is reversed by trying every number."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


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
    """The one way to text someone: opt-outs, the guard and the cap per number are checked
    here, every time.

    ``redis``: where the texts sent to each number are counted (build_services always gives
    the store's; without one, as in some unit tests, nothing is capped).
    """

    def __init__(
        self,
        transport: Transport,
        optouts: OptOuts,
        guard: Guard,
        redis: redis_lib.Redis | None = None,
        limits: TextLimits | None = None,
        clock: Callable[[], float] = time.time,
        key: str = "",
    ) -> None:
        self.transport = transport
        self.key = (key or "outbound").encode()
        self.optouts = optouts
        self.guard = guard
        self.redis = redis
        self.limits = limits or TextLimits()
        self.clock = clock
        self._count_text = redis.register_script(_COUNT_TEXT) if redis is not None else None

    def opted_out(self, to: str) -> bool:
        """Whether ``to`` texted STOP (and not START since): nothing is sent to it."""
        return self.optouts.has(to)

    def send(self, to: str, body: str, allow: str | None = None) -> bool:
        """Text ``body`` to ``to``; whether it went (see :meth:`attempt` for why not)."""
        return self.attempt(to, body, allow) is Sent.SENT

    def attempt(self, to: str, body: str, allow: str | None = None) -> Sent:
        """Text ``body`` to ``to``, or say why not. ``allow`` is the one secret this body is
        meant to carry (the one-time code in the message that delivers it): the guard lets
        exactly that digit string through, and still blocks anything else secret-looking."""
        if self.opted_out(to):
            log.info("not texting %s: opted out", redact(to))
            return Sent.OPTED_OUT
        if not self.guard.check(body, where="outbound text", allow=allow):
            return Sent.BLOCKED
        counted = self._count(to)
        if counted is not Sent.SENT:
            return counted
        try:
            self.transport.deliver(to, body)
        except Exception:  # a failed text must not fail the call that asked for it
            log.exception("text to %s failed", redact(to))
            return Sent.FAILED
        log.info("texted %s (%d characters)", redact(to), len(body))
        return Sent.SENT

    def _count(self, to: str) -> Sent:
        """Count one more text to ``to`` if its cap allows (SENT), else LIMITED. Counted
        before delivery, and kept when delivery fails: a timed-out request to Twilio may
        still have sent it. Fails closed: without Redis to count in, nothing goes."""
        if self._count_text is None:
            return Sent.SENT
        now = self.clock()
        args = [repr(now), secrets.token_hex(8), repr(now - HOUR), repr(now - DAY)]
        args += [self.limits.per_hour, self.limits.per_day, DAY + MARGIN]
        try:
            allowed = self._count_text(keys=[self._key("sent", to)], args=args)
        except redis_lib.RedisError:
            log.exception("not texting %s: the texts it had could not be counted", redact(to))
            return Sent.FAILED
        if not allowed:
            log.warning("not texting %s: it had its texts for now (cap per number)", redact(to))
            return Sent.LIMITED
        return Sent.SENT

    def _key(self, kind: str, ident: str) -> str:
        return f"{PREFIX}{kind}:{_pseudonym(f'{kind}:{ident}', self.key)}"

    def first_limit_notice(self, conversation: str) -> bool:
        """True the first time a conversation is told its number had its texts, so the
        explanation is said once and later refusals are the plain "can't send a text"."""
        if self.redis is None:
            return True
        try:
            return bool(self.redis.set(self._key("told", conversation), "1", nx=True, ex=DAY))
        except redis_lib.RedisError:
            log.exception("could not note that the text cap was explained")
            return False

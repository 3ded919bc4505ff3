"""Texts the help line starts itself (e.g. a link texted during a call).

With a Twilio account configured they go out through Twilio's REST API; otherwise each is
appended as one JSON line to the outbox file, so development and tests see exactly what
would have been sent.

Caller ID can be spoofed, so anyone could make the district's number text a stranger over
and over ("yes, text it" thirty times). Every text, one-time codes included, therefore
counts against a cap per destination number (TextLimits: per hour and per day), kept in
Redis so it holds across calls, conversations and web processes.

Every text asks Twilio to post its delivery outcome to our /sms/status (status_callback), and
its message SID is remembered with the conversation it belongs to (Deliveries): a code text
to a landline is accepted and then fails, and its conversation learns that it never arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis as redis_lib
from flask import has_request_context, request

from voicebot.channels.delivery import Deliveries, Kind
from voicebot.phones import redact
from voicebot.policy.guard import Guard
from voicebot.records.optouts import OptOuts

log = logging.getLogger("voicebot.outbound")

PREFIX = "vb:texts:"
HOUR, DAY = 3600, 24 * 3600
MARGIN = 3600  # Redis keeps keys this much longer than the windows need them
STATUS_PATH = "/sms/status"  # where Twilio posts what became of each text (sms_status)
INVALID_STATUS_CALLBACK = 21609  # Twilio's error for a StatusCallback it will not use

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
    calls_per_day: int = 3  # of those, calls that say a code: each rings a family's phone


def _pseudonym(value: str, key: bytes) -> str:
    """Keeps phone numbers out of Redis key names. Keyed (HMAC, with the secret key): a plain
    hash of a phone number is reversed by trying every number."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def status_callback_url(public_url: str) -> Callable[[], str | None]:
    """Where Twilio should post each text's delivery outcome: the configured public URL, else
    the root of the webhook request being answered (texts are sent while handling one). With
    neither (no public URL and no request, e.g. a script), None: the text still goes."""

    def url() -> str | None:
        if public_url:
            return public_url.rstrip("/") + STATUS_PATH
        if has_request_context():
            return request.url_root.rstrip("/") + STATUS_PATH
        return None

    return url


class Transport(Protocol):
    def deliver(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        """Send one text; its message SID (None when the transport gives none)."""
        ...


class OutboxFile:
    """Texts as JSON lines in a file (no Twilio account: development, tests, `voicebot chat`).
    Each line has a made-up message SID, so a status callback can be posted for it by hand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def deliver(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        sid = "SM" + secrets.token_hex(16)
        fields = {"to": to, "body": body, "sid": sid}
        if status_callback:
            fields["status_callback"] = status_callback
        self.write(fields)
        return sid

    def write(self, fields: dict[str, str]) -> None:
        """Append one line (a text, or a call placed: voicebot.channels.calls)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(fields, ensure_ascii=False)
        # Lines may carry one-time codes: readable by this user only.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)  # a file made earlier, by hand or an older version
        with self._lock, open(descriptor, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def rest_client(account_sid: str, auth_token: str, http_client: object | None = None) -> Any:
    """Twilio's REST client, for texts and calls alike. A slow Twilio API must not hold a
    call's turn past Twilio's own webhook timeout: 3 s per request."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http = http_client or TwilioHttpClient(timeout=3)
    return Client(account_sid, auth_token, http_client=http)  # type: ignore[arg-type]


class TwilioMessages:
    """Twilio's REST API. With a Messaging Service SID (US A2P 10DLC: the number's registered
    campaign), texts go out through the service, which picks the sender; else from ``sender``."""

    def __init__(
        self, account_sid: str, auth_token: str, sender: str, messaging_service_sid: str = ""
    ) -> None:
        self.client = rest_client(account_sid, auth_token)
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid

    def deliver(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        from twilio.base.exceptions import TwilioRestException

        origin = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.sender}
        )
        if status_callback and not reachable(status_callback):
            log.info("no delivery report asked: %s is not a public host", _host(status_callback))
            status_callback = None
        if not status_callback:
            return self.client.messages.create(to=to, body=body, **origin).sid
        try:
            message = self.client.messages.create(
                to=to, body=body, status_callback=status_callback, **origin
            )
        except TwilioRestException as exc:
            if exc.code != INVALID_STATUS_CALLBACK:
                raise
            # Refused for its callback alone: the text (a code, maybe) matters more.
            log.warning("Twilio refused the delivery report URL; texting without it")
            message = self.client.messages.create(to=to, body=body, **origin)
        return message.sid


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def reachable(url: str) -> bool:
    """Whether Twilio could reach ``url`` over the internet. It refuses a status callback it
    cannot (error 21609), and the text with it: a trial on localhost must still text."""
    host = _host(url).lower()
    if host in ("?", "localhost") or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host and "_" not in host  # a host name Twilio accepts


class Outbound:
    """The one way to text someone: opt-outs, the guard and the cap per number are checked
    here, every time.

    ``redis``: where the texts sent to each number are counted (build_services always gives
    the store's; without one, as in some unit tests, nothing is capped). ``deliveries``:
    where each sent text's SID is tied to its conversation; ``status_callback``: gives the
    URL Twilio posts delivery outcomes to (see :func:`status_callback_url`).
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
        deliveries: Deliveries | None = None,
        status_callback: Callable[[], str | None] | None = None,
    ) -> None:
        self.transport = transport
        self.deliveries = deliveries or Deliveries(None)
        self.status_callback = status_callback or status_callback_url("")
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

    def send(
        self,
        to: str,
        body: str,
        allow: str | None = None,
        *,
        conversation: str = "",
        kind: Kind = "text",
    ) -> bool:
        """Text ``body`` to ``to``; whether it went (see :meth:`attempt` for why not)."""
        return self.attempt(to, body, allow, conversation=conversation, kind=kind) is Sent.SENT

    def attempt(
        self,
        to: str,
        body: str,
        allow: str | None = None,
        *,
        conversation: str = "",
        kind: Kind = "text",
    ) -> Sent:
        """Text ``body`` to ``to``, or say why not. ``allow`` is the one secret this body is
        meant to carry (the one-time code in the message that delivers it): the guard lets
        exactly that digit string through, and still blocks anything else secret-looking.
        ``conversation`` and ``kind`` ("code" for a one-time code) are remembered with the
        message SID, so a failed delivery reported later reaches that conversation."""
        if self.opted_out(to):
            log.info("not texting %s: opted out", redact(to))
            return Sent.OPTED_OUT
        if not self.guard.check(body, where="outbound text", allow=allow):
            return Sent.BLOCKED
        counted = self._count(to)
        if counted is not Sent.SENT:
            return counted
        try:
            sid = self.transport.deliver(to, body, self.status_callback())
        except Exception:  # a failed text must not fail the call that asked for it
            log.exception("text to %s failed", redact(to))
            return Sent.FAILED
        log.info("texted %s (%d characters)", redact(to), len(body), extra={"message_sid": sid})
        if sid:
            self.deliveries.expect(sid, conversation, kind)
        return Sent.SENT

    def count_delivery(self, to: str) -> Sent:
        """Count one delivery to ``to`` that is not a text (a call that says a one-time code):
        first against the calls' own cap per day, then the texts' cap it shares: SENT when
        it may go, else LIMITED (FAILED: Redis). A call refused by the shared cap still
        counts as a call (fails closed)."""
        calls = self.limits.calls_per_day
        counted = self._count(to, kind="called", per_hour=calls, per_day=calls)
        return counted if counted is not Sent.SENT else self._count(to)

    def _count(
        self, to: str, kind: str = "sent", per_hour: int | None = None, per_day: int | None = None
    ) -> Sent:
        """Count one more text to ``to`` if its cap allows (SENT), else LIMITED. Counted
        before delivery, and kept when delivery fails: a timed-out request to Twilio may
        still have sent it. Fails closed: without Redis to count in, nothing goes.
        ``kind``, ``per_hour``, ``per_day``: another count and cap (the calls')."""
        if self._count_text is None:
            return Sent.SENT
        now = self.clock()
        args = [repr(now), secrets.token_hex(8), repr(now - HOUR), repr(now - DAY)]
        what = "calling" if kind == "called" else "texting"
        hour = self.limits.per_hour if per_hour is None else per_hour
        day = self.limits.per_day if per_day is None else per_day
        args += [hour, day, DAY + MARGIN]
        try:
            allowed = self._count_text(keys=[self._key(kind, to)], args=args)
        except redis_lib.RedisError:
            log.exception("not %s %s: what it had could not be counted", what, redact(to))
            return Sent.FAILED
        if not allowed:
            log.warning("not %s %s: it had its share for now (cap per number)", what, redact(to))
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

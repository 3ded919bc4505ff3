"""What became of the texts we sent: Twilio's message status callbacks, remembered briefly.

A code text to a landline is accepted by Twilio and then fails (ErrorCode 30006). The
caller only learns that nothing came; this lets the help line offer the other way next
time they say so. Only the message SID, the conversation it belongs to, its kind and the
outcome are kept, for an hour: never the body or the number it went to.
"""

from __future__ import annotations

import logging
from typing import Literal

import redis as redis_lib

log = logging.getLogger("voicebot.delivery")

PREFIX = "vb:delivery:"
KEEP_SECONDS = 3600  # a code lives 10 minutes; its conversation at most an hour
FAILED = frozenset({"undelivered", "failed"})
Kind = Literal["code", "text"]


class Deliveries:
    """Which conversation each text we sent belongs to, and which code texts failed."""

    def __init__(self, redis: redis_lib.Redis | None, keep_seconds: int = KEEP_SECONDS) -> None:
        self.redis = redis
        self.keep = keep_seconds

    def expect(self, message_sid: str, conversation: str, kind: Kind) -> None:
        """Remember that ``message_sid`` (just sent) is of this kind and belongs to
        ``conversation`` ("" when sent outside one: its outcome is still counted by kind)."""
        if self.redis is None or not message_sid:
            return
        try:
            self.redis.set(f"{PREFIX}sid:{message_sid}", f"{kind}|{conversation}", ex=self.keep)
        except redis_lib.RedisError:
            log.exception("could not remember a sent text's conversation")

    def record(self, message_sid: str, status: str, error_code: str = "") -> str | None:
        """Note one status callback; returns the kind of text it was about (None: unknown
        or already forgotten). A failed code text marks its conversation."""
        if self.redis is None or not message_sid:
            return None
        try:
            value = self.redis.get(f"{PREFIX}sid:{message_sid}")
            if value is None:
                return None
            text = value.decode() if isinstance(value, bytes) else str(value)
            kind, _, conversation = text.partition("|")
            if kind == "code" and conversation and status in FAILED:
                failed = error_code or status
                self.redis.set(f"{PREFIX}failed:{conversation}", failed, ex=self.keep)
        except redis_lib.RedisError:
            log.exception("could not record a sent text's delivery")
            return None
        return kind

    def code_undelivered(self, conversation: str) -> str | None:
        """Twilio's error code (or "failed") when a code text of this conversation did not
        arrive; None when none is known to have failed."""
        if self.redis is None or not conversation:
            return None
        try:
            value = self.redis.get(f"{PREFIX}failed:{conversation}")
        except redis_lib.RedisError:
            log.exception("could not read a code text's delivery")
            return None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

"""Conversation state, locks and replayed answers in Redis.

Redis (or, with no REDIS_URL, an in-process stand-in) is the only place a conversation lives
between turns, so any number of web processes can serve one call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import fakeredis
import redis

from voicebot.dialog.model import State

PREFIX = "vb:"
# Fast failure beats Twilio's 15 s timeout: a dead Redis must cost well under a second.
SOCKET_TIMEOUT = 0.5
REPLY_TTL = 600  # long enough to cover Twilio's retries of one webhook


def connect(url: str) -> redis.Redis:
    """A client for REDIS_URL, or a private in-process server when it is empty."""
    if not url:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=SOCKET_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=30,
    )


class SessionStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def load(self, conversation: str) -> State | None:
        raw = self.redis.get(f"{PREFIX}conv:{conversation}")
        if raw is None:
            return None
        try:
            return State.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            return None  # an unreadable state starts the conversation over, not a crash

    def save(self, conversation: str, state: State, ttl: int) -> None:
        data = json.dumps(state.to_dict(), separators=(",", ":"))
        self.redis.set(f"{PREFIX}conv:{conversation}", data, ex=ttl)

    def clear(self, conversation: str) -> None:
        self.redis.delete(f"{PREFIX}conv:{conversation}")

    def ttl(self, conversation: str) -> int:
        return int(self.redis.ttl(f"{PREFIX}conv:{conversation}"))

    @contextmanager
    def lock(self, conversation: str, timeout: float = 10.0) -> Iterator[None]:
        """One turn of a conversation at a time, across processes."""
        lock = self.redis.lock(
            f"{PREFIX}lock:{conversation}", timeout=timeout, blocking_timeout=timeout
        )
        if not lock.acquire():
            raise TimeoutError("conversation is busy")
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # expired while we worked; the next turn may already hold it

    def reply_for(self, request_id: str) -> str | None:
        """The answer already given to this exact webhook, when Twilio sends it again."""
        raw = self.redis.get(f"{PREFIX}reply:{request_id}")
        return raw.decode() if raw is not None else None

    def remember_reply(self, request_id: str, body: str) -> None:
        self.redis.set(f"{PREFIX}reply:{request_id}", body, ex=REPLY_TTL)

    def ping(self) -> bool:
        return bool(self.redis.ping())

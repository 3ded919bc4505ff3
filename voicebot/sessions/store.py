"""Conversation state, locks and replayed answers in Redis.

Redis (or, with no REDIS_URL, an in-process stand-in) is the only place a conversation lives
between turns, so any number of web processes can serve one call.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import fakeredis
import redis

from voicebot.dialog.model import State

PREFIX = "vb:"
# Fast failure beats Twilio's 15 s timeout: a dead Redis must cost well under a second.
SOCKET_TIMEOUT = 0.5


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
    """One Redis key per conversation: its state and the last reply, compressed.

    Keeping the reply beside the state lets a retried webhook be answered again without a
    second key, and keeps a turn to four round trips: lock, GET, SET, unlock.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def _key(self, conversation: str) -> str:
        return f"{PREFIX}conv:{conversation}"

    def load_turn(self, conversation: str, request_id: str) -> tuple[State | None, str | None]:
        """The conversation's state, and the reply already given to this request, if any."""
        raw = self.redis.get(self._key(conversation))
        if raw is None:
            return None, None
        try:
            record = json.loads(zlib.decompress(raw))
            if request_id and record.get("r") == request_id:
                return None, record["b"]
            return (State.from_dict(record["s"]) if record.get("s") else None), None
        except (ValueError, TypeError, KeyError, zlib.error):
            return None, None  # an unreadable record starts the conversation over, not a crash

    def save_turn(
        self, conversation: str, state: State | None, ttl: int, request_id: str, body: str
    ) -> None:
        """Keep the new state (None: the conversation ended) and the reply to this request."""
        record = {"s": state.to_dict() if state else None, "r": request_id, "b": body}
        data = zlib.compress(json.dumps(record, separators=(",", ":")).encode(), 6)
        self.redis.set(self._key(conversation), data, ex=ttl)

    def load(self, conversation: str) -> State | None:
        return self.load_turn(conversation, "")[0]

    def clear(self, conversation: str) -> None:
        self.redis.delete(self._key(conversation))

    def ttl(self, conversation: str) -> int:
        return int(self.redis.ttl(self._key(conversation)))

    @contextmanager
    def lock(self, conversation: str, timeout: float = 5.0, wait: float = 2.0) -> Iterator[None]:
        """One turn of a conversation at a time, across processes.

        A lock left behind (a process killed mid-turn, a Redis that froze) expires after
        `timeout`; a caller waits at most `wait` for it, then gets the fallback, never
        Twilio's 15-second error.
        """
        lock = self.redis.lock(
            f"{PREFIX}lock:{conversation}", timeout=timeout, blocking_timeout=wait
        )
        if not lock.acquire():
            raise TimeoutError("conversation is busy")
        try:
            yield
        finally:
            # A lock that expired while we worked may already be the next turn's.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

    def ping(self) -> bool:
        return bool(self.redis.ping())

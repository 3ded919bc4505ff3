"""Conversation state, locks and replayed answers in Redis.

Redis (or, with no REDIS_URL, an in-process stand-in) is the only place a conversation lives
between turns, so any number of web processes can serve one call.

A turn costs two round trips: one script takes the conversation's lock and reads its record,
another saves the new record, lets go of the lock and counts a new conversation for the
statistics (see :meth:`SessionStore.drain_counts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import fakeredis
import redis

from voicebot.dialog.model import State

PREFIX = "vb:"
# Fast failure beats Twilio's 15 s timeout: a dead Redis must cost well under a second.
SOCKET_TIMEOUT = 0.5
# New conversations per "YYYY-MM-DD:channel", waiting to be added to SQL (drain_counts).
PENDING_COUNTS = f"{PREFIX}stats:pending"
LOCK_POLL = 0.02  # seconds between tries for a lock another turn holds
_WINDOW_BITS, _MEM_LEVEL = 11, 4  # zlib settings for records (see SessionStore._record)

# KEYS: lock, record. ARGV: token, lock milliseconds. {1, record?} when the lock is ours.
_BEGIN = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local record = redis.call('GET', KEYS[2])
  if record then return {1, record} end
  return {1}
end
return {0}
"""

# KEYS: record, lock, pending counts, tally hash. ARGV: token, record, ttl seconds, count
# field or '', then (optional) the tally's field to take one from or '', field to add one to
# or '', ttl.
# Only the lock's holder writes: a turn whose lock expired while it worked (more than its
# timeout, so something was badly stuck) must not overwrite what a later turn saved.
_FINISH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('DEL', KEYS[2])
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[4], 1) end
if ARGV[6] and ARGV[6] ~= '' then
  if ARGV[5] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[5], -1) end
  redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
return 1
"""

# KEYS: lock. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: pending counts. Everything in it, and an empty hash after, atomically.
_DRAIN = """
local counts = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return counts
"""


def connect(url: str) -> redis.Redis:
    """A client for REDIS_URL, or a private in-process server when it is empty."""
    if not url:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=SOCKET_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=30,
        # Pooled, not one shared connection: the pool checks a connection before each use,
        # so the first request after a Redis restart reconnects instead of failing.
    )


class Script:
    """A Lua script, run by EVALSHA on this thread's own connection to Redis.

    A turn makes two round trips, and redis-py's client spends about as much CPU around each
    command as the round trip itself (taking a connection from the pool, which first polls
    its socket; the retry wrapper; the event hooks). The scripts skip those layers and use
    redis-py's Connection directly: it still connects, authenticates, applies the timeouts,
    checks health and parses replies. Called as ``script(keys=[...], args=[...])``.
    """

    def __init__(self, line: DirectLine, source: str) -> None:
        self.line = line
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, keys: list[Any] | tuple[Any, ...] = (), args: Any = ()) -> Any:
        return self.line.evalsha(self, [len(keys), *keys, *args])


class DirectLine:
    """One connection per process and thread, made by the client's own pool (same URL,
    timeouts and TLS), for the scripts.

    Before each command the connection is checked as redis-py's pool checks one it hands
    out: a connection Redis closed (a restart, its idle timeout, CLIENT KILL) is replaced,
    so a restart between calls costs no caller. A command is never sent twice: once sent it
    may have run (taken a lock, counted a call) even if its reply is lost, so a failure after
    sending reaches the caller as the fast fallback. Only a script Redis does not know
    (NOSCRIPT: nothing ran) is loaded and sent again.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._local = threading.local()

    def _ready(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or a forked process
            local.connection = self.client.connection_pool.make_connection()
            local.pid = os.getpid()
        connection = local.connection
        connection.connect()  # nothing to do when connected; a dead Redis fails fast here
        try:
            if connection.can_read():  # data nobody asked for: the connection is unusable
                raise redis.exceptions.ConnectionError("unexpected data on the connection")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            connection.disconnect()  # closed by Redis, or dirty: connect afresh, once
            connection.connect()
        return connection

    def evalsha(self, script: Script, arguments: list[Any]) -> Any:
        connection = self._ready()
        try:
            connection.send_command("EVALSHA", script.sha, *arguments)
            try:
                return connection.read_response()
            except redis.exceptions.NoScriptError:  # a new or restarted Redis: teach it
                connection.send_command("SCRIPT", "LOAD", script.source)
                connection.read_response()
                connection.send_command("EVALSHA", script.sha, *arguments)
                return connection.read_response()
        except redis.exceptions.ResponseError:
            raise  # the script's own error: the connection is fine
        except BaseException:  # lost, timed out, interrupted: a reply may still be coming
            connection.disconnect()
            raise


@dataclass(frozen=True)
class Tally:
    """A count moved, with the turn's save, from one field of a hash to another (a
    conversation's outcome for the statistics); ``old`` is '' for a first count."""

    key: str
    old: str
    new: str
    ttl: int


@dataclass
class OpenTurn:
    """A conversation's record, read under its lock, with the means to save it."""

    conversation: str
    request_id: str
    token: str
    state: State | None = None
    earlier: str | None = None  # the reply this same request already got (a retry)
    saved: bool = field(default=False, init=False)


class SessionStore:
    """One Redis key per conversation: its state and the last reply, compressed.

    Keeping the reply beside the state lets a retried webhook be answered again without a
    second key.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._line = DirectLine(client)
        self._scripts: dict[str, Script] = {}
        self._begin = self.script(_BEGIN)
        self._finish = self.script(_FINISH)
        self._release = self.script(_RELEASE)
        self._drain = self.script(_DRAIN)

    def conversation_key(self, conversation: str) -> str:
        return f"{PREFIX}conv:{conversation}"

    def script(self, source: str) -> Script:
        """A Lua script for this Redis (loaded the first time Redis does not know it)."""
        if source not in self._scripts:
            self._scripts[source] = Script(self._line, source)
        return self._scripts[source]

    def lock_key(self, conversation: str) -> str:
        return f"{PREFIX}lock:{conversation}"

    @contextmanager
    def turn(
        self, conversation: str, request_id: str, timeout: float = 5.0, wait: float = 2.0
    ) -> Iterator[OpenTurn]:
        """One turn of a conversation at a time, across processes.

        A lock left behind (a process killed mid-turn, a Redis that froze) expires after
        `timeout`; a caller waits at most `wait` for it, then gets the fallback, never
        Twilio's 15-second error. Leaving the block without `save` lets the lock go.
        """
        opened = self.begin_turn(conversation, request_id, timeout, wait)
        try:
            yield opened
        finally:
            if not opened.saved:  # not saved (a replay, an error, a failed save): let go
                # Redis failing: the lock expires by itself; the first error is the one to see.
                with contextlib.suppress(redis.RedisError):
                    self._release(keys=[self.lock_key(conversation)], args=[opened.token])

    def begin_turn(
        self, conversation: str, request_id: str, timeout: float = 5.0, wait: float = 2.0
    ) -> OpenTurn:
        token = secrets.token_hex(8)
        keys = [self.lock_key(conversation), self.conversation_key(conversation)]
        deadline = time.monotonic() + wait
        while True:
            reply = self._begin(keys=keys, args=[token, int(timeout * 1000)])
            if reply and reply[0] == 1:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError("conversation is busy")
            time.sleep(LOCK_POLL)
        opened = OpenTurn(conversation, request_id, token)
        raw = reply[1] if len(reply) > 1 else None
        opened.state, opened.earlier = self._read(raw, request_id)
        return opened

    def save(
        self,
        opened: OpenTurn,
        state: State | None,
        ttl: int,
        body: str,
        new_in: str = "",
        day: date | None = None,
        tally: Tally | None = None,
    ) -> bool:
        """Keep the new state (None: the conversation ended) and the reply to this request,
        and let go of the lock. ``new_in``: the channel of a conversation that started with
        this turn, counted for the statistics on ``day`` (the district's; default: UTC's
        today). ``tally``: a count to move in the same step. False when the lock had expired:
        nothing is written then (the caller still gets the reply; the next turn starts from
        the state saved before)."""
        count = f"{(day or datetime.now(UTC).date()).isoformat()}:{new_in}" if new_in else ""
        moved = [tally.old, tally.new, tally.ttl] if tally else ["", "", 0]
        done = self._finish(
            keys=[
                self.conversation_key(opened.conversation),
                self.lock_key(opened.conversation),
                PENDING_COUNTS,
                tally.key if tally else PENDING_COUNTS,  # (not touched without a tally)
            ],
            args=[opened.token, self._record(state, opened.request_id, body), ttl, count, *moved],
        )
        opened.saved = True  # written, or refused because the lock is no longer ours
        return bool(done)

    @staticmethod
    def _record(state: State | None, request_id: str, body: str) -> bytes:
        record = {"s": state.to_dict() if state else None, "r": request_id, "b": body}
        # A record is a kilobyte or so: a 2 KB window and small hash tables compress it as
        # well as zlib's defaults, at a quarter of the CPU (most of which goes to setting up
        # the default 256 KB of tables). zlib.decompress reads either.
        packer = zlib.compressobj(6, zlib.DEFLATED, _WINDOW_BITS, _MEM_LEVEL)
        return packer.compress(json.dumps(record, separators=(",", ":")).encode()) + packer.flush()

    @staticmethod
    def _read(raw: bytes | None, request_id: str) -> tuple[State | None, str | None]:
        """The state in a record, and the reply already given to this request, if any."""
        if raw is None:
            return None, None
        try:
            record = json.loads(zlib.decompress(raw))
            if request_id and record.get("r") == request_id:
                return None, record["b"]
            return (State.from_dict(record["s"]) if record.get("s") else None), None
        except (ValueError, TypeError, KeyError, zlib.error):
            return None, None  # an unreadable record starts the conversation over, not a crash

    def load(self, conversation: str) -> State | None:
        """The state, read without the lock (for tests and tools, not for turns)."""
        return self._read(self.redis.get(self.conversation_key(conversation)), "")[0]

    def clear(self, conversation: str) -> None:
        self.redis.delete(self.conversation_key(conversation))

    def ttl(self, conversation: str) -> int:
        return int(self.redis.ttl(self.conversation_key(conversation)))

    def drain_counts(self) -> dict[tuple[date, str], int]:
        """New conversations counted since the last drain, by (ISO day, channel), and reset.

        The caller adds them to SQL and gives them back with :meth:`restore_counts` if that
        fails, so a count is never lost nor added twice.
        """
        raw = self._drain(keys=[PENDING_COUNTS]) or []
        counts: dict[tuple[date, str], int] = {}
        for name, value in zip(raw[::2], raw[1::2], strict=True):
            text = name.decode() if isinstance(name, bytes) else str(name)
            day, _, channel = text.partition(":")
            try:
                key = (date.fromisoformat(day), channel)
                counts[key] = counts.get(key, 0) + int(value)
            except ValueError:
                continue  # not written by save(): nothing to count
        return counts

    def restore_counts(self, counts: dict[tuple[date, str], int]) -> None:
        if not counts:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (day, channel), value in counts.items():
            pipe.hincrby(PENDING_COUNTS, f"{day.isoformat()}:{channel}", value)
        pipe.execute()

    def ping(self) -> bool:
        return bool(self.redis.ping())

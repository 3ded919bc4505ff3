"""Failed verifications and locks, per student record and per caller number, in Redis.

Over 24 hours, RECORD_LIMIT failures lock a student record and CALLER_LIMIT lock a caller
number, for LOCK_SECONDS. Codes sent and not yet used count too ("pending"), and become
failures when they expire unused, so nobody can have a family's phone texted over and over.
Whether another code may go out and counting it as pending is one Lua script (reserve):
parallel requests on several web processes cannot all slip under the limit.

Callers whose number is withheld have no number to lock, and must not be able to lock a
family out either: their tries count against a budget of their own (WITHHELD_LIMIT a day,
by the caller ID Twilio gave, e.g. "anonymous"), never against the student record.
Times come from the caller (the Verifier's injected clock), so tests can travel.
"""

from __future__ import annotations

import redis as redis_lib

from voicebot.verification.common import MARGIN, PREFIX, as_text, log, pseudonym
from voicebot.verification.pending import CODE_TTL

RECORD_LIMIT = 3  # failed verifications of one student record ...
CALLER_LIMIT = 5  # ... or from one caller number ...
WINDOW = 24 * 3600  # ... within this many seconds ...
LOCK_SECONDS = 24 * 3600  # ... lock it for this long
WITHHELD_LIMIT = 3  # verifications a day from one withheld caller ID ("anonymous"), in all

# KEYS: (fails, pending, lock) per target. ARGV: now, window start (exclusive, "(t"),
# attempt, seconds to keep the pending set, then (limit, count it: 1/0) per target.
# Refused (0) when any target is locked or its failures plus codes in flight reach its
# limit; otherwise the new code is counted as pending where asked, all in one step.
_RESERVE = """
local targets = #KEYS / 3
for i = 0, targets - 1 do
  local locked = redis.call('GET', KEYS[3 * i + 3])
  if locked and tonumber(locked) > tonumber(ARGV[1]) then return 0 end
  local used = redis.call('ZCOUNT', KEYS[3 * i + 1], ARGV[2], '+inf')
    + redis.call('ZCOUNT', KEYS[3 * i + 2], ARGV[2], '+inf')
  if used >= tonumber(ARGV[5 + 2 * i]) then return 0 end
end
for i = 0, targets - 1 do
  if ARGV[6 + 2 * i] == '1' then
    redis.call('ZADD', KEYS[3 * i + 2], 'NX', ARGV[1], ARGV[3])
    redis.call('EXPIRE', KEYS[3 * i + 2], ARGV[4])
  end
end
return 1
"""

# KEYS: the tries of one withheld caller ID. ARGV: now, window start (inclusive: dropped),
# attempt, limit, seconds to keep the key. 1 and the try counted, or 0 over the limit.
_TRY = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class Throttles:
    """Counts failures and codes in flight; locks what reached its limit."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._try = redis.register_script(_TRY)

    def _keys(self, kind: str, ident: str | None) -> tuple[str, str, str]:
        # Student records come pseudonymised already (record_key); caller numbers are, here.
        name = ident if kind == "student" else pseudonym(f"{kind}:{ident}")
        base = f"{kind}:{name}"
        return f"{PREFIX}fails:{base}", f"{PREFIX}pending:{base}", f"{PREFIX}lock:{base}"

    def _targets(self, record: str | None, caller: str | None) -> list[tuple[str, str, int]]:
        targets: list[tuple[str, str, int]] = []
        if record:
            targets.append(("student", record, RECORD_LIMIT))
        if caller:
            targets.append(("caller", caller, CALLER_LIMIT))
        return targets

    def reserve(
        self, attempt: str, record: str, caller: str | None, now: float, count_record: bool
    ) -> bool:
        """Whether a code may go out now (nothing locked, failures plus codes in flight under
        every limit) and, if so, count it as pending until it is used, in one atomic step.
        ``count_record``: False for withheld callers, whose codes never count against the
        student record (they may still not exceed it)."""
        keys: list[str] = []
        args: list[str | int] = [repr(now), f"({now - WINDOW}", attempt, WINDOW + MARGIN]
        for kind, ident, limit in self._targets(record, caller):
            keys += self._keys(kind, ident)
            args += [limit, 0 if kind == "student" and not count_record else 1]
        return bool(self._reserve(keys=keys, args=args))

    def try_withheld(self, caller_id: str, attempt: str, now: float) -> bool:
        """Count one verification by a withheld caller ID; False once it had its tries today."""
        key = f"{PREFIX}tries:withheld:{pseudonym(f'withheld:{caller_id}')}"
        args = [repr(now), repr(now - WINDOW), attempt, WITHHELD_LIMIT, WINDOW + MARGIN]
        return bool(self._try(keys=[key], args=args))

    def succeeded(self, attempt: str, record: str, caller: str | None) -> None:
        for kind, ident, _ in self._targets(record, caller):
            _, pending, _ = self._keys(kind, ident)
            self.redis.zrem(pending, attempt)

    def fail(self, attempt: str, record: str | None, caller: str | None, now: float) -> None:
        """Count one failed verification (once per attempt, however often it is reported)."""
        for kind, ident, limit in self._targets(record, caller):
            fails, pending, _ = self._keys(kind, ident)
            pipe = self.redis.pipeline()
            pipe.zrem(pending, attempt)
            pipe.zadd(fails, {attempt: now}, nx=True)
            pipe.expire(fails, WINDOW + MARGIN)
            pipe.execute()
            if self._lock_if_over(kind, ident, limit, now):
                log.warning("verification: %s locked for 24 hours after %d failures", kind, limit)

    def _settle_abandoned(self, kind: str, ident: str | None, now: float) -> None:
        """Codes sent and never used before they expired are failed verifications."""
        fails, pending, _ = self._keys(kind, ident)
        for attempt, sent_at in self.redis.zrangebyscore(
            pending, "-inf", now - CODE_TTL, withscores=True
        ):
            self.redis.zadd(fails, {attempt: sent_at}, nx=True)
            self.redis.zrem(pending, attempt)
        self.redis.expire(fails, WINDOW + MARGIN)

    def lock_active(self, kind: str, ident: str | None, now: float) -> bool:
        if not ident:
            return False
        until = self.redis.get(self._keys(kind, ident)[2])
        return until is not None and float(as_text(until)) > now

    def _lock_if_over(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
        fails, _, lock = self._keys(kind, ident)
        if self.redis.zcount(fails, f"({now - WINDOW}", "+inf") < limit:
            return False
        if not self.lock_active(kind, ident, now):
            self.redis.set(lock, repr(now + LOCK_SECONDS), ex=LOCK_SECONDS + MARGIN)
        return True

    def locked(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
        """Locked now, or failures just reached the limit (which locks it)."""
        if not ident:
            return False
        self._settle_abandoned(kind, ident, now)
        return self.lock_active(kind, ident, now) or self._lock_if_over(kind, ident, limit, now)

"""Failed verifications and locks, per student record and per caller number, in Redis.

Over 24 hours, RECORD_LIMIT failures lock a student record and CALLER_LIMIT lock a caller
number, for LOCK_SECONDS. Codes sent and not yet used count too ("pending"), and become
failures when they expire unused, so nobody can have a family's phone texted over and over.
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


class Throttles:
    """Counts failures and codes in flight; locks what reached its limit."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis

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

    def add_pending(self, attempt: str, record: str, caller: str | None, now: float) -> None:
        """A code went out: it counts against the limits until it is used."""
        for kind, ident, _ in self._targets(record, caller):
            _, pending, _ = self._keys(kind, ident)
            self.redis.zadd(pending, {attempt: now}, nx=True)
            self.redis.expire(pending, WINDOW + MARGIN)

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

    def saturated(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
        """Failures plus codes sent and not yet used reach the limit: send no more for now
        (each unused code becomes a failure when it expires)."""
        if not ident:
            return False
        fails, pending, _ = self._keys(kind, ident)
        since = f"({now - WINDOW}"
        in_flight = self.redis.zcount(fails, since, "+inf") + self.redis.zcount(
            pending, since, "+inf"
        )
        return in_flight >= limit

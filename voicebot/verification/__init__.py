"""Caller verification before the last four digits are read back.

Two factors (rule 3): something the caller knows (the student number and birth date) and
something they have (the phone on file, which gets a one-time code). Caller ID is recorded,
never trusted, and so is the STIR/SHAKEN attestation.

What the caller can observe never depends on what matched: request_code returns the same
nothing and leaves a code pending either way (a decoy that can never be right when nothing
matched), so wrong details, an unknown student, a locked record and a wrong code all play
out alike: WRONG, WRONG, EXHAUSTED.

Redis holds what is short-lived (the pending code, failures, locks), with times taken from
the injected clock so tests can travel; SQL holds the audit (attempts and disclosures).

Throttles, over 24 hours: 3 failed verifications of one student record lock that record for
24 hours; 5 from one caller number lock the number. A verification fails when the details
do not match, when its code is not entered right within 3 tries or 10 minutes, or when a
code is entered with none pending. Codes sent and not yet used count against the limits
too, so nobody can have a family's phone texted over and over.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from voicebot.channels.outbound import Outbound
from voicebot.phones import caller_number
from voicebot.records.models import (
    Disclosure as DisclosureRow,
)
from voicebot.records.models import (
    Guardian,
    Student,
    VerificationAttempt,
    student_guardians,
)

log = logging.getLogger("voicebot.verification")

CODE_DIGITS = 6
CODE_TTL = 10 * 60  # seconds a code is good for
MAX_TRIES = 3
RECORD_LIMIT = 3  # failed verifications of one student record ...
CALLER_LIMIT = 5  # ... or from one caller number ...
WINDOW = 24 * 3600  # ... within this many seconds ...
LOCK_SECONDS = 24 * 3600  # ... lock it for this long
METHOD = "dob+otp"
PREFIX = "vb:verify:"
MESSAGE = (
    "Your APS Parent Portal help line code is {code}. It expires in 10 minutes. Don't share it."
)
# A leaked Redis must not give codes away: a salted scrypt of a 6-digit code takes hours
# to brute-force on one core, far longer than the code lives.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}
_MARGIN = 3600  # Redis keeps keys this much longer than the clock needs them

# Atomically: is a code pending, has it expired, count this try.
_TAKE_TRY = """
local f = redis.call('HMGET', KEYS[1], 'hash', 'salt', 'exp', 'attempt', 'student', 'record')
if not f[1] then return {'none'} end
if tonumber(f[3]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {'expired', '', '', '0', f[4], f[5], f[6]}
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {'exhausted', '', '', tostring(tries), f[4], f[5], f[6]}
end
return {'try', f[1], f[2], tostring(tries), f[4], f[5], f[6]}
"""


@dataclass(frozen=True)
class Disclosure:
    """What the dialog may say after a successful check, and nothing more."""

    first_name: str
    last4: str  # exactly 4 digits


class CodeResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # tries left
    EXHAUSTED = "exhausted"  # no code pending, expired, 3 tries used, or locked


GONE = 0  # the id of a student taken off the roster while a code was out (ids start at 1)


@dataclass(frozen=True)
class _Student:
    id: int
    birth_date: date | None
    record: str  # the key its failures and lock go by in Redis


def _record(student_number: str) -> str:
    """Throttle key of a student record: by student number (stable across databases and
    re-imports), hashed so Redis keys don't list student numbers."""
    return _pseudonym(f"student:{student_number}")


def _pseudonym(value: str) -> str:
    """Keeps student and phone numbers out of Redis key names. (Not a secret: short
    numbers can be found again by trying them all; it only keeps them out of plain sight.)"""
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _birth_date(mmddyyyy: str) -> date | None:
    """Eight digits as keyed on a phone, month day year."""
    digits = _digits(mmddyyyy)
    if len(digits) != 8:
        return None
    try:
        return date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    except ValueError:
        return None


def _hash(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(code.encode(), salt=salt, **_SCRYPT)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


class Verifier:
    """Sends and checks one-time codes; keeps the throttles and the audit trail."""

    def __init__(
        self,
        sessions: sessionmaker,
        redis: redis_lib.Redis,
        outbound: Outbound,
        clock: Callable[[], float] = time.time,
        *,
        message: str = MESSAGE,
    ) -> None:
        self.sessions = sessions
        self.redis = redis
        self.outbound = outbound
        self.clock = clock
        self.message = message
        self._take_try = redis.register_script(_TAKE_TRY)

    # --- the contract ---------------------------------------------------------------------

    def request_code(
        self,
        conversation: str,
        student_number: str,
        birth_date: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str | None = None,
    ) -> None:
        """Text a code to the guardians on file when the details match; otherwise, and when
        locked, leave a decoy. Returns nothing either way, on purpose. ``message``: the text,
        with ``{code}``, in the caller's language (default: the English one)."""
        now = self.clock()
        caller = caller_number(caller)  # E.164, or None when withheld or unusable
        attempt = secrets.token_hex(8)
        student = self._find(student_number)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = secrets.token_bytes(16)
        digest = _hash(code, salt)  # computed on every path: the same work whatever matched
        real = False
        if self._locked("caller", caller, CALLER_LIMIT, now):
            outcome = "caller_locked"
        elif student is not None and self._locked("student", student.record, RECORD_LIMIT, now):
            outcome = "locked"
            self._fail(attempt, None, caller, now)
        elif student is None or student.birth_date != _birth_date(birth_date):
            outcome = "no_match"
            self._fail(attempt, student.record if student else None, caller, now)
        elif self._saturated("student", student.record, RECORD_LIMIT, now) or self._saturated(
            "caller", caller, CALLER_LIMIT, now
        ):
            outcome = "throttled"  # codes already out and unused: don't text the family again
        else:
            outcome = "code_sent"
            real = True
        self._store(conversation, digest, salt, now, attempt, student if real else None)
        if real and student is not None:
            self._pending(attempt, student.record, caller, now)
            sent = sum(
                self.outbound.send(
                    phone, (message or self.message).replace("{code}", code), allow=code
                )
                for phone in self._phones(student.id)
            )
            if not sent:
                log.warning("verification: no guardian phone on file could get the code")
            else:
                log.info("verification: code texted to %d phone(s) on file", sent)
        else:
            log.info("verification: no code sent (%s)", outcome)
        self._audit(conversation, channel, caller, stir, "request", outcome, student, now)

    def check_code(
        self,
        conversation: str,
        code: str,
        caller: str | None,
        channel: str,
        call_id: str,
        stir: str | None,
    ) -> tuple[CodeResult, Disclosure | None]:
        """OK uses the code up and records the disclosure; WRONG leaves tries; EXHAUSTED ends
        this verification (and counts as a failed one)."""
        now = self.clock()
        caller = caller_number(caller)
        key = self._code_key(conversation)
        status, stored, salt, tries, attempt, student, record = self._try(key, now)
        found = _Student(int(student), None, record) if student else None  # None: a decoy
        if found is not None and not self._still_listed(found):
            # Taken off the roster since the code went out (roster import --replace): its id
            # may name another child now. Tries and locks still count; nothing is read back.
            found = _Student(GONE, None, record)
        record_key = found.record if found else None
        if status == "none":
            self._fail(secrets.token_hex(8), None, caller, now)
            return self._end(conversation, channel, caller, stir, "no_code", None, now)
        if status != "try":
            self._fail(attempt, record_key, caller, now)
            return self._end(conversation, channel, caller, stir, status, found, now)
        # Locked since the code went out: even the right code is just a wrong one now (an
        # early, different answer would tell the caller the details had matched).
        locked = self._lock_active("caller", caller, now) or self._lock_active(
            "student", record_key, now
        )
        entered = _digits(code)
        right = hmac.compare_digest(_hash(entered, bytes.fromhex(salt)), bytes.fromhex(stored))
        if right and found is not None and not locked and len(entered) == CODE_DIGITS:
            if self.redis.delete(key) != 1:  # another request used it a moment ago
                return self._end(conversation, channel, caller, stir, "used", found, now)
            self._succeeded(attempt, found.record, caller)
            return self._disclose(found, channel, caller, call_id, stir, conversation, now)
        if int(tries) >= MAX_TRIES:
            self.redis.delete(key)
            self._fail(attempt, record_key, caller, now)
            return self._end(conversation, channel, caller, stir, "exhausted", found, now)
        self._audit(conversation, channel, caller, stir, "check", "wrong", found, now)
        return CodeResult.WRONG, None

    def is_locked(self, caller: str | None) -> bool:
        """The caller number is locked: offer the transfer straight away."""
        return self._locked("caller", caller_number(caller), CALLER_LIMIT, self.clock())

    # --- SQL --------------------------------------------------------------------------------

    def _find(self, student_number: str) -> _Student | None:
        number = _digits(student_number)
        if not number or len(number) > 20:
            return None
        with self.sessions() as session:
            row = session.execute(
                select(Student.id, Student.birth_date).where(
                    Student.student_number == number, Student.on_roster()
                )
            ).first()
        return _Student(row.id, row.birth_date, _record(number)) if row else None

    def _still_listed(self, student: _Student) -> bool:
        """The student a pending code was sent for still has its id in the roster."""
        with self.sessions() as session:
            number = session.scalar(select(Student.student_number).where(Student.id == student.id))
        return number is not None and _record(number) == student.record

    def _phones(self, student_id: int) -> list[str]:
        with self.sessions() as session:
            phones = session.scalars(
                select(Guardian.phone)
                .distinct()
                .join(student_guardians, student_guardians.c.guardian_id == Guardian.id)
                .where(student_guardians.c.student_id == student_id)
                .order_by(Guardian.phone)
            )
            return list(phones)

    def _disclose(
        self,
        found: _Student,
        channel: str,
        caller: str | None,
        call_id: str,
        stir: str | None,
        conversation: str,
        now: float,
    ) -> tuple[CodeResult, Disclosure | None]:
        when = datetime.fromtimestamp(now, UTC)
        with self.sessions.begin() as session:
            student = session.get(Student, found.id) if found.id != GONE else None
            if student is not None and _record(student.student_number) != found.record:
                student = None  # taken off since the check above, its id given again
            last4 = student.ssn_last4 if student else None
            session.add(
                VerificationAttempt(
                    attempted_at=when,
                    conversation=conversation[:100],
                    channel=channel[:8],
                    phone=caller,
                    stir=(stir or None) and stir[:40],
                    step="check",
                    outcome="ok",
                    student_id=student.id if student else None,
                )
            )
            if student is None or not last4 or not re.fullmatch(r"\d{4}", last4):
                # Verified, but there is nothing (valid) to read back: say so, disclose nothing.
                log.info("verification: caller verified; no last four on file")
                return CodeResult.OK, None
            session.add(
                DisclosureRow(
                    student_id=student.id,
                    disclosed_at=when,
                    channel=channel[:8],
                    phone=caller,
                    method=METHOD,
                    call_id=call_id[:64],
                    stir=(stir or None) and stir[:40],
                )
            )
            first_name = student.first_name
        log.info("verification: caller verified; last four disclosed (audited)")
        return CodeResult.OK, Disclosure(first_name=first_name, last4=last4)

    def _audit(
        self,
        conversation: str,
        channel: str,
        caller: str | None,
        stir: str | None,
        step: str,
        outcome: str,
        student: _Student | None,
        now: float,
    ) -> None:
        with self.sessions.begin() as session:
            session.add(
                VerificationAttempt(
                    attempted_at=datetime.fromtimestamp(now, UTC),
                    conversation=conversation[:100],
                    channel=channel[:8],
                    phone=caller,
                    stir=(stir or None) and stir[:40],
                    step=step,
                    outcome=outcome,
                    student_id=student.id if student and student.id != GONE else None,
                )
            )

    def _end(
        self,
        conversation: str,
        channel: str,
        caller: str | None,
        stir: str | None,
        outcome: str,
        student: _Student | None,
        now: float,
    ) -> tuple[CodeResult, Disclosure | None]:
        log.info("verification: code check ended (%s)", outcome)
        self._audit(conversation, channel, caller, stir, "check", outcome, student, now)
        return CodeResult.EXHAUSTED, None

    # --- Redis: the pending code ------------------------------------------------------------

    def _code_key(self, conversation: str) -> str:
        return f"{PREFIX}code:{conversation}"

    def _store(
        self,
        conversation: str,
        digest: bytes,
        salt: bytes,
        now: float,
        attempt: str,
        student: _Student | None,
    ) -> None:
        """Only a salted hash is kept; a decoy (student None) can never be entered right."""
        key = self._code_key(conversation)
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.hset(
            key,
            mapping={
                "hash": digest.hex(),
                "salt": salt.hex(),
                "exp": repr(now + CODE_TTL),
                "tries": 0,
                "attempt": attempt,
                "student": str(student.id) if student else "",  # empty: a decoy
                "record": student.record if student else "",
            },
        )
        pipe.expire(key, CODE_TTL + _MARGIN)
        pipe.execute()

    def _try(self, key: str, now: float) -> tuple[str, str, str, str, str, str, str]:
        parts = [_text(part) for part in self._take_try(keys=[key], args=[repr(now), MAX_TRIES])]
        parts += [""] * (7 - len(parts))
        return parts[0], parts[1], parts[2], parts[3] or "0", parts[4], parts[5], parts[6]

    # --- Redis: failures and locks ----------------------------------------------------------

    def _keys(self, kind: str, ident: str | None) -> tuple[str, str, str]:
        # Student records come pseudonymised already (_record); caller numbers are, here.
        name = ident if kind == "student" else _pseudonym(f"{kind}:{ident}")
        base = f"{kind}:{name}"
        return f"{PREFIX}fails:{base}", f"{PREFIX}pending:{base}", f"{PREFIX}lock:{base}"

    def _targets(self, record: str | None, caller: str | None) -> list[tuple[str, str, int]]:
        targets: list[tuple[str, str, int]] = []
        if record:
            targets.append(("student", record, RECORD_LIMIT))
        if caller:
            targets.append(("caller", caller, CALLER_LIMIT))
        return targets

    def _pending(self, attempt: str, record: str, caller: str | None, now: float) -> None:
        """A code went out: it counts against the limits until it is used."""
        for kind, ident, _ in self._targets(record, caller):
            _, pending, _ = self._keys(kind, ident)
            self.redis.zadd(pending, {attempt: now}, nx=True)
            self.redis.expire(pending, WINDOW + _MARGIN)

    def _succeeded(self, attempt: str, record: str, caller: str | None) -> None:
        for kind, ident, _ in self._targets(record, caller):
            _, pending, _ = self._keys(kind, ident)
            self.redis.zrem(pending, attempt)

    def _fail(self, attempt: str, record: str | None, caller: str | None, now: float) -> None:
        """Count one failed verification (once per attempt, however often it is reported)."""
        for kind, ident, limit in self._targets(record, caller):
            fails, pending, _ = self._keys(kind, ident)
            pipe = self.redis.pipeline()
            pipe.zrem(pending, attempt)
            pipe.zadd(fails, {attempt: now}, nx=True)
            pipe.expire(fails, WINDOW + _MARGIN)
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
        self.redis.expire(fails, WINDOW + _MARGIN)

    def _lock_active(self, kind: str, ident: str | None, now: float) -> bool:
        if not ident:
            return False
        until = self.redis.get(self._keys(kind, ident)[2])
        return until is not None and float(_text(until)) > now

    def _lock_if_over(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
        fails, _, lock = self._keys(kind, ident)
        if self.redis.zcount(fails, f"({now - WINDOW}", "+inf") < limit:
            return False
        if not self._lock_active(kind, ident, now):
            self.redis.set(lock, repr(now + LOCK_SECONDS), ex=LOCK_SECONDS + _MARGIN)
        return True

    def _locked(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
        """Locked now, or failures just reached the limit (which locks it)."""
        if not ident:
            return False
        self._settle_abandoned(kind, ident, now)
        return self._lock_active(kind, ident, now) or self._lock_if_over(kind, ident, limit, now)

    def _saturated(self, kind: str, ident: str | None, limit: int, now: float) -> bool:
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

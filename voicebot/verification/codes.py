"""The Verifier: the dialog's contract (request_code, check_code, call_code, is_locked).

It decides; the pending code, the throttles and the audit trail keep the state.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import date

import redis as redis_lib
from sqlalchemy.orm import sessionmaker

from voicebot.channels.calls import CodeCalls
from voicebot.channels.outbound import Outbound, Sent
from voicebot.dialog.model import CallResult, CodeResult  # the dialog's enums: compared with `is`
from voicebot.phones import caller_number
from voicebot.verification.audit import Audit, Disclosure, Origin
from voicebot.verification.common import GONE, Found, digits, log
from voicebot.verification.pending import (
    CODE_DIGITS,
    MAX_TRIES,
    PendingCodes,
    derive_code,
    hash_code,
)
from voicebot.verification.throttles import CALLER_LIMIT, RECORD_LIMIT, Throttles

MESSAGE = (
    "Your APS Parent Portal help line code is {code}. It expires in 10 minutes. Don't share it."
)


def _withheld(caller: str | None) -> str:
    """The one bucket every caller with no usable number shares ("anonymous", "restricted",
    a made-up ID...): a budget per withheld label would let one person cycle through the
    labels Twilio sends and guess birth dates several times over."""
    return "withheld"


def _birth_date(mmddyyyy: str) -> date | None:
    """Eight digits as keyed on a phone, month day year."""
    keyed = digits(mmddyyyy)
    if len(keyed) != 8:
        return None
    try:
        return date(int(keyed[4:]), int(keyed[:2]), int(keyed[2:4]))
    except ValueError:
        return None


class Verifier:
    """Sends and checks one-time codes; keeps the throttles and the audit trail.

    ``secret``: the server's secret key, from which each code is derived (pending.derive_code;
    a random one for this object when empty). ``calls``: how a code is said in a phone call
    (None: the help line places no calls, and call_code says so).
    """

    def __init__(
        self,
        sessions: sessionmaker,
        redis: redis_lib.Redis,
        outbound: Outbound,
        clock: Callable[[], float] = time.time,
        *,
        message: str = MESSAGE,
        secret: str = "",
        calls: CodeCalls | None = None,
    ) -> None:
        self.secret = (secret or secrets.token_hex(32)).encode()
        self.calls = calls
        self.sessions = sessions
        self.redis = redis
        self.outbound = outbound
        self.clock = clock
        self.message = message
        self.codes = PendingCodes(redis)
        self.throttles = Throttles(redis)
        self.audit = Audit(sessions)

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
        number = caller_number(caller)  # E.164, or None when withheld or unusable
        attempt = secrets.token_hex(8)
        student = self.audit.find(student_number)
        code = derive_code(self.secret, attempt)  # said again in a call without being kept
        salt = secrets.token_bytes(16)
        digest = hash_code(code, salt)  # computed on every path: the same work whatever matched
        if number is None and not self.throttles.try_withheld(_withheld(caller), attempt, now):
            outcome = "withheld_limit"  # then a decoy, like every other refusal
        else:
            outcome = self._decide(attempt, student, birth_date, number, now)
        real = outcome == "code_sent"
        self.codes.store(conversation, digest, salt, now, attempt, student if real else None)
        if real and student is not None:
            self._send(conversation, student, code, message or self.message)
        else:
            log.info("verification: no code sent (%s)", outcome)
        origin = Origin(conversation, channel, number, stir)
        self.audit.record(origin, "request", outcome, student, now)

    def _decide(
        self, attempt: str, student: Found | None, birth_date: str, caller: str | None, now: float
    ) -> str:
        """Whether to text a code ("code_sent") or why not; failures are counted here, and
        a code to be sent is counted as pending. A withheld caller (None) is never counted
        against the student record: anyone can withhold a number, and three tries would
        lock the family out (they have a budget of their own, see try_withheld)."""
        throttles = self.throttles
        if throttles.locked("caller", caller, CALLER_LIMIT, now):
            return "caller_locked"
        if student is not None and throttles.locked("student", student.record, RECORD_LIMIT, now):
            throttles.fail(attempt, None, caller, now)
            return "locked"
        if student is None or student.birth_date != _birth_date(birth_date):
            record = student.record if student and caller else None
            throttles.fail(attempt, record, caller, now)
            return "no_match"
        if not throttles.reserve(attempt, student.record, caller, now, count_record=bool(caller)):
            return "throttled"  # codes already out and unused: don't text the family again
        return "code_sent"

    def _send(self, conversation: str, student: Found, code: str, message: str) -> None:
        """Text the code to every guardian phone on file for the student (each text's SID
        is tied to the conversation: a failed delivery reported later reaches it)."""
        body = message.replace("{code}", code)
        sent = sum(
            self.outbound.send(phone, body, allow=code, conversation=conversation, kind="code")
            for phone in self.audit.phones(student.id)
        )
        if not sent:
            log.warning("verification: no guardian phone on file could get the code")
        else:
            log.info("verification: code texted to %d phone(s) on file", sent)

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
        origin = Origin(conversation, channel, caller, stir)
        key = self.codes.key(conversation)
        status, stored, salt, tries, attempt, student, record = self.codes.take_try(key, now)
        found = Found(int(student), None, record) if student else None  # None: a decoy
        if found is not None and not self._still_listed(found):
            # Taken off the roster since the code went out (roster import --replace): its id
            # may name another child now. Tries and locks still count; nothing is read back.
            found = Found(GONE, None, record)
        # A withheld caller's failures never count against the record (see _decide).
        record_key = found.record if found and caller else None
        if status == "none":
            self.throttles.fail(secrets.token_hex(8), None, caller, now)
            return self._end(origin, "no_code", None, now)
        if status != "try":
            self.throttles.fail(attempt, record_key, caller, now)
            return self._end(origin, status, found, now)
        # Locked since the code went out: even the right code is just a wrong one now (an
        # early, different answer would tell the caller the details had matched).
        locked = self.throttles.lock_active("caller", caller, now) or (
            self.throttles.lock_active("student", found.record if found else None, now)
        )
        entered = digits(code)
        right = hmac.compare_digest(hash_code(entered, bytes.fromhex(salt)), bytes.fromhex(stored))
        if right and found is not None and not locked and len(entered) == CODE_DIGITS:
            if self.codes.delete(key) != 1:  # another request used it a moment ago
                return self._end(origin, "used", found, now)
            self.throttles.succeeded(attempt, found.record, caller)
            disclosure = self.audit.disclose(found, origin, call_id, now)
            return CodeResult.OK, disclosure
        if int(tries) >= MAX_TRIES:
            self.codes.delete(key)
            self.throttles.fail(attempt, record_key, caller, now)
            return self._end(origin, "exhausted", found, now)
        self.audit.record(origin, "check", "wrong", found, now)
        return CodeResult.WRONG, None

    def call_code(
        self,
        conversation: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str,
        lang: str,
    ) -> CallResult:
        """Say the pending code in a call to the guardian phones on file ("it's a landline").
        ``message``: the words, with ``{code}``, in the caller's language. CALLING whatever
        matched: a decoy, a lock since the code went out, a capped or failed call all sound
        alike; only the call is left out. The pending code and its tries stay as they were,
        so the code said in the call works at the same question."""
        if self.calls is None:
            return CallResult.UNAVAILABLE
        now = self.clock()
        number = caller_number(caller)
        origin = Origin(conversation, channel, number, stir)
        key = self.codes.key(conversation)
        status, attempt, student, record = self.codes.take_call(key, now)
        if status == "none":
            return CallResult.NONE
        found = Found(int(student), None, record) if student else None  # None: a decoy
        if status == "limit":
            self.audit.record(origin, "call", "call_limit", found, now)
            return CallResult.LIMIT
        outcome = self._why_not_call(found, number, now)
        # On every path (the same work, real or decoy): a code derived again under another
        # secret key (a worker started without VOICEBOT_SECRET_KEY) must not be said.
        if not self.codes.matches(key, derive_code(self.secret, attempt)) and not outcome:
            log.error("verification: no call: the code was made under another secret key")
            outcome = "call_failed"
        if not outcome and found is not None:
            outcome = self._call(found, attempt, message, lang)
        self.audit.record(origin, "call", outcome, found, now)
        return CallResult.CALLING

    def _why_not_call(self, found: Found | None, caller: str | None, now: float) -> str:
        """Why no call goes out although the caller hears that one does ("" : it goes)."""
        if found is None:
            return "no_call"  # a decoy: the details did not match
        locked = self.throttles.lock_active("caller", caller, now)
        if locked or self.throttles.lock_active("student", found.record, now):
            return "locked"  # locked since the code went out: as if nothing had matched
        if not self._still_listed(found):
            return "gone"  # taken off the roster since: its id may name another child now
        return ""

    def _call(self, found: Found, attempt: str, message: str, lang: str) -> str:
        """Call every guardian phone on file and say the code, digit by digit."""
        assert self.calls is not None
        code = derive_code(self.secret, attempt)
        words = message.replace("{code}", ", ".join(code))
        called = sum(
            self.calls.say_code(phone, words, code, lang) is Sent.SENT
            for phone in self.audit.phones(found.id)
        )
        if not called:
            log.warning("verification: no guardian phone on file could be called")
            return "call_failed"
        log.info("verification: code said in a call to %d phone(s) on file", called)
        return "code_called"

    def is_locked(self, caller: str | None) -> bool:
        """The caller number is locked: offer the transfer straight away."""
        return self.throttles.locked("caller", caller_number(caller), CALLER_LIMIT, self.clock())

    def _still_listed(self, student: Found) -> bool:
        """The student a pending code was sent for still has its id in the roster (a method
        of its own so tests can stand in for a roster import landing mid-check)."""
        return self.audit.still_listed(student)

    def _end(
        self, origin: Origin, outcome: str, student: Found | None, now: float
    ) -> tuple[CodeResult, Disclosure | None]:
        """A check that used the code up without success: recorded, and EXHAUSTED."""
        log.info("verification: code check ended (%s)", outcome)
        self.audit.record(origin, "check", outcome, student, now)
        return CodeResult.EXHAUSTED, None

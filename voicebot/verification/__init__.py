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
too, so nobody can have a family's phone texted over and over; checking the limits and
counting a new code are one Lua script, so parallel requests cannot slip past them.

A caller whose number is withheld cannot be locked by number, and must not be able to lock
a family out: such callers get 3 verifications a day in all (by the withheld value Twilio
sends, e.g. "anonymous"), refused after that like any other refusal, and their failures
never count against the student record. Every text, codes included, also counts against
the cap per phone number that Outbound keeps.

A phone on file that cannot take texts (a landline) may have the pending code said in a
phone call instead (call_code): the same code, derived again from the server's secret key
and the attempt's random id rather than kept; at most MAX_CALLS calls per code, each counted
against the same cap per number; none for a decoy or while a lock holds, though the caller
hears the same words; the pending code and its tries are left as they were.

The parts: codes (the Verifier, which decides), pending (the code waiting in Redis, and how
it is derived), throttles (failures and locks in Redis) and audit (the roster and the audit
trail in SQL); voicebot.channels.calls places the calls.
"""

from __future__ import annotations

from voicebot.verification.audit import METHOD, Disclosure
from voicebot.verification.codes import MESSAGE, CodeResult, Verifier
from voicebot.verification.common import GONE, PREFIX
from voicebot.verification.pending import CODE_DIGITS, CODE_TTL, MAX_CALLS, MAX_TRIES
from voicebot.verification.throttles import (
    CALLER_LIMIT,
    LOCK_SECONDS,
    RECORD_LIMIT,
    WINDOW,
    WITHHELD_LIMIT,
)

__all__ = [
    "CALLER_LIMIT",
    "CODE_DIGITS",
    "CODE_TTL",
    "GONE",
    "LOCK_SECONDS",
    "MAX_CALLS",
    "MAX_TRIES",
    "MESSAGE",
    "METHOD",
    "PREFIX",
    "RECORD_LIMIT",
    "WINDOW",
    "WITHHELD_LIMIT",
    "CodeResult",
    "Disclosure",
    "Verifier",
]

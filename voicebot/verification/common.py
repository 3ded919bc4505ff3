"""What the verification modules share: the student a code is for, Redis key names, and
reading what callers key and Redis answers."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date

log = logging.getLogger("voicebot.verification")

PREFIX = "vb:verify:"
MARGIN = 3600  # Redis keeps keys this much longer than the clock needs them
GONE = 0  # the id of a student taken off the roster while a code was out (ids start at 1)


@dataclass(frozen=True)
class Found:
    """The student whose details a caller gave (None where nothing matched)."""

    id: int
    birth_date: date | None
    record: str  # the key its failures and lock go by in Redis


def record_key(student_number: str) -> str:
    """Throttle key of a student record: by student number (stable across databases and
    re-imports), hashed so Redis keys don't list student numbers."""
    return pseudonym(f"student:{student_number}")


def pseudonym(value: str) -> str:
    """Keeps student and phone numbers out of Redis key names. (Not a secret: short
    numbers can be found again by trying them all; it only keeps them out of plain sight.)"""
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def as_text(value: bytes | str | None) -> str:
    """A Redis answer as text (redis-py gives bytes unless told to decode)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)

"""The disclosure guard: every text that leaves the service passes through here first.

It fails closed. A text that looks like it carries a secret (a run of more than four digits
that is not one of the district's public phone numbers) is never sent; the caller gets an
apology and support's number instead, and the block is logged without the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

log = logging.getLogger("voicebot.security")

# Digits with anything a person or a voice might put between them.
_DIGIT_RUN = re.compile(r"\d(?:[\s\-.,/()]*\d)*")


class Guard:
    def __init__(self, public_numbers: Iterable[str]) -> None:
        # Public numbers may be written with or without the country code.
        allowed: set[str] = set()
        for number in public_numbers:
            digits = re.sub(r"\D", "", number)
            if digits:
                allowed |= {digits, digits[1:] if digits.startswith("1") else digits}
        self.allowed = frozenset(allowed)

    def is_safe(self, text: str) -> bool:
        for run in _DIGIT_RUN.findall(text or ""):
            digits = re.sub(r"\D", "", run)
            if len(digits) > 4 and digits not in self.allowed:
                return False
        return True

    def check(self, text: str, where: str) -> bool:
        """True when the text may leave; otherwise log a security event (without the text)."""
        if self.is_safe(text):
            return True
        log.warning("guard blocked an outgoing text", extra={"where": where, "length": len(text)})
        return False

"""Phone numbers: one normal form (E.164) everywhere, parsed by phonenumbers."""

from __future__ import annotations

import functools

import phonenumbers

# What Twilio sends in From for callers who hide their number.
ANONYMOUS = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"}


class PhoneError(ValueError):
    """Not a usable phone number."""


def parse_phone(value: str, region: str = "US") -> str:
    """Return the E.164 form of a number written in any common US format."""
    text = (value or "").strip()
    if text.lower() in ANONYMOUS:
        raise PhoneError("no caller number (anonymous or withheld)")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number ({exc.error_type})") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=1024)
def caller_number(value: str | None) -> str | None:
    """The caller's E.164 number, or None for anonymous or unparseable caller IDs.

    Remembered for the latest callers: every turn of a call asks again for the same From.
    """
    try:
        return parse_phone(value or "")
    except PhoneError:
        return None


def display(e164: str) -> str:
    """404-802-1000 style, the way the district's help page writes its numbers."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        digits = str(number.national_number)
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def spoken(e164: str) -> str:
    """Digit by digit with pauses, so a text-to-speech voice does not say 'four hundred four'."""
    groups = display(e164).replace("+", "").replace(" ", "-").split("-")
    return ", ".join(" ".join(group) for group in groups)


def redact(e164: str | None) -> str:
    """Enough of a number for an operator to tell callers apart in a log, no more."""
    if not e164:
        return "anonymous"
    return f"***{e164[-2:]}"

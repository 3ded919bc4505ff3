"""Twilio's form fields, made safe to use: bounded, printable, of the expected kind.

Anything can arrive in a webhook (binary, huge, markup, emoji); these helpers turn it into
something the dialog can rely on instead of letting it fail deep inside a turn.
"""

from __future__ import annotations

import math
import unicodedata

from flask import request

# Errors a Twilio route answers as themselves; any other fault still gets a spoken or texted
# answer (a bad signature must stay a 403, a wrong path a 404, a GET a 405, a body too large
# to be Twilio's a 413: no apology, no transfer, no fallback counted for what is not a call).
PASS_THROUGH = frozenset({403, 404, 405, 413})

MAX_TEXT = 1600  # Twilio's own limit for an SMS body; speech results are far shorter


def form_fields() -> dict[str, str]:
    """The webhook's fields, the first value of each, as a plain dict. Werkzeug's MultiDict
    raises and catches an exception for every ``.get`` of a field that is not there, and a
    webhook leaves out most of the fields a handler looks for."""
    return request.form.to_dict()


def clean_text(value: str | None, limit: int = MAX_TEXT) -> str:
    """Printable text only: control and format characters (and NULs) become spaces."""
    text = (value or "")[:limit]
    if text.isprintable():  # no control, format or unassigned characters: nothing to replace
        return " ".join(text.split())
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch for ch in text
    )
    return " ".join(cleaned.split())


def digits(value: str | None) -> str:
    """Keypad input: 0-9, * and # only."""
    return "".join(ch for ch in (value or "")[:64] if ch in "0123456789*#").rstrip("#")


def confidence(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    if number is None or math.isnan(number) or not 0.0 <= number <= 1.0:
        return None
    return number

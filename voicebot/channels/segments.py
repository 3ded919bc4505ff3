"""How many SMS segments a reply costs, the way carriers count them.

One character outside the GSM 03.38 alphabet (a curly quote, a long dash, an emoji, most
accented capitals) switches the whole message to UCS-2 and cuts a segment from 160 to 70
characters, so replies are checked with the gsm0338 codec rather than by eye.
"""

from __future__ import annotations

import math
import unicodedata

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return False
    return True


# Look-alikes outside GSM-7 that a settings file easily holds (typographic quotes, dashes).
_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)


def plain(text: str) -> str:
    """`text` with each character outside GSM-7 replaced by its unaccented or plain form
    when that is GSM-7 ("sábado" -> "sabado"; "ñ" and "é" are GSM-7 and stay). For
    wording from the settings: one "á" would turn a whole text into UCS-2, cutting each
    segment from 160 characters to 70."""
    if is_gsm7(text):
        return text
    out = []
    for char in text.translate(_LOOKALIKES):
        if not is_gsm7(char):
            bare = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            char = bare if bare and is_gsm7(bare) else char
        out.append(char)
    return "".join(out)


def segments(text: str) -> int:
    if is_gsm7(text):
        units, single, part = len(text.encode("gsm03.38")), GSM_SINGLE, GSM_PART
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, UCS2_SINGLE, UCS2_PART
    if units <= single:
        return 1
    return math.ceil(units / part)


def fit(text: str, max_segments: int) -> str:
    """Cut a reply at a word boundary so it costs at most max_segments (a safety net)."""
    if segments(text) <= max_segments:
        return text
    words = text.split(" ")
    while words and segments(" ".join(words) + "...") > max_segments:
        words.pop()
    return " ".join(words) + "..."

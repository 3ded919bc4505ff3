"""Names as they are compared: the roster's students against the words of a question.

A name is kept as a key with its accents, apostrophes and hyphens taken out, lower-cased, so
"José", "Núñez", "O'Brien" and "Xavier-Lee" match what a parent types or a recogniser
writes: "jose", "nunez", "obrien", "xavier lee".
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['’ʼ`´]")
_POSSESSIVE = re.compile(r"['’ʼ]s$")
# Letters that carry no accent to strip but are written plain all the same.
_PLAIN = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})
_SEPARATORS = re.compile(r"[\W\d_]+")
# A word of a question, with its apostrophes ("o'brien", "sam's").
WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")


def name_key(text: str) -> str:
    """The comparable form of a name, or of a few words of a question."""
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_PLAIN)
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return _SEPARATORS.sub(" ", _APOSTROPHES.sub("", plain)).strip()


def head(word: str) -> str:
    """A word before its apostrophe ("sam's" -> "sam"): the name in a possessive."""
    return _APOSTROPHES.split(word, maxsplit=1)[0]


def head_key(word: str) -> str:
    return name_key(head(word))


def owner_key(word: str) -> str:
    """A word without its possessive ending ("o'brien's" -> "obrien")."""
    return name_key(_POSSESSIVE.sub("", word))

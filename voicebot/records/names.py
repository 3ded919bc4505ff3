"""Names as they are compared: the roster's students against the words of a question.

A name is kept as a key with its accents, apostrophes and hyphens taken out, lower-cased, so
"José", "Núñez", "O'Brien" and "Xavier-Lee" match what a parent types or a recogniser
writes: "jose", "nunez", "obrien", "xavier lee".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

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


# "my name is Rosa Díaz", "this is Rosa", "me llamo Rosa": what follows is the caller's own
# name, which the roster may not hold (a guardian, a grandmother, a neighbour helping out).
_INTRODUCTION = re.compile(
    r"\b(?:my name is|my name['’]s|this is|i am|i['’]m|me llamo|mi nombre es|soy|habla)\s+",
    re.IGNORECASE,
)
_MOST_NAME_WORDS = 3


def mask_introduced(question: str, known: Callable[[str], bool], mask: str) -> str:
    """`question` with the words after an introduction shown as `mask`: up to three, up to
    the first of the help line's own words (`known`) or a comma. Words that are not names
    ("this is ridiculous") may go too: the question then says less, but never a name."""
    out, position = [], 0
    for intro in _INTRODUCTION.finditer(question):
        if intro.start() < position:
            continue
        end = last = intro.end()
        for count, word in enumerate(WORD.finditer(question, end)):
            if count == _MOST_NAME_WORDS or question[last : word.start()].strip():
                break
            if known(word.group()):
                break
            last = word.end()
        if last > end:
            out += [question[position:end], mask]
            position = last
    return "".join(out) + question[position:]

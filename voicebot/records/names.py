"""Names as they are compared: the roster's students against the words of a question.

A name is kept as a key with its accents, apostrophes and hyphens taken out, lower-cased, so
"José", "Núñez", "O'Brien" and "Xavier-Lee" match what a parent types or a recogniser
writes: "jose", "nunez", "obrien", "xavier lee".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from voicebot.dialog.normalize import word_set

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


# "my name is Rosa Díaz", "me llamo Rosa": what follows is the caller's own name, which the
# roster may not hold (a guardian, a grandmother, a neighbour helping out). After these the
# name runs to the end of the clause, whatever its words ("Will", "de la Cruz").
_NAMED = re.compile(
    r"\b(?:(?:my )?name(?: is|['’ʼ]?s)|me llamo|mi nombre es)\s+",
    re.IGNORECASE,
)
# "this is Rosa", "I'm Rosa's grandma": a name only up to the help line's own words ("this
# is about my password" keeps "about my password").
_PERHAPS_NAMED = re.compile(
    r"\b(?:this is|i am|i['’ʼ]?m|it['’ʼ]?s|soy|habla)\s+",
    re.IGNORECASE,
)
# Where a clause goes on after a name ("my name is Rosa and I ..."): never part of it.
_AFTER_NAME = word_set(
    "and y i im my mi from calling about for with please por para porque because but pero "
    "need necesito quiero want can could do does did have has is es soy where what when "
    "how who why donde dónde como cómo que qué cuando cuándo"
)
_INSIDE_NAME = " .-/'’ʼ"  # "J. Smith", "Mary-Jane", "O'Brien"
_MOST_NAME_WORDS = 6


def mask_introduced(question: str, known: Callable[[str], bool], mask: str) -> str:
    """`question` with the caller's own name, after they introduce themselves, shown as
    `mask`. Words that are not names ("this is ridiculous") may go too: the question then
    says less, but never a name."""
    spans = [(m.end(), None) for m in _NAMED.finditer(question)]
    spans += [(m.end(), known) for m in _PERHAPS_NAMED.finditer(question)]
    out, position = [], 0
    for end, stop in sorted(spans, key=lambda span: span[0]):
        if end < position:
            continue
        last = end
        for count, word in enumerate(WORD.finditer(question, end)):
            if count == _MOST_NAME_WORDS or question[last : word.start()].strip(_INSIDE_NAME):
                break  # a comma, a question mark: the clause has ended
            text = word.group()
            if text.casefold() in _AFTER_NAME or (stop is not None and stop(text)):
                break
            last = word.end()
        if last > end:
            out += [question[position:end], mask]
            position = last
    return "".join(out) + question[position:]

"""A birth date as callers say or text it, read into the eight digits the keypad takes.

The birth-date question asks for MMDDYYYY on the keypad, but on a call people say "March
14th, 2015" (which Twilio's recogniser writes just so), "the fourteenth of March two thousand
fifteen" or "catorce de marzo de dos mil quince", and by text they write "3/14/2015". Each of
those is the same date here. Anything that could be read two ways is not read at all (only
numbers in an English conversation are taken month first, as the question asks): a misread
date costs the parent one of their few verification attempts.

Pure, cheap and never raises; nothing here is logged or kept (a birth date is half of what
verifies a caller).
"""

from __future__ import annotations

import re
from datetime import date
from itertools import combinations

from voicebot.dialog.normalize import plain_words, word_set

MONTHS: dict[str, int] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
}
ORDINALS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
    "primero": 1,
}


# Number words in order, folded (no accents); the disclosure guard counts digits with them too.
UNITS_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
UNITS_ES = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
TEENS_EN = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"]
TEENS_EN += ["seventeen", "eighteen", "nineteen"]
TEENS_ES = ["diez", "once", "doce", "trece", "catorce", "quince", "dieciseis", "diecisiete"]
TEENS_ES += ["dieciocho", "diecinueve"]
TENS_EN = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
TENS_ES = ["veinte", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta"]
TENS_ES += ["noventa"]
VEINTI = ["veintiuno", "veintidos", "veintitres", "veinticuatro", "veinticinco"]
VEINTI += ["veintiseis", "veintisiete", "veintiocho", "veintinueve"]

_DIGITS = {"oh": 0, "o": 0, "un": 1, "una": 1}
_DIGITS |= {word: i for units in (UNITS_EN, UNITS_ES) for i, word in enumerate(units)}
_TEENS = {word: 10 + i for teens in (TEENS_EN, TEENS_ES) for i, word in enumerate(teens)}
_TENS = {word: 20 + 10 * i for tens in (TENS_EN, TENS_ES) for i, word in enumerate(tens)}
_TWENTIES = {word: 21 + i for i, word in enumerate(VEINTI)}
_HUNDREDS = {"novecientos": 900, "ochocientos": 800}  # Spanish years: mil novecientos ...
_THOUSAND = {"thousand", "mil"}
_ARTICLES = {"un", "una", "o", "oh"}  # also "a", "or" and a sigh: no sign of a date alone
# Written straight after the digits: 1st, 14th, 1ro, 2do, 1º, 1ª, 1°, 1ero ("1 o 2" is "1 or 2").
_SUFFIX = re.compile(r"(?<=\d)(?:st|nd|rd|th|ro|do|to|vo|mo|ero|er|o|a|º|ª|°)(?![^\W\d_])", re.I)
# Words around a date that do not change it ("it's the 14th of March", "nació el 14 de ...").
_AROUND = word_set(
    "the of on in is its it was she he her his my our child son daughter kid born "
    "birthday birth date day month year comma um uh er so well yes yeah ok okay "
    "dob bday birthdate b d shes hes "
    "de del el la es en su mi nacio nacimiento fecha cumpleanos dia mes ano pues este "
    "please thank thanks you thats that i think guess believe gracias por favor creo "
    "monday tuesday wednesday thursday friday saturday sunday "
    "lunes martes miercoles jueves viernes sabado domingo"
)
YEARS = (1900, 2099)


def spoken_date(text: str, month_first: bool = True) -> str | None:
    """The one date `text` can be, as MMDDYYYY; None when it is no date or could be two."""
    readings = date_readings(text, month_first)
    return readings.pop() if len(readings) == 1 else None


def date_readings(text: str, month_first: bool = True) -> set[str]:
    """Every date `text` can be read as, MMDDYYYY: none, one, or several (ask again then).

    With a month name the numbers around it are day and year ("March 14 2015", "14 de marzo
    de 2015"). Without one, three numbers are month, day and year, as the question asks and
    as Americans write them ("3/14/2015"); day first when only that makes a date
    ("14/3/2015"). With ``month_first`` false (a Spanish conversation, where 4/3/2015 is
    the 4th of March) a date that works both ways has both readings.
    """
    try:
        words = _date_words(text)
    except Exception:  # pragma: no cover - reading a date must never break a turn
        return set()
    if not words or len(words) > 12:
        return set()
    if all(len(word) == 1 and word.isdigit() or word in _DIGITS for word in words):
        return set()  # digit by digit, as on the keypad: MMDDYYYY (spoken_digits reads it)
    months = [i for i, word in enumerate(words) if word in MONTHS]
    if len(months) > 1:
        return set()
    if months:
        m = months[0]
        month, rest = MONTHS[words[m]], words[:m] + words[m + 1 :]
        found = {
            (month, day, year)
            for before, after in _splits(rest, 2)
            for day, year in [(_number(before), _number(after))]
            if day is not None and year is not None
        }
        if words[:m] and words[m + 1 :]:  # "14 de marzo de 2015": only day before, year after
            found = {(month, d, y) for _, d, y in found if _number(words[:m]) == d}
        elif any(_merged(before, after) for before, after in _splits(rest, 2)):
            return set()
    else:
        found = set()
        for parts in _splits(words, 3):
            if _merged(parts[1], parts[2]):
                return set()
            first, second, year = (_number(part) for part in parts)
            if first is not None and second is not None and year is not None:
                found.add((first, second, year))
        if len(words) == 3 and len(words[0]) == 4 and words[0].isdigit():  # 2015-03-14
            found = {(second, third, first) for first, second, third in found}
        elif not month_first or not any(_valid(*one) for one in found):
            found |= {(second, first, year) for first, second, year in found}
    return {f"{m:02d}{d:02d}{y:04d}" for m, d, y in found if _valid(m, d, y)}


def date_within(text: str, month_first: bool = True) -> tuple[str, str] | None:
    """The one date in a longer message and the message without it (without the words
    around the date too, the longest span that reads as it): "her student # is 1234567
    and bday is 3/14/2015" gives 03142015 and "her student number is 1234567 and". None
    when no part of it is a date, or parts could be two different dates."""
    try:
        words = plain_words(_SUFFIX.sub("", text[:200])) if isinstance(text, str) else []
    except Exception:  # pragma: no cover - reading a date must never break a turn
        return None
    if len(words) > 30:
        return None
    found: dict[str, tuple[int, int]] = {}
    for size in range(1, min(len(words), 12) + 1):
        for start in range(len(words) - size + 1):
            span = words[start : start + size]
            if _digit_word(words[start - 1 : start]) or _digit_word(words[start + size :][:1]):
                continue  # "... six seven march 2015": the number and the date run together
            readings = date_readings(" ".join(span), month_first)
            if size == 1 and is_keyed_date(span[0]):  # "1234567 03142015"
                readings = {span[0]}
            if len(readings) > 1:
                return None
            for reading in readings:
                known = found.get(reading)
                if known is None or known[1] - known[0] < size:  # the longest span
                    found[reading] = (start, start + size)
    if len(found) != 1:
        return None
    ((reading, (start, end)),) = found.items()
    return reading, " ".join(words[:start] + words[end:])


def _digit_word(words: list[str]) -> bool:
    """Whether the word (if any) is one digit, in figures or words: part of a number said
    digit by digit."""
    return bool(words) and (len(words[0]) == 1 and words[0].isdigit() or words[0] in _DIGITS)


def is_keyed_date(digits: str) -> bool:
    """Whether digits are a date as the keypad takes it, MMDDYYYY."""
    if len(digits) != 8 or not digits.isdigit():
        return False
    return _valid(int(digits[:2]), int(digits[2:4]), int(digits[4:]))


def mentions_month(text: str) -> bool:
    """Whether `text` names a month next to a number ("may fourteenth", "julio 3"): at the
    birth-date question that is a date we could not read, not a request ("this is for
    Julio", "may I talk to someone")."""
    try:
        words = plain_words(text)
        return any(word in MONTHS for word in words) and any(
            word.isdigit() or (_small(word) is not None and word not in _ARTICLES)
            for word in words
            if word not in MONTHS
        )
    except Exception:  # pragma: no cover
        return False


def _date_words(text: str) -> list[str]:
    if not isinstance(text, str):
        return []
    return [word for word in plain_words(_SUFFIX.sub("", text[:200])) if word not in _AROUND]


def _splits(words: list[str], parts: int) -> list[list[list[str]]]:
    """Every way to cut `words` into `parts` non-empty runs, in order."""
    return [
        [words[a:b] for a, b in zip((0, *cuts), (*cuts, len(words)), strict=True)]
        for cuts in combinations(range(1, len(words)), parts - 1)
    ]


def _valid(month: int, day: int, year: int) -> bool:
    if not YEARS[0] <= year <= YEARS[1]:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _number(words: list[str]) -> int | None:
    """One number said or written in full ("14", "fourteenth", "twenty first", "two thousand
    fifteen", "twenty oh nine", "dos mil quince", "2 0 1 5"); None for anything else."""
    words = _joined(words)
    if not words or len(words) > 6:
        return None
    if len(words) == 1:
        return _small(words[0])
    if all(len(word) == 1 and word.isdigit() or word in _DIGITS for word in words):
        # Digit by digit: a year ("two oh one five") or "oh three"; "1 2" may be "1, 2".
        if len(words) == 4 or (len(words) == 2 and words[0] in ("0", "oh", "o", "zero", "cero")):
            return int("".join(word if word.isdigit() else str(_DIGITS[word]) for word in words))
        return None
    head, tail = words[0], words[1:]
    if head in _TENS and len(tail) == 1:  # twenty one, twenty first, treinta (y) uno
        unit = _DIGITS.get(tail[0]) or ORDINALS.get(tail[0])
        if unit and unit < 10:
            return _TENS[head] + unit
    thousand = next((i for i, word in enumerate(words) if word in _THOUSAND), -1)
    if thousand >= 0:  # two thousand (and) fifteen, dos mil quince, mil novecientos noventa
        before = words[:thousand]
        times = _small(before[0]) if len(before) == 1 else (1 if not before else None)
        after = words[thousand + 1 :]
        rest = _hundreds(after) if after else 0
        if times is not None and 0 < times < 10 and rest is not None:
            return times * 1000 + rest
        return None
    century = _small(head)
    if century in (19, 20) and (head.isdigit() == all(word.isdigit() for word in tail)):
        rest = _two_digits(tail)  # nineteen ninety nine, twenty oh nine, 20 15
        if rest is not None:
            return century * 100 + rest
    return None


def _joined(words: list[str]) -> list[str]:
    """Without the "and"/"y" inside a number ("two thousand and five", "treinta y uno"); any
    other "and"/"y" stays, and leaves the words no number ("the 1st and 2nd")."""
    out: list[str] = []
    for i, word in enumerate(words):
        before, after = (words[i - 1] if i else ""), (words[i + 1] if i + 1 < len(words) else "")
        if word == "and" and (before in _THOUSAND or before in ("hundred", "cien")):
            continue
        if word == "y" and before in _TENS and after in _DIGITS:
            continue
        out.append(word)
    return out


def _merged(before: list[str], after: list[str]) -> bool:
    """ "twenty two thousand five": the 20th, or "twenty-two, two thousand five" said fast."""
    return bool(before and after) and before[-1] in _TENS and after[1:2] in (["thousand"], ["mil"])


def _small(word: str) -> int | None:
    """A number one word says: 14, fourteen, fourteenth, veintiuno."""
    if word.isdigit():
        return int(word) if len(word) <= 4 else None
    for table in (_DIGITS, _TEENS, _TENS, _TWENTIES, ORDINALS):
        if word in table:
            return table[word]
    return None


def _two_digits(words: list[str]) -> int | None:
    """The last two digits of a year said in pairs: fifteen, ninety nine, oh nine, 15."""
    if len(words) == 1:
        word = words[0]
        if word.isdigit():
            return int(word) if len(word) == 2 else None
        value = _TEENS.get(word) or _TENS.get(word)
        return value
    if len(words) == 2:
        first, second = words
        if first in ("oh", "o", "zero") and second in _DIGITS and _DIGITS[second] > 0:
            return _DIGITS[second]
        if first in _TENS and second in _DIGITS and 0 < _DIGITS[second] < 10:
            return _TENS[first] + _DIGITS[second]
    return None


def _hundreds(words: list[str]) -> int | None:
    """0-999 after "thousand": fifteen, nine, novecientos noventa y nueve."""
    total = 0
    if words and words[0] in _HUNDREDS:
        total, words = _HUNDREDS[words[0]], words[1:]
    if not words:
        return total
    if len(words) == 1:
        value = _small(words[0])
        return total + value if value is not None and value < 100 else None
    rest = _two_digits(words)
    return total + rest if rest is not None else None

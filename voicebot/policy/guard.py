"""The disclosure guard: every text that leaves the service passes through here first.

It fails closed. A text that looks like it carries a secret is never sent; the caller gets an
apology and support's number instead, and the block is logged without the text. A secret is:

* a run of more than four digits that is not one of the district's public phone numbers, in
  any spacing or with any separators between the digits, digits spoken as words in English or
  Spanish included ("1 two 3 four 5", "uno dos tres cuatro cinco", "oh" for zero);
* anything that looks like a date ("03/14/2015", "2015-03-14", "March 14, 2015",
  "14 de marzo de 2015"), because a birth date is half of what verifies a caller.

The one exception is the secret the caller is meant to get: the message that delivers a
one-time code passes ``allow=code`` and that one digit string (and nothing else) may go.

The scanner is also used by :mod:`voicebot.policy.redact` to scrub logs, so it reports where in the
original text each secret-looking span is.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from voicebot.dialog.dates import (
    MONTHS,
    ORDINALS,
    TEENS_EN,
    TEENS_ES,
    TENS_EN,
    TENS_ES,
    UNITS_EN,
    UNITS_ES,
    VEINTI,
)
from voicebot.memo import Bounded
from voicebot.ops import metrics

log = logging.getLogger("voicebot.security")

MAX_DIGITS = 4  # the last four of an SSN may be said; a fifth digit never

# --- number words -------------------------------------------------------------------------
# Folded form (lower case, no accents) -> the digits they stand for. A word worth more than
# one digit counts as all of them ("twenty" is 2 digits, "thousand" 3): a number said in words
# is never shorter than the digits it hides, so over-counting only ever blocks more.
_VEINTI = [*VEINTI, "veintiun"]
_HUNDREDS_ES = {
    "cien": "100",
    "ciento": "100",
    "doscientos": "200",
    "trescientos": "300",
    "cuatrocientos": "400",
    "quinientos": "500",
    "seiscientos": "600",
    "setecientos": "700",
    "ochocientos": "800",
    "novecientos": "900",
}

ENGLISH: dict[str, str] = {word: str(i) for i, word in enumerate(UNITS_EN)}
ENGLISH |= {"oh": "0", "fourty": "40"}
ENGLISH |= {word: str(10 + i) for i, word in enumerate(TEENS_EN)}
ENGLISH |= {word: str(20 + 10 * i) for i, word in enumerate(TENS_EN)}
ENGLISH |= {"hundred": "00", "thousand": "000", "million": "000000"}

SPANISH: dict[str, str] = {word: str(i) for i, word in enumerate(UNITS_ES)}
SPANISH |= {word: str(10 + i) for i, word in enumerate(TEENS_ES)}
SPANISH |= {word: str(20 + 10 * i) for i, word in enumerate(TENS_ES)}
SPANISH |= {word: str(21 + i) for i, word in enumerate(_VEINTI[:-1])} | {"veintiun": "21"}
SPANISH |= _HUNDREDS_ES | {w[:-2] + "as": d for w, d in _HUNDREDS_ES.items() if w.endswith("os")}
SPANISH |= {"mil": "000", "millon": "000000", "millones": "000000"}

# "once" is eleven in Spanish but "one time" in English: it counts only next to Spanish.
_AMBIGUOUS = {"once"}
# Words a voice or a person puts between digits without ending the number.
_SEPARATOR_WORDS = {"dash", "hyphen", "slash", "dot", "point", "guion", "raya", "punto", "barra"}
_MULTIPLIERS = {"double": 2, "doble": 2, "triple": 3}

NUMBER_WORDS: dict[str, str] = {
    word: digits for word, digits in (ENGLISH | SPANISH).items() if word not in _AMBIGUOUS
}

# --- dates --------------------------------------------------------------------------------
_MONTHS = list(MONTHS)  # names and abbreviations, English and Spanish
_ORDINALS = list(ORDINALS)  # "first" to "ninth" come first


def _alternatives(words: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted(set(words), key=len, reverse=True)) + ")"


# "may" is also a verb ("no one may", "option 2 may"): as a month it needs a numeric day
# after it, or "of"/"de" before it.
_MONTH = _alternatives(_MONTHS) + r"\.?"
_MONTH_NOT_MAY = _alternatives(m for m in _MONTHS if m != "may") + r"\.?"
_NUM_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th|ro|o|a)?"
_WORD_DAY = (
    r"(?:(?:twenty|thirty)[\s-]+"
    + _alternatives(UNITS_EN[1:] + _ORDINALS[:9])
    + r"|treinta\s+y\s+uno|"
    + _alternatives(UNITS_EN[1:] + UNITS_ES[1:] + TEENS_EN + TEENS_ES + _ORDINALS + _VEINTI)
    + "|twenty|thirty|veinte|treinta)"
)
_DAY = f"(?:{_NUM_DAY}|{_WORD_DAY})"
_YEAR = r"(?:\s*,?\s*(?:of\s+|de\s+|del\s+)?(?:\d{4}|'\d\d))?"
_DATES = [
    # 03/14/2015, 3-14-15, 14.03.2015 (a dot only with a four-digit year: not "10.1.12")
    re.compile(r"(?<!\d)\d{1,2}\s*([/-])\s*\d{1,2}\s*\1\s*(?:\d{4}|\d{2})(?!\d)"),
    re.compile(r"(?<!\d)\d{1,2}\s*\.\s*\d{1,2}\s*\.\s*\d{4}(?!\d)"),
    # 2015-03-14, 2015/3/14
    re.compile(r"(?<!\d)\d{4}\s*([/.-])\s*\d{1,2}\s*\1\s*\d{1,2}(?!\d)"),
    # March 14, 2015 / March the fourteenth / marzo 14 / May 14
    re.compile(rf"\b{_MONTH_NOT_MAY}\s*,?\s+(?:the\s+)?{_DAY}\b{_YEAR}"),
    re.compile(rf"\bmay\.?\s*,?\s+(?:the\s+)?{_NUM_DAY}\b{_YEAR}"),
    # 14 March 2015 / the 14th of March / 14 de marzo de 2015 / 14 of May
    re.compile(rf"\b{_DAY}\s+(?:(?:of|de)\s+{_MONTH}|{_MONTH_NOT_MAY})(?![a-z]){_YEAR}"),
    # March 2015 / marzo de 2015
    re.compile(rf"\b{_MONTH}\s*,?\s+(?:of\s+|de\s+|del\s+)?(?:\d{{4}}|'\d\d)(?!\d)"),
]

_TOKEN = re.compile(
    r"(?P<digits>\d+)|(?P<word>[^\W\d_]+)|(?P<tag></?[a-z][^<>]{0,300}>)|(?P<other>.)", re.S
)


@dataclass(frozen=True)
class Span:
    """Where a secret-looking part of a text is: [start, end) in the original text."""

    start: int
    end: int
    kind: str  # "digits" or "date"


def fold(text: str) -> tuple[str, list[int]]:
    """Compatibility-normalise, lower-case and strip accents, character by character.

    Returns the folded text and, for each folded character, the index of the original
    character it came from, so findings can be mapped back (for redaction).
    """
    if text.isascii():  # nearly every text: one lower-casing, each character maps to itself
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            piece = char.lower()
        else:
            piece = unicodedata.normalize("NFKC", char)
            piece = unicodedata.normalize("NFKD", piece)
            piece = "".join(c for c in piece if not unicodedata.combining(c)).lower()
        out.append(piece)
        where.extend([index] * len(piece))
    return "".join(out), where


def _ascii_digits(run: str) -> str:
    return "".join(str(unicodedata.decimal(c, 0)) for c in run)


@dataclass
class _Group:
    digits: str
    start: int  # folded indices
    end: int
    word: str = ""  # the number word, when written as a word


def _tokens(folded: str) -> list[tuple[str, str, int, int]]:
    return [
        (m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)
    ]


def _is_spanish(group: _Group | None) -> bool:
    return bool(group and group.word and group.word in SPANISH and group.word not in ENGLISH)


def _digit_runs(folded: str) -> list[list[_Group]]:
    """Maximal sequences of digit groups with only separators between them."""
    tokens = _tokens(folded)
    runs: list[list[_Group]] = []
    current: list[_Group] = []
    repeat = 1

    def next_word(index: int) -> str:
        for kind, value, _, _ in tokens[index + 1 :]:
            if kind == "word":
                return value
            if kind == "digits":
                return ""
        return ""

    for index, (kind, value, start, end) in enumerate(tokens):
        group: _Group | None = None
        if kind == "digits":
            group = _Group(_ascii_digits(value) * repeat, start, end)
        elif kind == "word":
            if value in NUMBER_WORDS:
                group = _Group(NUMBER_WORDS[value] * repeat, start, end, value)
            elif value in _AMBIGUOUS and (
                _is_spanish(current[-1] if current else None)
                or _is_spanish(_Group("", 0, 0, next_word(index)))
            ):
                group = _Group("11" * repeat, start, end, value)
            elif value in _MULTIPLIERS:
                repeat = _MULTIPLIERS[value]
                continue
            elif value in _SEPARATOR_WORDS:
                continue
            elif value == "y" and current and current[-1].word in TENS_ES:
                continue  # "treinta y cinco": one number
            else:
                if current:
                    runs.append(current)
                current, repeat = [], 1
                continue
        else:
            continue  # spaces, punctuation, symbols, control characters, SSML tags
        repeat = 1
        last = current[-1] if current else None
        if (
            last is not None
            and group.word
            and len(group.digits) == 1
            and group.digits != "0"
            and last.word in (*TENS_EN, *TENS_ES)
        ):
            # "twenty-one", "treinta y uno": one two-digit number, not three digits
            last.digits = last.digits[0] + group.digits
            last.end = group.end
            last.word += "-" + group.word  # no longer a bare tens word: "thirty four five"
            continue
        current.append(group)
    if current:
        runs.append(current)
    return runs


def _secret_groups(run: list[_Group], allowed: frozenset[str]) -> tuple[list[tuple[int, int]], int]:
    """The parts of one run that are more than four digits once public numbers are removed,
    and the digits in the longest part that is not a public number.

    A public number counts only when it is made of whole groups ("404-802-1000", "4 0 4"), so
    it can separate a run but never hide digits inside one.
    """
    longest = max((len(number) for number in allowed), default=0)
    keep: list[bool] = [True] * len(run)
    i = 0
    while i < len(run) and allowed:
        joined = ""
        match = 0
        for j in range(i, min(len(run), i + longest)):
            joined += run[j].digits
            if len(joined) > longest:
                break
            if joined in allowed:
                match = j + 1
        if match:
            for k in range(i, match):
                keep[k] = False
            i = match
        else:
            i += 1
    found: list[tuple[int, int]] = []
    start: int | None = None
    count = 0
    widest = 0
    for index, group in enumerate([*run, None]):
        if group is not None and keep[index]:
            if start is None:
                start, count = index, 0
            count += len(group.digits)
            widest = max(widest, count)
            continue
        if start is not None and count > MAX_DIGITS:
            found.append((run[start].start, run[index - 1].end))
        start = None
    return found, widest


@dataclass(frozen=True)
class Scan:
    spans: list[Span]
    longest_number: int  # digits in the longest number that is not a public one


def scan(text: str, allowed: Iterable[str] = ()) -> Scan:
    """Every secret-looking span of the text (in original indices), dates and digit runs,
    and the length of its longest number."""
    if not text:
        return Scan([], 0)
    folded, where = fold(text)
    allowed_set = frozenset(a for a in allowed if a)
    spans: list[tuple[int, int, str]] = []
    for pattern in _DATES:
        spans += [(m.start(), m.end(), "date") for m in pattern.finditer(folded) if m.end() > 0]
    widest = 0
    for run in _digit_runs(folded):
        found, longest = _secret_groups(run, allowed_set)
        spans += [(s, e, "digits") for s, e in found]
        widest = max(widest, longest)
    result = []
    for start, end, kind in sorted(spans):
        if end > start:
            result.append(Span(where[start], where[end - 1] + 1, kind))
    return Scan(result, widest)


def find_secrets(text: str, allowed: Iterable[str] = ()) -> list[Span]:
    """Every secret-looking span of the text (in original indices), dates and digit runs."""
    return scan(text, allowed).spans


class CleanTexts(Bounded[str, bool]):
    """Texts already found clean, so a prompt said a thousand times is scanned once.

    Holds only texts that passed (see :class:`voicebot.memo.Bounded` for the bound).
    """

    def add(self, text: str) -> None:
        self.put(text, True)


def digits_of(value: str) -> str:
    return _ascii_digits("".join(c for c in value if c.isdecimal()))


class Guard:
    def __init__(self, public_numbers: Iterable[str]) -> None:
        # Public numbers may be written with or without the country code.
        allowed: set[str] = set()
        for number in public_numbers:
            digits = digits_of(number or "")
            if digits:
                allowed |= {digits, digits[1:] if digits.startswith("1") else digits}
        self.allowed = frozenset(allowed)
        self._clean = CleanTexts()

    def findings(self, text: str, allow: str | None = None) -> list[Span]:
        """What would make this text unsafe; empty when it may leave."""
        text = text or ""
        secret = digits_of(allow or "")
        if not secret and text in self._clean:
            return []
        found = scan(text, self.allowed | {secret} if secret else self.allowed)
        # Remembered: texts any caller may hear (prompts, menus, support's number). Never a
        # text with a code, or with a number of three or four digits such as a last four.
        if not found.spans and not secret and found.longest_number <= 2:
            self._clean.add(text)
        return found.spans

    def any_caller_may_hear(self, text: str) -> bool:
        """True for a text this guard has found clean with no code and no number of three or
        more digits (a prompt, a menu, support's number): the same for every caller. False
        for anything else, including texts not checked yet."""
        return text in self._clean

    def is_safe(self, text: str, allow: str | None = None) -> bool:
        return not self.findings(text, allow)

    def check(self, text: str, where: str, allow: str | None = None) -> bool:
        """True when the text may leave; otherwise log a security event (without the text).

        ``allow`` is the one secret this text is meant to carry (the one-time code in the
        message that delivers it); it lets exactly that digit string through, nothing else.
        """
        findings = self.findings(text, allow)
        if not findings:
            return True
        metrics.count_guard_block()
        kinds = ",".join(sorted({span.kind for span in findings}))
        log.warning(
            "guard blocked an outgoing text where=%s kinds=%s length=%d",
            where,
            kinds,
            len(text),
            extra={"where": where, "length": len(text), "kinds": kinds},
        )
        return False

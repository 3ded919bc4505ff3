"""What a caller keyed or said at a verification question, read as the number it asks for.

One reader per collected slot (student number, birth date, code). A reader never guesses:
a misread number costs the parent one of their few tries, so anything that reads two ways,
or looks like another number (a phone number, a date one question early), is asked again
with the reason, and spends no try.

Pure: text in, a Reading out; nothing here is logged or kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from voicebot.dialog.dates import date_readings, date_within, is_keyed_date, mentions_month
from voicebot.dialog.normalize import number_within, plain_words, several_numbers, spoken_digits

# How long a collected answer may be, by what is collected.
DIGIT_LENGTHS = {"student_number": (4, 12), "birth_date": (8, 8), "code": (6, 6)}


@dataclass(frozen=True)
class Reading:
    """One answer at a verification question.

    ``value``: the digits taken. ``sorry``: ask again with this apology ("sorry_no_match",
    "date_two_ways", "date_whole"), spending no try. ``student`` with ``value``: a student
    number and a birth date given in one answer. Neither: not a number, so words (a person,
    repeat, a question) are handled as at any other question.
    """

    value: str = ""
    sorry: str = ""
    student: str = ""

    @property
    def words(self) -> bool:
        return not (self.value or self.sorry)


AGAIN = Reading(sorry="sorry_no_match")
WORDS = Reading()


def read(collect: str, text: str, digits: str, month_first: bool, keys: Collection[str]) -> Reading:
    """The answer to the question that collects ``collect``; ``keys``: the keypad keys that
    mean something at every question (a lone "0" is a person, not a number)."""
    return READERS[collect](text, digits.strip(), month_first, keys)


def _checked(collect: str, number: str, keys: Collection[str]) -> Reading:
    """The length and form checks every slot shares, once a number was found."""
    if not number or (len(number) == 1 and number in keys):
        return WORDS  # "0", "*", or words: handled like at any other question
    low, high = DIGIT_LENGTHS[collect]
    if collect == "birth_date" and 5 <= len(number) <= 7:
        return Reading(sorry="date_whole")  # "3/14/15", "031415": most often a 2-digit year
    if not (number.isdigit() and low <= len(number) <= high):
        return AGAIN
    if collect == "birth_date" and not is_keyed_date(number):
        return AGAIN
    return Reading(value=number)


def _any_date(text: str) -> bool:
    return bool(date_readings(text, month_first=True) or date_readings(text, month_first=False))


def _number_in_words(collect: str, text: str, number: str) -> Reading | str:
    """A number said in a sentence ("her student number is 1234567"), or a reason to ask
    again: a birth date said one question early is never kept as this answer."""
    if number or not text:
        return number
    if _any_date(text):
        return AGAIN  # "march 14 2015" for the student number: not this answer, no topic
    low, high = DIGIT_LENGTHS[collect]
    return number_within(text, low, high) or ""


def read_student_number(
    text: str, digits: str, month_first: bool, keys: Collection[str]
) -> Reading:
    number = digits or spoken_digits(text) or ""
    low, high = DIGIT_LENGTHS["student_number"]
    if text and not (number and low <= len(number) <= high):
        both = _student_and_date(text, month_first, low, high)
        if both is not None:
            birth = read_birth_date("", both[1], month_first, keys)
            return Reading(value=birth.value, sorry=birth.sorry, student=both[0])
    if text and several_numbers(plain_words(text)):
        return AGAIN  # "678-555-1212", "1234567 and 2345678": a phone number, or which one?
    found = _number_in_words("student_number", text, number)
    return found if isinstance(found, Reading) else _checked("student_number", found, keys)


def read_birth_date(text: str, digits: str, month_first: bool, keys: Collection[str]) -> Reading:
    number = digits or spoken_digits(text) or ""
    if text and not digits:
        # "March 14th, 2015", "3/14/2015", "14 de marzo": a date that reads two ways is
        # asked again, saying why and how to say it so it reads one way.
        readings = date_readings(text, month_first=month_first)
        if len(readings) > 1:
            return Reading(sorry="date_two_ways")
        if not readings and not number:  # "DOB 03142015": the keypad's eight digits
            number = number_within(text, 8, 8) or ""
        written = any(c.isdigit() for c in text) and not number
        if not readings and (mentions_month(text) or written):
            return Reading(sorry="date_whole")  # "march 14", "3/14/15": no four-digit year
        number = readings.pop() if readings else number
    return _checked("birth_date", number, keys)


def read_code(text: str, digits: str, month_first: bool, keys: Collection[str]) -> Reading:
    number = digits or spoken_digits(text) or ""
    found = _number_in_words("code", text, number)
    return found if isinstance(found, Reading) else _checked("code", found, keys)


READERS: dict[str, Callable[[str, str, bool, Collection[str]], Reading]] = {
    "student_number": read_student_number,
    "birth_date": read_birth_date,
    "code": read_code,
}


def _student_and_date(text: str, month_first: bool, low: int, high: int) -> tuple[str, str] | None:
    """Both verification answers in one ("her student # is 1234567 and bday is 3/14/2015",
    "1234567 03142015"): the student number and the birth date, MMDDYYYY; None unless each
    reads one way."""
    within = date_within(text, month_first)
    if within is None or not within[1]:
        return None
    birth_date, rest = within
    if several_numbers(rest.split()):
        return None  # a phone number, two numbers: which one? Ask, do not spend a try
    student = spoken_digits(rest) or number_within(rest, low, high) or ""
    return (student, birth_date) if low <= len(student) <= high else None

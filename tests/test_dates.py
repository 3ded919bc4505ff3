"""Birth dates the way parents say and text them, read into the keypad's MMDDYYYY."""

from __future__ import annotations

import pytest

from voicebot.dialog.dates import date_readings, mentions_month, spoken_date


@pytest.mark.parametrize(
    ("said", "read"),
    [
        ("March 14th, 2015", "03142015"),  # how Twilio's recogniser writes a spoken date
        ("march fourteenth two thousand fifteen", "03142015"),
        ("the fourteenth of March, twenty fifteen", "03142015"),
        ("her birthday is march 14 2015", "03142015"),
        ("march twenty first twenty fifteen", "03212015"),
        ("june first two thousand and nine", "06012009"),
        ("july fourth twenty oh nine", "07042009"),
        ("march third nineteen ninety nine", "03031999"),
        ("May 5th 2012", "05052012"),
        ("march 14 20 15", "03142015"),
        ("3/14/2015", "03142015"),
        ("3-14-2015", "03142015"),
        ("2015-03-14", "03142015"),
        ("14/3/2015", "03142015"),  # only day-first makes a date
        ("three fourteen twenty fifteen", "03142015"),
        ("14 de marzo de 2015", "03142015"),
        ("catorce de marzo de dos mil quince", "03142015"),
        ("el 31 de diciembre del 2009", "12312009"),
        ("treinta y uno de diciembre de dos mil nueve", "12312009"),
        ("veintiuno de junio de 2010", "06212010"),
        ("1ro de mayo de 2011", "05012011"),
        ("3 de marzo de mil novecientos noventa y nueve", "03031999"),
        ("1º de junio de 2014", "06012014"),  # º folds to "o": a suffix, not a zero
        ("1ª semana", None),
        ("March 14th 2015 thank you", "03142015"),
        ("Saturday, March 14th, 2015", "03142015"),
        ("I think it's march fourteenth twenty fifteen", "03142015"),
        ("the twenty of March two thousand fifteen", "03202015"),  # day before the month
        ("march 14 two thousand and fifteen", "03142015"),
    ],
)
def test_a_date_said_or_written_naturally_is_read(said: str, read: str) -> None:
    assert spoken_date(said) == read


@pytest.mark.parametrize(
    "said",
    [
        "march 14",  # no year
        "march 2015",  # no day
        "february 30 2015",  # no such day
        "march 14 april 2015",  # two months
        "1 2 3",
        "I forgot my password",
        "",
        "03142015",  # eight keyed digits are the keypad's own path, not this one
        "march 14 1850",  # not a student's birth year
        "january twenty two thousand five",  # the 20th, or "twenty-two, two thousand five"
        "three twenty two thousand five",
        "el 1 o 2 de marzo de 2015",  # "the 1st or 2nd", not the 12th
        "1-2 de marzo de 2015",
        "the 1st and 2nd of march 2015",
        "0 1 1 1 2 0 1 0",  # digit by digit is the keypad's MMDDYYYY, read elsewhere
        "cero tres uno cuatro dos cero uno cinco",
    ],
)
def test_anything_that_is_not_one_date_is_not_read(said: str) -> None:
    assert spoken_date(said) is None


def test_a_month_next_to_a_number_is_noticed_but_a_name_or_the_verb_is_not() -> None:
    assert mentions_month("it's march fourteenth")
    assert mentions_month("catorce de marzo")
    assert mentions_month("may the first")
    assert not mentions_month("may I talk to someone")
    assert not mentions_month("I need an agent for my son Julio")
    assert not mentions_month("quiero hablar con una persona, es para Julio")
    assert not mentions_month("I forgot my password")


def test_numbers_that_read_both_ways_are_month_first_only_in_english() -> None:
    assert date_readings("4/3/2015") == {"04032015"}  # as the question asks, as Americans write
    assert date_readings("4/3/2015", month_first=False) == {"04032015", "03042015"}
    assert spoken_date("4/3/2015", month_first=False) is None
    assert date_readings("14/3/2015", month_first=False) == {"03142015"}
    assert date_readings("3/3/2015", month_first=False) == {"03032015"}


def test_hostile_input_is_not_a_date() -> None:
    assert spoken_date("march " + "1 " * 5000) is None
    assert (
        spoken_date("\x00march\u200b14\ufeff2015") == "03142015"
    )  # control characters split words
    assert spoken_date(None) is None  # type: ignore[arg-type]
    assert date_readings("1 " * 40) == set()

"""Text clean-up and spoken numbers: what the recogniser and texting do to words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicebot.dialog.normalize import normalize, number_within, spoken_digits


@pytest.mark.parametrize(
    ("heard", "plain"),
    [
        ("pass word", "password"),
        ("act of ation", "activation"),
        ("last for", "last four"),
        ("I forgot my PASS WORD!!", "i forgot my password"),
        ("act of ation key", "activation key"),
        ("what are the last for digits", "what are the last four digits"),
        ("Um, yeah so I need my user name", "i need my username"),
        ("uh the activation key please", "the activation key please"),
        ("¿Cómo obtengo mi código de activación?", "como obtengo mi codigo de activacion"),
        ("Olvidé mi CONTRASEÑA", "olvide mi contrasena"),
        ("S.S.N.-like number", "ssn like number"),
        ("s s n like number", "ssn like number"),
        ("my daughter's social security number", "my daughters ssn"),
        ("last4 of the SSN", "last four of the ssn"),
        ("los últimos 4 del seguro social", "los ultimos cuatro del ssn"),
        ("whats my usr name", "what is my username"),
        ("forgot pw pls", "forgot password please"),
        ("my key does not work", "my key doesnt work"),
        ("main many", "main menu"),
        ("e-mail", "email"),
        ("log in page", "login page"),
        ("social studies grade", "social studies grade"),
        ("she's in 4th grade and needs the key", "shes in and needs the key"),
    ],
)
def test_normalize_repairs_what_recognisers_and_thumbs_do(heard: str, plain: str) -> None:
    assert normalize(heard) == plain


@pytest.mark.parametrize("word", ["yeah", "ok", "no", "hello", "so"])
def test_a_lone_opener_is_kept_because_it_may_be_the_answer(word: str) -> None:
    assert normalize(word) == word


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "!!!", "\x00\x01", "\u0301\u0301"])
def test_normalize_of_nothing_is_empty(text: str) -> None:
    assert normalize(text) == ""


def test_normalize_cuts_huge_input_and_stays_fast() -> None:
    out = normalize("password " * 20000)
    assert out.startswith("password") and len(out) <= 1000


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("one two three four five six seven", "1234567"),
        ("1 2 3 4 5 6 7", "1234567"),
        ("1234567", "1234567"),
        ("uno dos tres", "123"),
        ("zero", "0"),
        ("cero", "0"),
        ("four oh four", "404"),
        ("double five", "55"),
        ("triple two one", "2221"),
        ("twenty three", "23"),
        ("five, five, five - one two", "55512"),
        ("press one", "1"),
        ("it's 4 4 2 1", "4421"),
        ("nueve ocho siete", "987"),
        ("one two for three", "1243"),
    ],
)
def test_spoken_digits(said: str, digits: str) -> None:
    assert spoken_digits(said) == digits


@pytest.mark.parametrize(
    "said",
    ["", "yes", "no", "for", "to", "oh", "I forgot my password", "one more time", "🙂", "uno mas"],
)
def test_words_that_are_not_a_number_are_not_digits(said: str) -> None:
    # "oh", "for" and "to" alone are words: the dialog takes a lone digit as a keypress,
    # so "oh" must not become 0 (a transfer) nor "for" a 4.
    assert spoken_digits(said) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_normalize_and_spoken_digits_never_raise(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str) and out == out.strip()
    digits = spoken_digits(text)
    assert digits is None or digits.isdigit()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_binary_looking_input_never_raises(data: bytes) -> None:
    text = data.decode("latin-1")
    assert isinstance(normalize(text), str)
    spoken_digits(text)


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("her student number is 1234567", "1234567"),
        ("1234567 is his number", "1234567"),
        ("it's one two three four five six seven", "1234567"),
        ("the code is 123 456", None),  # two groups: not guessed in a sentence
        ("1234567 for my daughter", "1234567"),  # not 12345674
        ("call me back at 404-555-0123", None),  # a phone number
        ("she was born in 2015", None),  # a year
        ("my son is in 4th grade", None),
        ("I have 2 kids and 1 account", None),
    ],
)
def test_a_number_in_a_sentence_is_taken_only_when_it_is_plainly_one(
    said: str, number: str | None
) -> None:
    assert number_within(said, 4, 12) == number

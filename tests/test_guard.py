"""The disclosure guard: no run of more than four digits (however written) and nothing
date-like leaves the service, except the district's public numbers, and a one-time code in
the one message that delivers it. Ordinary help-line sentences pass."""

from __future__ import annotations

import logging

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.helpers import logged_text
from voicebot.policy.guard import Guard

SUPPORT = "+14048021000"
guard = Guard([SUPPORT, ""])

ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPANISH = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
SEPARATORS = [" ", "-", ", ", ". ", "  ", " - ", "/", ".", "(", ") ", "\n", "\t", "\u200b", "_"]
SEPARATORS += [" dash ", "; ", " / ", "*", "#", ":", "\u00a0", " <break time='1s'/> "]


@st.composite
def written_digits(draw: st.DrawFn, digits: str) -> str:
    """The digits as a person, a voice or a bug might write them."""
    parts: list[str] = []
    previous_was_numeral = False
    for digit in digits:
        style = draw(st.sampled_from(["numeral", "english", "spanish", "oh"]))
        if style == "oh" and digit != "0":
            style = "numeral"
        word = {
            "numeral": digit,
            "english": ENGLISH[int(digit)],
            "spanish": SPANISH[int(digit)],
            "oh": "oh",
        }[style]
        word = draw(st.sampled_from([word, word.upper(), word.capitalize()]))
        if parts:
            # Numerals may touch ("123"); words need something between them.
            choices = SEPARATORS + ([""] if previous_was_numeral and style == "numeral" else [])
            parts.append(draw(st.sampled_from(choices)))
        parts.append(word)
        previous_was_numeral = style == "numeral"
    return "".join(parts)


@st.composite
def secret_in_a_sentence(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(st.text(alphabet="0123456789", min_size=5, max_size=14))
    assume(not any(public in digits for public in guard.allowed))
    before = draw(
        st.sampled_from(["", "Your number is ", "El número es: ", "SSN ", "Code: ", "(", "So "])
    )
    after = draw(st.sampled_from(["", ".", " thanks.", " gracias", ")", "!", " is on file."]))
    return digits, before + draw(written_digits(digits)) + after


@given(secret_in_a_sentence())
@example(("123456789", "123-45-6789"))
@example(("12345", "one two three four five"))
@example(("12345", "uno dos tres cuatro cinco"))
@example(("12345", "1 two 3 four 5"))
@example(("01234", "oh one two three four"))
@example(("12345", "1<break/>2<break/>3<break/>4<break/>5"))
def test_any_run_of_five_or_more_digits_is_blocked(case: tuple[str, str]) -> None:
    digits, text = case
    assert not guard.is_safe(text), text
    other = f"{(int(digits[:6]) + 1) % 10**6:06d}"
    assert not guard.is_safe(text, allow=other), "allow lets through one secret, no other"


@given(st.text(alphabet="0123456789", min_size=6, max_size=6), st.sampled_from(["en", "es"]))
def test_a_code_passes_only_in_the_message_that_delivers_it(code: str, lang: str) -> None:
    body = {
        "en": f"Your APS Parent Portal help line code is {code}. It expires in 10 minutes.",
        "es": f"Su código de la línea de ayuda es {code}. Vence en 10 minutos.",
    }[lang]
    assert not guard.is_safe(body)
    assert guard.is_safe(body, allow=code)
    assert guard.is_safe(body.replace(code, " ".join(code)), allow=code)
    assert not guard.is_safe(body + " Student 1234567.", allow=code)


ORDINARY = [
    "press",
    "reply",
    "for",
    "the",
    "portal",
    "password",
    "account",
    "school",
    "student",
    "help",
    "at",
    "least",
    "characters",
    "up",
    "to",
    "times",
    "a",
    "day",
    "grades",
    "K",
    "through",
    "again",
    "key",
    "activation",
    "create",
    "an",
    "de",
    "para",
    "oprima",
    "cuenta",
    "la",
    "contraseña",
    "hasta",
    "veces",
    "al",
    "is",
    "your",
    "child's",
    "last",
    "digits",
    "are",
    "and",
    "or",
    "visit",
    "office",
]
PUBLIC = ["404-802-1000", "(404) 802-1000", "+1 404 802 1000", "4 0 4, 8 0 2, 1 0 0 0"]


@st.composite
def help_line_sentence(draw: st.DrawFn) -> str:
    """Words, with numbers of at most four digits and public numbers between them."""
    parts = [draw(st.sampled_from(ORDINARY))]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["word", "word", "number", "public", "spelled"]))
        if kind == "number":
            parts.append(str(draw(st.integers(0, 9999))))
        elif kind == "public":
            parts.append(draw(st.sampled_from(PUBLIC)))
        elif kind == "spelled":
            parts.append(draw(st.sampled_from(ENGLISH + SPANISH)))
        # Something that is not a number always follows, as it does in a real sentence.
        parts.append(draw(st.sampled_from(ORDINARY)) + draw(st.sampled_from(["", ",", ".", ":"])))
    return " ".join(parts)


@given(help_line_sentence())
def test_ordinary_help_line_sentences_pass(text: str) -> None:
    assert guard.is_safe(text), text


@pytest.mark.parametrize(
    "text",
    [
        "404-802-1000",
        "Call support at 404-802-1000. 2 ways to get help.",
        "Support: 4 0 4, 8 0 2, 1 0 0 0.",
        "+1 (404) 802-1000",
        "at least 6 characters",
        "up to 5 times a day",
        "grades K through 12",
        "1 Activation key, 2 Create an account",
        "The last four digits are 1, 2, 3, 4. Again: 1, 2, 3, 4.",
        'The last four digits are <say-as interpret-as="digits">6789</say-as>. '
        'Again: <say-as interpret-as="digits">6789</say-as>.',
        "Los últimos cuatro dígitos son 6, 7, 8, 9. Otra vez: 6, 7, 8, 9.",
        "Press 1, 2, 3, or 4.",
        "Once you log in, press 1 once.",
        "No one may share it; option 2 may help.",
        "debe tener 3 de estos 4: letras a-z, cifras 0-9",
        "Puede pedirlo hasta 5 veces al día. Al sexto intento, la cuenta se bloquea.",
        "twenty-one, twenty-two",
        "",
    ],
)
def test_help_line_sentences_pass(text: str) -> None:
    assert guard.is_safe(text)
    assert guard.check(text, where="test")


@pytest.mark.parametrize(
    "text",
    [
        "123-45-6789",
        "1 2 3 4 5",
        "12 34 5",
        "1.2.3.4.5",
        "１２３４５",  # full-width digits
        "1\u200b2\u200b3\u200b4\u200b5",  # zero-width spaces
        "one two three four five",
        "ONE-TWO-THREE-FOUR-FIVE",
        "uno dos tres cuatro cinco",
        "1 two 3 four 5",
        "oh oh one two three",
        "double five triple six",
        "twenty one thirty four five",
        "treinta y cinco cuarenta y dos siete",
        "uno dos tres once",
        "dos mil quince",
        "404-802-1000 12345",
        "4048021000123",
        "The last four digits are 1 2 3 4, 1 2 3 4.",
    ],
)
def test_digit_runs_are_blocked(text: str) -> None:
    assert not guard.is_safe(text)


@pytest.mark.parametrize(
    "text",
    [
        "03/14/2015",
        "3-14-2015",
        "3/14/15",
        "14.03.2015",
        "2015-03-14",
        "2015/3/14",
        "March 14, 2015",
        "Born march 14 2015",
        "Mar. 14",
        "May 14",
        "the 14th of May",
        "March fourteenth, twenty fifteen",
        "March the fifth",
        "14 de marzo de 2015",
        "el 5 de marzo",
        "marzo de 2015",
        "Septiembre 3",
    ],
)
def test_dates_are_blocked(text: str) -> None:
    assert not guard.is_safe(text)
    assert not guard.is_safe(f"The birth date on file is {text}. Thanks.")


def test_public_numbers_count_with_or_without_the_country_code() -> None:
    assert Guard(["404-802-1000"]).is_safe("+1 404 802 1000")
    assert Guard(["+14048021000"]).is_safe("404.802.1000")
    assert not Guard([]).is_safe("404-802-1000")


def test_a_block_is_a_security_event_without_the_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voicebot.security")
    assert guard.check("The number is 987-65-4321", where="voice") is False
    [record] = [r for r in caplog.records if r.name == "voicebot.security"]
    assert record.levelno == logging.WARNING
    assert "blocked" in record.getMessage()
    everything = logged_text(caplog)
    for piece in ("987", "4321", "The number"):
        assert piece not in everything


# ---- remembering clean texts -------------------------------------------------------------


@given(st.lists(st.text(alphabet="0123456789 -/abcdefghijklmnopqrstuvwxyz,.", max_size=40)))
def test_a_remembered_answer_is_always_the_answer_a_fresh_scan_gives(texts: list[str]) -> None:
    remembering = Guard([SUPPORT])
    for text in texts + texts:  # every text twice: the second time may come from memory
        assert remembering.findings(text) == Guard([SUPPORT]).findings(text)


def test_only_texts_any_caller_may_hear_are_remembered() -> None:
    checker = Guard([SUPPORT])
    menu = "Press 1 for activation keys, 2 to create your account, or 0 for a person."
    support = "Call Parent Portal support at 4 0 4, 8 0 2, 1 0 0 0."
    last_four = "The last four digits of Ana's number are: 6 7 8 9."
    code = "Your Parent Portal help line code is 482913."
    secret = "Her number is 123-45-6789."

    assert checker.is_safe(menu) and checker.is_safe(support) and checker.is_safe(last_four)
    assert checker.is_safe(code, allow="482913")
    assert not checker.is_safe(secret)

    assert menu in checker._clean and support in checker._clean
    for kept_out in (last_four, code, secret):
        assert kept_out not in checker._clean, kept_out
    assert not checker.is_safe(code), "a code passes only in the message that delivers it"
    assert not checker.is_safe(secret), "a blocked text stays blocked"

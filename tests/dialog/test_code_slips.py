"""Slips and a missing text at the code question, as plain Dialog.step calls.

"I typed it wrong" and "hold on" cost no try; "I never got the text" and "it's a landline"
lead to a phone call that says the code (or to a person when no call can be placed). None
of them ever ends in "didn't catch that". The fake verifier stands in for the records and
for the call, so each outcome is chosen here.
"""

from __future__ import annotations

import pytest

from tests.dialog.fakes import (
    UTTERANCES,
    Conversation,
    FakeClassifier,
    FakeDisclosed,
    FakeVerifier,
    keys,
    question,
    talk,
    words,
)
from voicebot.config.facts import Facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.flow import Flow
from voicebot.dialog.model import CallResult, Transfer, Turn
from voicebot.verification import CodeResult

STUDENT = "1234567"
BIRTH = "03142015"
TO_THE_CODE = ["start", "press 4", "press 3", f"press {STUDENT}", f"press {BIRTH}"]
BY_TEXT = ["text last four digits", f"text {STUDENT}", f"text {BIRTH}"]

# What the code question hears, as the real intent files read it (tests/test_code_by_call.py
# plays the same sentences through the real matcher).
SLIPS: dict[str, tuple[str, float, str | None]] = {
    "sorry i typed it wrong": ("retype", 0.95, "en"),
    "let me try again": ("retype", 0.95, "en"),
    "lo marqué mal": ("retype", 0.95, "es"),
    "hold on": ("wait", 0.95, "en"),
    "i never got the text": ("text_missing", 0.95, "en"),
    "i still didn't get it": ("text_missing", 0.95, "en"),
    "it's a landline": ("code_by_call", 0.9, "en"),
    "no tengo celular": ("code_by_call", 0.9, "es"),
    "call me with it": ("callback", 0.6, "en"),
    "necesito los últimos cuatro dígitos": ("ssn_last4", 0.9, "es"),
    "i gave the wrong student number": ("start_over", 0.9, "en"),
    "no thanks": ("no", 0.95, "en"),
}


@pytest.fixture
def slips_dialog(flow: Flow, facts: Facts, verifier: FakeVerifier) -> Dialog:
    classifier = FakeClassifier(UTTERANCES | SLIPS)
    return Dialog(flow=flow, classifier=classifier, facts=facts, max_retries=2, verifier=verifier)


def never_sorry(turn: Turn) -> None:
    """Neither "didn't catch that" nor a person taking over."""
    assert not {"sorry_no_match", "sorry_no_match_again"} & set(keys(turn)), keys(turn)
    assert not any(isinstance(action, Transfer) for action in turn.actions)


def missing(call: Conversation, undelivered: bool) -> Turn:
    """ "I never got the text", with what the channel knows of the code text's delivery."""
    return call._step("input", text="i never got the text", code_undelivered=undelivered)


# ---- typing slips ---------------------------------------------------------------------


def test_i_typed_it_wrong_after_a_wrong_code_asks_again_and_spends_no_try(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.WRONG, None), (CodeResult.OK, FakeDisclosed("Maria", "6789"))]
    call = talk(slips_dialog, [*TO_THE_CODE, "press 000000"])
    assert keys(call.turns[-1]) == ["verify_code_again"]

    slip = call.say("sorry I typed it wrong")

    never_sorry(slip)
    assert keys(slip) == ["verify_code_retype"] and question(slip).digits
    assert "didn't match" not in words(slip)
    assert len(verifier.checks) == 1  # the slip itself checked nothing: no try spent
    assert keys(call.press("482913"))[0] == "read_back"


@pytest.mark.parametrize("said", ["let me try again", "hold on"])
def test_saying_it_again_or_asking_for_a_moment_repeats_the_question_never_sorry(
    slips_dialog: Dialog, verifier: FakeVerifier, said: str
) -> None:
    call = talk(slips_dialog, [*TO_THE_CODE, "say sorry I typed it wrong"])

    again = call.say(said)

    never_sorry(again)
    assert keys(again) == ["take_your_time", "verify_code_retype"]
    assert verifier.checks == []


def test_in_spanish_a_typing_slip_asks_for_the_code_in_spanish(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(slips_dialog, ["start", "press 9", "say necesito los últimos cuatro dígitos"])
    call.press(STUDENT)
    call.press(BIRTH)

    slip = call.say("lo marqué mal")

    never_sorry(slip)
    assert keys(slip) == ["verify_code_retype"] and "código" in words(slip)
    assert verifier.checks == []


# ---- a missing text -------------------------------------------------------------------


def test_a_missing_text_says_where_it_goes_and_offers_the_call(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(slips_dialog, TO_THE_CODE)

    waiting = missing(call, undelivered=False)

    never_sorry(waiting)
    assert keys(waiting) == ["verify_code_wait"]
    assert "can take a minute" in words(waiting)
    assert "For a call that says the code instead, press 1" in words(waiting)
    assert "it can't ring during this call" in words(waiting)
    assert verifier.checks == [] and verifier.calls == []  # nothing spent, nothing called yet


def test_after_an_undelivered_code_text_the_call_is_offered_straight_away(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(slips_dialog, TO_THE_CODE)

    offer = missing(call, undelivered=True)

    never_sorry(offer)
    assert keys(offer) == ["verify_code_undelivered"]
    said = words(offer)
    assert "I can call the phone on file and say the code instead" in said
    assert "If a code was sent" in said  # never that one was: the details may not match
    assert "can take a minute" not in said


def test_saying_again_and_again_that_nothing_came_leads_to_a_person_never_sorry(
    slips_dialog: Dialog,
) -> None:
    call = talk(slips_dialog, TO_THE_CODE)
    turns = [missing(call, undelivered=False)]
    turns += [call.say("i still didn't get it") for _ in range(3)]

    for turn in turns[:-1]:
        never_sorry(turn)
    assert [keys(t)[-1] for t in turns[:3]] == [
        "verify_code_wait",
        "verify_call_offer",
        "verify_code_person",
    ]
    assert isinstance(turns[-1].actions[-1], Transfer)
    assert turns[-1].actions[-1].reason == "ssn_last4"


# ---- the call -------------------------------------------------------------------------


@pytest.mark.parametrize("said", ["it's a landline", "call me with it"])
def test_a_landline_leads_to_the_offer_of_a_call(
    slips_dialog: Dialog, verifier: FakeVerifier, said: str
) -> None:
    call = talk(slips_dialog, TO_THE_CODE)

    offer = call.say(said)

    never_sorry(offer)
    assert keys(offer) == ["verify_call_offer"]
    assert "I can call the phone on file and say the code instead" in words(offer)
    assert "say yes or press 1" in words(offer)
    assert verifier.calls == []  # offered, not placed


def test_the_key_named_in_the_code_question_offers_the_call(slips_dialog: Dialog) -> None:
    call = talk(slips_dialog, TO_THE_CODE)
    assert "press 1" in words(call.turns[-1])

    offer = call.press("1")

    never_sorry(offer)
    assert keys(offer) == ["verify_call_offer"]


def test_yes_places_the_call_in_the_callers_language_and_the_same_question_waits(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.OK, FakeDisclosed("Maria", "6789"))]
    call = talk(slips_dialog, [*TO_THE_CODE, "say it's a landline"])

    calling = call.say("yes")

    assert keys(calling) == ["verify_code_calling", "verify_code_called"]
    assert "if those details match our records" in words(calling).lower()
    # the usual wait: it offers a single key ("press 1 to call again"), which Twilio sends
    # only after the Gather's timeout; silence while answering the call is kept waiting
    assert not question(calling).patient and question(calling).digits
    [placed] = verifier.calls
    assert placed["lang"] == "en" and placed["message"].count("{code}") == 2
    assert "Maria" not in placed["message"] and STUDENT not in placed["message"]
    assert calling.state.verification == "code_called"
    assert keys(call.press("482913"))[0] == "read_back"  # the code said in the call


def test_in_spanish_the_call_says_the_code_in_spanish(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(slips_dialog, ["start", "press 9", "say necesito los últimos cuatro dígitos"])
    call.press(STUDENT)
    call.press(BIRTH)
    assert keys(call.say("no tengo celular")) == ["verify_call_offer"]

    calling = call.press("1")

    [placed] = verifier.calls
    assert placed["lang"] == "es" and "Su código es {code}" in placed["message"]
    assert "llamamos al teléfono registrado" in words(calling)


@pytest.mark.parametrize(
    ("result", "why"),
    [(CallResult.LIMIT, "call_limit"), (CallResult.UNAVAILABLE, "call_unavailable")],
)
def test_when_no_call_can_be_placed_a_person_is_offered(
    slips_dialog: Dialog, verifier: FakeVerifier, result: CallResult, why: str
) -> None:
    verifier.call_results = [result]
    call = talk(slips_dialog, [*TO_THE_CODE, "say it's a landline"])

    refused = call.say("yes")

    never_sorry(refused)
    assert keys(refused) == [why, "verify_code_person"]
    assert "press 0" in words(refused)
    assert refused.state.verification != "code_called"
    assert isinstance(call.say("yes").actions[-1], Transfer)


def test_a_call_asked_for_once_the_code_expired_starts_again(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.call_results = [CallResult.NONE]
    call = talk(slips_dialog, [*TO_THE_CODE, "say it's a landline"])

    again = call.say("yes")

    assert keys(again) == ["verify_restart", "verify_student"]


def test_no_thanks_to_the_call_keeps_the_code_question(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(slips_dialog, [*TO_THE_CODE, "say it's a landline"])

    later = call.say("no thanks")

    never_sorry(later)
    assert keys(later) == ["verify_code_later"] and verifier.calls == []


def test_the_wrong_student_number_still_starts_over_from_the_code_question(
    slips_dialog: Dialog,
) -> None:
    call = talk(slips_dialog, TO_THE_CODE)
    assert keys(call.say("I gave the wrong student number")) == ["verify_student"]


# ---- by text --------------------------------------------------------------------------


def test_by_text_i_never_got_the_code_offers_the_call_and_yes_places_it(
    slips_dialog: Dialog, verifier: FakeVerifier
) -> None:
    table = SLIPS | {"last four digits": ("ssn_last4", 0.9, "en"), "yes": ("yes", 0.95, "en")}
    slips_dialog.classifier.table |= table  # type: ignore[attr-defined]
    call = talk(slips_dialog, BY_TEXT, channel="sms")
    assert keys(call.turns[-1])[-1] == "verify_code"

    waiting = missing(call, undelivered=False)

    never_sorry(waiting)
    assert "Reply YES for a call that says the code instead" in words(waiting)
    calling = call.text("yes")
    assert keys(calling) == ["verify_code_calling", "verify_code_called"]
    assert verifier.calls[0]["lang"] == "en"

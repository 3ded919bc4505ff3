"""After the code was texted or called: what parents say next, through the real webhooks.

"The call didn't come" places the second call (then says no more calls, and offers a
person); "call me again" is the code call inside verification, never a support call back;
"okay" and "thank you" place nothing; "repeat" claims no new call; a parent fetching the
report card is waited for; "I don't have that phone any more" hears that the code only
goes to the phone on file and that support can help. Details that do not match hear the
very same words at every turn. Calls have their own cap per number and day.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import BIRTH, GUARDIAN_PHONE, OTHER_PHONE, STUDENT, SUPPORT, Call, Thread
from tests.test_code_by_call import (
    LANDLINE,
    ask_for_the_call,
    at_the_code_question,
    calls_to,
    code_said,
)
from voicebot.channels.outbound import Sent
from voicebot.config import REPO_ROOT
from voicebot.dialog.flow import load_flow
from voicebot.services import services
from voicebot.verification.pending import MAX_CALLS

WRONG_BIRTH = "03152015"  # the decoy: details that do not match


def hear_all(call: Call, lines: list[str]) -> list[str]:
    """What the help line said to each line (a key press when all digits)."""
    return [(call.press(x) if x.isdigit() else call.say(x)).text for x in lines]


# ---- the call didn't come ---------------------------------------------------------------


def test_the_call_didnt_come_places_the_second_call_then_a_person_and_the_code_still_works(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    ask_for_the_call(call)
    again = call.say("I didn't get the call either")
    assert "we are calling the phone on file" in again.text and again.transfers_to is None
    assert len(calls_to(outbox)) == MAX_CALLS  # the promised second call
    used_up = call.say("the call didn't come")
    assert "only twice for each code" in used_up.text and "press 0" in used_up.text
    still = call.say("call me again")  # the code call, not "a call back from support?"
    assert "only twice for each code" in still.text and "Did you want help" not in still.text
    assert "only twice" in call.press("1").text  # "press 1 to call again", said before
    assert len(calls_to(outbox)) == MAX_CALLS
    code = code_said(calls_to(outbox)[0])
    assert "6, 7, 8, 9" in call.press(code).text  # the code is taken on every screen


def test_the_decoy_hears_the_same_words_after_the_call_didnt_come(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    lines = ["yes", "okay", "say that again", "the call didn't come", "I didn't get it"]
    lines += ["call me again", "I don't have that phone any more", "1"]
    heard = []
    for birth in (BIRTH, WRONG_BIRTH):
        call = at_the_code_question(twilio, birth)
        call.say(LANDLINE)
        heard.append(hear_all(call, lines))
    assert heard[0] == heard[1]
    assert len(calls_to(outbox)) == MAX_CALLS  # only the matching details' calls


def test_in_spanish_the_call_didnt_come_places_the_second_call(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    call.press("9")
    call.say("necesito los últimos cuatro dígitos del seguro social")
    call.press(STUDENT)
    call.press(BIRTH)
    call.say("no tengo celular")
    assert "llamamos al teléfono registrado" in call.say("sí").text
    okay = call.say("sí")  # "yes" to "we are calling": nothing more placed
    assert "Marque los 6 dígitos cuando los tenga" in okay.text and len(calls_to(outbox)) == 1
    again = call.say("no me llegó la llamada")
    assert "llamamos al teléfono registrado" in again.text and len(calls_to(outbox)) == 2
    more = call.say("llámeme otra vez")
    assert "Solo puedo llamar dos veces" in more.text and "¿Quiere ayuda" not in more.text


def test_by_text_i_still_never_got_it_offers_the_call_and_call_again_places_it(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("last four ssn")
    thread.text(STUDENT)
    said = [thread.text(BIRTH).text]
    said += [thread.text("I never got the code").text, thread.text("no").text]
    offer = thread.text("I still never got the code")
    assert "I can call the phone on file" in offer.text and "support" not in offer.text
    assert "we are calling the phone on file" in thread.text("yes").text
    assert "we are calling the phone on file" in thread.text("call again").text
    assert len(calls_to(outbox)) == 2
    # CALL ME means a call back from support in texts: the code's prompts never use it
    assert not any("CALL ME" in text for text in said)
    assert "6789" in thread.text(code_said(calls_to(outbox)[0])).text


# ---- "okay", "thank you", "repeat" after "we are calling" -------------------------------


@pytest.mark.parametrize("said", ["okay", "thank you", "got it"])
def test_okay_or_thanks_after_we_are_calling_places_no_call(
    twilio, roster, outbox, said: str
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    ask_for_the_call(call)
    reply = call.say(said)
    assert "Enter the 6 digits when you have them" in reply.text
    assert "we are calling" not in reply.text and len(calls_to(outbox)) == 1
    assert "press 1" in call.say("thank you").text and len(calls_to(outbox)) == 1


def test_repeat_after_we_are_calling_claims_no_new_call(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    ask_for_the_call(call)
    again = call.say("say that again")
    assert "answer that call" in again.text and "we are calling" not in again.text
    assert len(calls_to(outbox)) == 1


# ---- the student number, fetched ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "fetching"),
    [
        ("en", "let me go get his report card"),
        ("es", "voy a buscar la boleta de calificaciones"),
        ("es", "espere, voy a buscar la boleta"),
    ],
)
def test_fetching_the_report_card_is_waited_for_at_the_student_number(
    twilio, roster, lang: str, fetching: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    if lang == "es":
        call.press("9")
    call.say("necesito los últimos cuatro dígitos" if lang == "es" else "last four of the SSN")
    wait = call.say(fetching)
    assert ("take your time" if lang == "en" else "tómese su tiempo") in wait.text
    assert "only helps" not in wait.text and "¿Quiere ayuda" not in wait.text
    assert ("birth date" if lang == "en" else "fecha de nacimiento") in call.press(STUDENT).text


def test_i_dont_know_the_student_number_says_where_it_is_and_asks_again(twilio, roster) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    call.say("last four of the SSN")
    where = call.say("I don't know his student number")
    assert "report card or transcript" in where.text
    assert "When you have it, enter the student number" in where.text
    assert "Anything else" not in where.text
    assert "birth date" in call.press(STUDENT).text


# ---- the phone on file is an old number ---------------------------------------------------


@pytest.mark.parametrize(
    "said", ["I don't have that phone any more", "the phone on file is my old number"]
)
def test_an_old_phone_on_file_hears_support_can_help_and_no_call(
    twilio, roster, outbox, said: str
) -> None:  # type: ignore[no-untyped-def]
    heard = []
    for birth in (BIRTH, WRONG_BIRTH):
        call = at_the_code_question(twilio, birth)
        reply = call.say(said)
        heard.append(reply.text)
        assert "only go to the phone the school has on file" in reply.text
        assert "4 0 4, 8 0 2, 1 0 0 0" in reply.text and "didn't catch" not in reply.text
        assert call.say("yes").transfers_to == SUPPORT
    assert heard[0] == heard[1] and calls_to(outbox) == []


def test_by_text_an_old_phone_is_told_the_support_number_not_offered_a_call(twilio, roster) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("last four ssn")
    thread.text(STUDENT)
    thread.text(BIRTH)
    reply = thread.text("I don't have that phone any more")
    assert "404-802-1000" in reply.text and "call that says" not in reply.text


# ---- wording --------------------------------------------------------------------------------


def test_i_never_got_the_text_puts_the_likely_actions_first_and_briefly(twilio, roster) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    reply = call.say("I never got the text")
    words = reply.text.split()
    assert len(words) <= 45, reply.text
    assert reply.text.index("can take a minute") < reply.text.index("press 1")
    assert "it can't ring during this call" in reply.text
    assert len(call.say(LANDLINE).text.split()) <= 45  # the call offer


def test_the_spanish_wording_of_the_call_offer_and_the_code_texts() -> None:
    flow = load_flow(REPO_ROOT / "flows", ("en", "es"))
    es = {key: flow.prompts["es"][key] for key in flow.prompts["es"] if key.startswith("verify")}
    voice = " ".join(p["voice"] for p in es.values())
    assert "no sonará mientras esté en esta llamada" in voice and "no podrá sonar" not in voice
    texts = " ".join(p.get("sms", p["voice"]) for p in es.values())
    assert "celular registrado" not in texts  # the phone on file may be a landline


def test_the_call_warns_against_anyone_asking_for_the_code_in_both_languages(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    ask_for_the_call(at_the_code_question(twilio))
    [placed] = calls_to(outbox)
    assert "No one from APS will ask you for this code" in placed["body"]
    assert "If you did not ask for it, hang up" in placed["body"]
    flow = load_flow(REPO_ROOT / "flows", ("en", "es"))
    spanish = flow.prompts["es"]["code_call"]["voice"]
    assert "Nadie de {district_short} le pedirá este código" in spanish


# ---- calls have their own cap -----------------------------------------------------------


def test_calls_have_their_own_smaller_cap_per_number_and_day(app) -> None:  # type: ignore[no-untyped-def]
    outbound = services(app).outbound
    allowed = services(app).settings.code_calls_per_day
    assert allowed == 3
    assert [outbound.count_delivery(GUARDIAN_PHONE) for _ in range(allowed)] == [Sent.SENT] * 3
    assert outbound.count_delivery(GUARDIAN_PHONE) is Sent.LIMITED  # a fourth call: no
    assert outbound.count_delivery(OTHER_PHONE) is Sent.SENT  # another number's own cap


def test_a_call_over_the_days_cap_is_not_placed_and_sounds_the_same(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    right = ask_for_the_call(at_the_code_question(twilio))
    outbound = services(app).outbound
    limits = outbound.limits  # room for texts this hour: only the calls' own cap binds
    outbound.limits = type(limits)(20, 20, limits.calls_per_day)
    for _ in range(2):  # two more calls today, from other conversations
        assert outbound.count_delivery(GUARDIAN_PHONE) is Sent.SENT
    capped = ask_for_the_call(at_the_code_question(twilio))
    assert capped == right
    assert len(calls_to(outbox)) == 1
    assert re.search(r"we are calling the phone on file", capped[1])

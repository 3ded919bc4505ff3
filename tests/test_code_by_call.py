"""One-time codes that reach landlines: through the real webhooks, a guardian phone that
cannot take texts gets the code said in a phone call, and that same code unlocks the last
four digits. The call says the code and nothing else; the guard screens its TwiML; details
that do not match place no call and sound the same; the throttles and locks of texted
codes hold for calls; a code text reported undelivered changes what the caller is offered.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from sqlalchemy import select

from tests.fake_twilio import ACCOUNT, TOKEN, FakeTwilio
from tests.helpers import (
    BIRTH,
    GUARDIAN_PHONE,
    HELPLINE,
    OTHER_PHONE,
    STUDENT,
    SUPPORT,
    Call,
    Outbox,
    Thread,
    logged_text,
)
from voicebot.channels.calls import CodeCalls, OutboxCalls, TwilioCalls
from voicebot.channels.outbound import Sent
from voicebot.cli.simulator import SignedClient
from voicebot.records.models import VerificationAttempt
from voicebot.services import services
from voicebot.verification.common import record_key
from voicebot.verification.pending import MAX_CALLS, derive_code

LANDLINE = "I never got the text, that phone is a landline"
SPOKEN = re.compile(r"(?<!\d)\d(?:, \d){5}(?!\d)")  # "1, 2, 3, 4, 5, 6"


def calls_to(outbox: Outbox, to: str = GUARDIAN_PHONE) -> list[dict[str, str]]:
    return [m for m in outbox.messages() if m.get("channel") == "voice" and m["to"] == to]


def texts_to(outbox: Outbox, to: str = GUARDIAN_PHONE) -> list[dict[str, str]]:
    return [m for m in outbox.messages() if m.get("channel") != "voice" and m["to"] == to]


def code_said(call: dict[str, str]) -> str:
    """The code a call said twice, digit by digit, as the digits a parent keys."""
    said = {match.replace(", ", "") for match in SPOKEN.findall(call["body"])}
    assert len(said) == 1, call["body"]
    return said.pop()


def at_the_code_question(twilio: SignedClient, birth: str = BIRTH) -> Call:
    """A parent on another phone asks for the last four and gives the student's details."""
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    assert "student number" in call.say("I need the last four digits of my son's social").text
    assert "birth date" in call.press(STUDENT).text
    assert "If those details match our records" in call.press(birth).text
    return call


def ask_for_the_call(call: Call) -> tuple[str, str]:
    """ "It's a landline", then yes: what the parent heard each time."""
    offer = call.say(LANDLINE)
    assert offer.asks and offer.transfers_to is None
    calling = call.say("yes")
    assert calling.asks and calling.transfers_to is None
    return offer.text, calling.text


def attempts(app: Flask, step: str) -> list[Any]:
    """The audit trail's rows for one verification step, oldest first."""
    with services(app).engine.connect() as db:
        where = VerificationAttempt.step == step
        rows = db.execute(select(VerificationAttempt).where(where).order_by(VerificationAttempt.id))
        return list(rows)


# ---- a landline on file --------------------------------------------------------------


def test_a_landline_on_file_gets_the_code_in_a_call_and_it_unlocks_the_last_four(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    offer, calling = ask_for_the_call(call)
    assert "I can call the phone on file and say the code instead" in offer
    assert "If those details match our records, we are calling the phone on file" in calling

    [placed] = calls_to(outbox)
    assert calls_to(outbox, OTHER_PHONE) == []  # the phone on file, never the caller's
    code = code_said(placed)
    assert placed["body"].count(", ".join(code)) == 2  # said twice, digit by digit

    reply = call.press(code)
    assert "Maria" in reply.text and "6, 7, 8, 9" in reply.text
    [called] = attempts(app, "call")
    assert called.outcome == "code_called" and called.phone == OTHER_PHONE
    assert code not in json.dumps([str(v) for v in called._mapping.values()])


def test_the_code_said_in_the_call_is_the_texted_one_and_the_tries_stay_as_they_were(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    [text] = texts_to(outbox)
    assert "That code didn't match" in call.press("000000").text  # one try spent
    ask_for_the_call(call)  # placed, and (say) never answered
    code = code_said(calls_to(outbox)[0])
    assert code in text["body"]  # one code, two ways to get it
    assert "didn't match" in call.press("000001").text  # the second try
    assert "6, 7, 8, 9" in call.press(code).text  # the third still works: a call cost none


def test_the_call_says_the_code_and_nothing_about_the_child(twilio, roster, outbox, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    call = at_the_code_question(twilio)
    ask_for_the_call(call)
    [placed] = calls_to(outbox)
    code = code_said(placed)
    words = SPOKEN.sub("{code}", placed["body"])
    assert words == (
        "Hello. This is the APS Parent Portal help line. Your code is {code}. Again, your "
        "code is {code}. It expires soon. Don't share it. No one from APS will ask you for "
        "this code. If you did not ask for it, hang up. Goodbye."
    )
    for secret in ("Maria", "Lopez", STUDENT, "6789", "2015", "6, 7, 8, 9"):
        assert secret not in placed["body"]
    logged = logged_text(caplog)
    assert code not in logged and ", ".join(code) not in logged


def test_in_spanish_the_call_says_the_code_in_spanish_with_the_spanish_voice(
    app, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    guard = services(app).guard
    calls = CodeCalls(
        OutboxCalls(services(app).settings.outbox),
        services(app).outbound,
        guard,
        {
            "en": ("Polly.Joanna", "en-US"),
            "es": ("Polly.Lupe", "es-US"),
        },
    )
    twiml = ElementTree.fromstring(calls.twiml("Su código es 1, 2, 3, 4, 5, 6.", "es"))
    verbs = [child.tag for child in twiml]
    assert verbs == ["Pause", "Say", "Hangup"]
    say = twiml.find("Say")
    assert say is not None and say.get("voice") == "Polly.Lupe" and say.get("language") == "es-US"


# ---- the guard, the decoy, throttles and locks ----------------------------------------


def test_the_guard_screens_the_calls_twiml_and_nothing_else_secret_may_go(app, outbox) -> None:  # type: ignore[no-untyped-def]
    svc = services(app)
    calls = CodeCalls(
        OutboxCalls(svc.settings.outbox), svc.outbound, svc.guard, {"en": ("Polly.Joanna", "en-US")}
    )
    fine = calls.say_code(GUARDIAN_PHONE, "Your code is 4, 8, 2, 9, 1, 3.", "482913", "en")
    leaky = calls.say_code(
        GUARDIAN_PHONE, f"Your code is 4, 8, 2, 9, 1, 3, for student {STUDENT}.", "482913", "en"
    )
    born = calls.say_code(GUARDIAN_PHONE, "Code 4, 8, 2, 9, 1, 3. Born 03/14/2015.", "482913", "en")
    assert (fine, leaky, born) == (Sent.SENT, Sent.BLOCKED, Sent.BLOCKED)
    assert len(calls_to(outbox)) == 1


def test_details_that_do_not_match_place_no_call_and_sound_exactly_the_same(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    right = ask_for_the_call(at_the_code_question(twilio))
    wrong = ask_for_the_call(at_the_code_question(twilio, birth="03152015"))
    assert wrong == right
    assert len(calls_to(outbox)) == 1  # only the right details' call
    outcomes = sorted(row.outcome for row in attempts(app, "call"))
    assert outcomes == ["code_called", "no_call"]


def test_each_code_is_called_at_most_twice_and_a_person_is_offered_after(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    heard = []
    for birth in (BIRTH, "03152015"):  # the decoy reaches the same limit, the same way
        call = at_the_code_question(twilio, birth)
        ask_for_the_call(call)
        again = call.press("1")
        assert "we are calling the phone on file" in again.text
        third = call.press("1")
        heard.append(third.text)
        assert "only twice for each code" in third.text and "press 0" in third.text
        assert call.say("yes").transfers_to == SUPPORT
    assert heard[0] == heard[1]
    assert len(calls_to(outbox)) == MAX_CALLS


def test_a_record_locked_since_the_code_went_out_gets_no_call_and_hears_the_same(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    throttles = services(app).dialog.verifier.throttles  # type: ignore[union-attr]
    now = time.time()
    for attempt in ("a1", "a2", "a3"):  # three failed verifications of the record elsewhere
        throttles.fail(attempt, record_key(STUDENT), None, now)
    offer, calling = ask_for_the_call(call)
    assert "we are calling the phone on file" in calling
    assert calls_to(outbox) == []
    assert [row.outcome for row in attempts(app, "call")] == ["locked"]


def test_the_cap_per_number_counts_calls_like_texts(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)  # the code text: one of the hour's three
    outbound = services(app).outbound
    assert outbound.count_delivery(GUARDIAN_PHONE) is Sent.SENT
    assert outbound.count_delivery(GUARDIAN_PHONE) is Sent.SENT  # the hour's texts used up
    offer, calling = ask_for_the_call(call)
    assert "we are calling the phone on file" in calling  # said alike; nothing placed
    assert calls_to(outbox) == []
    assert [row.outcome for row in attempts(app, "call")] == ["call_failed"]


def test_the_code_is_derived_and_never_kept_in_redis(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    [text] = texts_to(outbox)
    code = re.search(r"\b(\d{6})\b", text["body"]).group(1)  # type: ignore[union-attr]
    redis = services(app).store.redis
    pending = redis.hgetall(f"vb:verify:code:call:{call.base['CallSid']}")
    values = {k.decode(): v.decode() for k, v in pending.items()}
    assert code not in json.dumps(values)
    secret = services(app).settings.secret_key.encode()
    assert derive_code(secret, values["attempt"]) == code
    assert derive_code(b"another key", values["attempt"]) != code


def test_a_worker_with_another_secret_key_says_no_wrong_code(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    """Workers started without a shared VOICEBOT_SECRET_KEY derive other codes: the call is
    not placed (a wrong code said to a parent would only cost them their tries)."""
    call = at_the_code_question(twilio)
    verifier = services(app).dialog.verifier
    verifier.secret = b"a key this worker made for itself"
    _, calling = ask_for_the_call(call)
    assert "we are calling the phone on file" in calling  # the caller hears the same words
    assert calls_to(outbox) == []
    [called] = attempts(app, "call")
    assert called.outcome == "call_failed"


# ---- by text, and after an undelivered code text --------------------------------------


def test_by_text_i_never_got_the_code_offers_the_call_and_its_code_works(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("I need the last 4 digits of my son's SSN")
    thread.text(STUDENT)
    assert "If those details match our records" in thread.text(BIRTH).text
    waiting = thread.text("I never got the code")
    assert "for a call that says the code" in waiting.text and "didn't catch" not in waiting.text
    assert "we are calling the phone on file" in thread.text("yes").text
    code = code_said(calls_to(outbox)[0])
    assert "6789" in thread.text(code).text


def test_an_undelivered_code_text_changes_what_the_caller_is_offered_next(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    """A signed status callback: the code text failed (30006, a landline). "I never got the
    text" is then answered with the call straight away; without it, with the wait first."""
    before = at_the_code_question(twilio)
    waiting = before.say("I never got the text")
    assert "can take a minute" in waiting.text

    call = at_the_code_question(twilio)
    sid = texts_to(outbox)[-1]["sid"]
    status = twilio.post(
        "/sms/status",
        {
            "MessageSid": sid,
            "MessageStatus": "undelivered",
            "ErrorCode": "30006",
            "To": GUARDIAN_PHONE,
            "From": HELPLINE,
            "AccountSid": ACCOUNT,
        },
    )
    assert status.status_code in (200, 204)
    conversation = f"call:{call.base['CallSid']}"
    assert services(app).deliveries.code_undelivered(conversation) == "30006"

    offer = call.say("I never got the text")
    assert "If a code was sent, it may not have reached the phone on file" in offer.text
    assert "I can call the phone on file and say the code instead" in offer.text
    assert "can take a minute" not in offer.text and "didn't catch" not in offer.text
    assert "we are calling the phone on file" in call.press("1").text
    assert "6, 7, 8, 9" in call.press(code_said(calls_to(outbox)[0])).text


# ---- Twilio's REST API ----------------------------------------------------------------


def test_with_a_twilio_account_the_call_goes_through_the_rest_api(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    fake = FakeTwilio()
    svc = services(app)
    verifier = svc.dialog.verifier
    voices = {"en": ("Polly.Joanna", "en-US"), "es": ("Polly.Lupe", "es-US")}
    transport = TwilioCalls(ACCOUNT, TOKEN, HELPLINE, http_client=fake)
    verifier.calls = CodeCalls(transport, svc.outbound, svc.guard, voices)  # type: ignore[union-attr]
    call = at_the_code_question(twilio)
    ask_for_the_call(call)
    [created] = fake.calls
    assert (created["To"], created["From"]) == (GUARDIAN_PHONE, HELPLINE)
    say = ElementTree.fromstring(created["Twiml"]).find("Say")
    assert say is not None and say.get("voice") == "Polly.Joanna"
    code = "".join(SPOKEN.findall(say.text or "")[0].split(", "))
    assert calls_to(outbox) == []  # Twilio placed it: nothing in the outbox
    assert "6, 7, 8, 9" in call.press(code).text


# ---- slips through the real matcher ---------------------------------------------------

SLIPS = {
    "en": [
        "sorry I typed it wrong",
        "let me try again",
        "wait",
        "hold on",
        "I never got the text",
        "I didn't get it",
        "it's a landline",
    ],
    "es": ["lo marqué mal", "un momento", "no me llegó el mensaje", "no tengo celular"],
}


@pytest.mark.parametrize(
    ("lang", "said"), [(lang, said) for lang, phrases in SLIPS.items() for said in phrases]
)
def test_slips_at_the_code_question_spend_no_try_and_are_never_not_understood(
    twilio, roster, outbox, lang: str, said: str
) -> None:  # type: ignore[no-untyped-def]
    """Two wrong codes, then the slip, then the right code: still the third try."""
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    if lang == "es":
        call.press("9")
        call.say("necesito los últimos cuatro dígitos del seguro social de mi hijo")
    else:
        call.say("I need the last four digits of my son's social")
    call.press(STUDENT)
    call.press(BIRTH)
    [text] = texts_to(outbox)
    code = re.search(r"\b(\d{6})\b", text["body"]).group(1)  # type: ignore[union-attr]
    for wrong in ("000000", "000001"):
        assert call.press(wrong if wrong != code else "999999").asks
    slip = call.say(said)
    sorry = "didn't catch" if lang == "en" else "no le entendí"
    assert slip.asks and slip.transfers_to is None and sorry not in slip.text.lower()
    assert calls_to(outbox) == []  # a slip places no call either
    assert "6, 7, 8, 9" in call.press(code).text


def test_a_withheld_caller_hears_the_usual_offer_after_an_undelivered_code_text(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    """Withheld callers' failures never lock the record: the different offer would let one
    guess birth dates, so they hear what a non-matching caller hears."""
    call = Call(twilio, caller="anonymous")
    call.start()
    call.say("I need the last four digits of my son's social")
    call.press(STUDENT)
    assert "If those details match our records" in call.press(BIRTH).text
    deliveries = services(app).deliveries
    deliveries.expect(texts_to(outbox)[-1]["sid"], f"call:{call.base['CallSid']}", "code")
    deliveries.record(texts_to(outbox)[-1]["sid"], "undelivered", "30006")
    offer = call.say("I never got the text")
    assert "can take a minute" in offer.text and "may not have reached" not in offer.text


def test_after_no_thanks_a_failed_code_text_changes_nothing_the_caller_hears(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    """At "enter the code when it comes" (the call declined), "I still didn't get it" gets
    the call offered whether the details matched and the text failed, or nothing matched."""
    heard = []
    for birth in (BIRTH, "01012001"):  # the real details, then a decoy
        call = at_the_code_question(twilio, birth)
        call.say("I never got the text")
        call.say("no")
        if birth == BIRTH:
            deliveries = services(app).deliveries
            sid = texts_to(outbox)[-1]["sid"]
            deliveries.expect(sid, f"call:{call.base['CallSid']}", "code")
            deliveries.record(sid, "undelivered", "30006")
        heard.append(call.say("I still didn't get the text").text)
    assert heard[0] == heard[1]
    assert "I can call the phone on file and say the code instead" in heard[0]

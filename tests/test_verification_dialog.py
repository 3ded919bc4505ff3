"""The last four digits, by phone and by text: only to a caller who knows the student number
and birth date AND holds the phone on file. Everyone else hears the same polite refusal."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.helpers import (
    BIRTH,
    GUARDIAN_PHONE,
    OTHER_PHONE,
    STUDENT,
    SUPPORT,
    Call,
    Thread,
    logged_text,
)
from voicebot.records.models import Disclosure
from voicebot.services import services


def codes_sent(outbox, to: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        re.search(r"\b(\d{6})\b", m["body"]).group(1)  # type: ignore[union-attr]
        for m in outbox.messages()
        if m["to"] == to and re.search(r"\b\d{6}\b", m["body"])
    ]


def ask_for_last_four(call: Call) -> None:
    call.start()
    reply = call.say("I need the last four numbers of my daughter's social")
    assert "student number" in reply.text and reply.asks


def at_the_birth_date_question(twilio) -> Call:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    call.press(STUDENT)
    return call


def give_details(call: Call, student: str = STUDENT, birth: str = BIRTH):  # type: ignore[no-untyped-def]
    assert "birth date" in call.press(student).text
    return call.press(birth)


def at_the_code_question(twilio) -> Call:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    give_details(call)
    return call


UNIFORM = "If those details match our records, we have texted a code to the phone number on file"
UNIFORM_ES = "Si esos datos coinciden con nuestros registros"


def test_a_guardian_on_another_phone_hears_exactly_the_last_four(
    twilio, roster, outbox, app
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE, StirVerstat="TN-Validation-Passed-A")
    ask_for_last_four(call)
    assert UNIFORM in give_details(call).text
    codes = codes_sent(outbox, GUARDIAN_PHONE)
    assert len(codes) == 1, "the code goes to the phone on file, not to the caller"
    assert codes_sent(outbox, OTHER_PHONE) == []
    reply = call.press(codes[0])
    assert "Maria" in reply.text
    assert "6, 7, 8, 9" in reply.text and reply.text.count("6, 7, 8, 9") == 2
    assert "main office" in reply.text and "photo ID" in reply.text
    assert "1, 2, 3" not in reply.text and "4, 5" not in reply.text
    with services(app).engine.connect() as db:
        assert db.scalar(select(func.count()).select_from(Disclosure)) == 1


def test_text_me_that_after_the_digits_were_read_texts_nothing(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    give_details(call)
    assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[0]).text
    before = len(outbox.messages())
    reply = call.say("can you text that to me")
    assert reply.asks and "6, 7, 8, 9" not in reply.text
    assert len(outbox.messages()) == before  # the digits are said once, never texted


@pytest.mark.parametrize(
    "said",
    [
        "I didn't get a text",
        "the code didn't come",
        "can you send it again",
    ],
)
def test_a_caller_still_waiting_for_the_code_is_told_where_it_goes_and_can_still_enter_it(
    twilio, roster, outbox, said: str
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    reply = call.say(said)
    assert "phone on file" in reply.text and "can take a minute" in reply.text and reply.asks
    assert "activation" not in reply.text.lower()
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    assert "6, 7, 8, 9" in call.press(code).text


@pytest.mark.parametrize(
    "said", ["hang on", "one sec", "one moment", "let me get it", "I'm getting it now", "wait"]
)
def test_a_parent_who_needs_a_moment_is_given_it_at_every_verification_question(
    twilio, roster, outbox, app, said: str
) -> None:  # type: ignore[no-untyped-def]
    """Once "hang on" hung up, "one sec" filed a callback and "wait" answered the locked-
    account question: now the same question comes back, and the answer still works."""
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    for question, answer in (("student number", STUDENT), ("birth date", BIRTH)):
        held = call.say(said)
        assert "take your time" in held.text and question in held.text and held.asks
        assert held.transfers_to is None and not held.heard.hung_up
        call.press(answer)
    held = call.say(said)
    assert "take your time" in held.text and "code" in held.text and held.asks
    assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[0]).text
    assert services(app).handoffs.callbacks() == []


def test_numbers_said_in_a_sentence_are_taken_at_each_question(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    assert "birth date" in call.say("her student number is 1 2 3 4 5 6 7").text
    assert UNIFORM in call.say("she was born on March 14th, 2015").text
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    assert "6, 7, 8, 9" in call.say(f"the code is {code}").text


def test_a_birth_date_said_for_the_student_number_is_asked_again_not_a_topic(
    twilio, roster
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    reply = call.say("march 14 2015")
    assert "didn't catch" in reply.text and "student number" in reply.text and reply.asks
    assert "alphanumeric" not in reply.text
    assert "birth date" in call.press(STUDENT).text


def test_after_the_read_back_repeat_says_why_not_and_the_other_child_is_one_phrase_away(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[0]).text
    again = call.say("repeat that")
    assert "only once for each code" in again.text and "6, 7, 8, 9" not in again.text
    assert again.asks
    other = call.say("and my son's too")
    assert "student number" in other.text and other.asks


def test_a_parent_asking_what_code_hears_where_it_goes_and_that_stop_blocks_it(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    reply = call.say("what code?")
    assert "phone on file" in reply.text and "can take a minute" in reply.text
    assert "activation" not in reply.text.lower() and reply.asks
    call.say("qwxz vbnm")
    options = call.say("zzkq")  # the options, spelled out: STOP on that phone blocks it
    assert "START" in options.text and "press 1" in options.text


@pytest.mark.parametrize("at", ["birth date", "code"])
def test_a_parent_who_gave_a_wrong_student_number_can_start_again(
    twilio, roster, outbox, at: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    call.press("1234568")  # one digit off
    if at == "code":
        assert UNIFORM in call.press(BIRTH).text
    again = call.say(
        "wait, that's wrong" if at == "birth date" else "I gave the wrong student number"
    )
    assert "student number" in again.text and again.asks and again.transfers_to is None
    give_details(call)
    assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[-1]).text


@pytest.mark.parametrize("said", ["she was born on 3/14/2015", "DOB 03/14/2015", "march 14 2015"])
def test_a_birth_date_at_the_student_number_question_is_never_kept_as_the_student_number(
    twilio, roster, outbox, app, said: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    reply = call.say(said)
    assert "student number" in reply.text and "birth date" not in reply.text and reply.asks
    store = services(app).store
    state = store.load(f"call:{call.base['CallSid']}")
    assert state is not None and state.student == ""
    assert "2015" not in str(state.to_dict()) and "0314" not in str(state.to_dict())


@pytest.mark.parametrize(
    "said",
    [
        "Student # 1234567, DOB 03/14/2015",
        "her student number is 1234567 and her birthday is march 14 2015",
        "1234567 03142015",
    ],
)
def test_the_student_number_and_birth_date_in_one_answer_are_both_taken(
    twilio, roster, outbox, app, caplog, said: str
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("DEBUG")
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    reply = call.say(said)
    assert UNIFORM in reply.text and reply.asks
    state = services(app).store.load(f"call:{call.base['CallSid']}")
    assert state is not None and "1234567" not in str(state.to_dict())
    assert "2015" not in str(state.to_dict()) and "0314" not in str(state.to_dict())
    assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[-1]).text
    logged = logged_text(caplog).lower()
    for secret in ("1234567", "march 14", "03/14", "2015"):
        assert secret not in logged, secret


@pytest.mark.parametrize(
    "said",
    [
        "404 555 0199 and her birthday is 3/14/2015",  # a phone number is no student number
        "my number is 678-555-1212",
        "(678) 555-1212",
        "1234567 and 2345678 born 3/14/2015",
        "march 14 2015 1234567 and 7654321",  # which of the two?
        "1 2 3 4 5 6 7 3/14/2015",  # where does the number end and the date begin?
    ],
)
def test_a_number_and_a_date_that_could_be_misread_are_asked_again_and_cost_no_try(
    twilio, roster, outbox, said: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    reply = call.say(said)
    assert reply.asks and UNIFORM not in reply.text and "birth date" not in reply.text
    assert "student number" in reply.text and codes_sent(outbox, GUARDIAN_PHONE) == []


def test_i_typed_it_wrong_after_a_wrong_code_asks_for_the_code_and_sends_no_new_one(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    call.press("000000" if code != "000000" else "111111")
    again = call.say("sorry I typed it wrong")
    assert "code" in again.text and "student number" not in again.text and again.asks
    assert len(codes_sent(outbox, GUARDIAN_PHONE)) == 1
    assert "6, 7, 8, 9" in call.press(code).text


def test_asking_for_someone_with_a_number_in_the_sentence_still_reaches_a_person(
    twilio, roster
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    assert call.say("may I speak to someone, I tried 3 times").transfers_to == SUPPORT


def test_saying_again_that_the_code_has_not_come_reaches_a_person(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    waiting = call.say("I didn't get a text")
    replies = [call.say("I still didn't get the text") for _ in range(3)]
    assert "can take a minute" in waiting.text
    assert replies[0].text != waiting.text and replies[0].asks  # not understood as new
    assert "press 0" in replies[1].text.lower()  # the options, a person among them
    assert replies[-1].transfers_to == SUPPORT


def test_asking_for_a_person_at_the_code_question_is_never_taken_for_a_missing_text(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    assert call.say("I didn't get a text, can I talk to someone").transfers_to == SUPPORT


def test_i_dont_know_at_the_birth_date_offers_a_person_not_the_main_menu(twilio, roster) -> None:  # type: ignore[no-untyped-def]
    call = at_the_birth_date_question(twilio)
    first = call.say("I don't know")
    assert "birth date" in first.text and "activation keys" not in first.text
    assert "press 0" in call.say("I don't know").text.lower()
    assert call.say("I don't know").transfers_to == SUPPORT


def test_a_read_back_is_never_kept_rendered(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    """Prompts any caller may hear are rendered once and kept; a read-back never is."""
    for _ in range(2):
        call = Call(twilio, caller=OTHER_PHONE, StirVerstat="TN-Validation-Passed-A")
        ask_for_last_four(call)
        give_details(call)
        assert "6, 7, 8, 9" in call.press(codes_sent(outbox, GUARDIAN_PHONE)[-1]).text
    rendered = services(app).rendered.values()
    assert rendered, "the prompts both calls heard are kept"
    assert not any("6, 7, 8, 9" in text or "Maria" in text for text in rendered)


def test_spoken_digits_work_for_every_step(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(call)
    call.say("one two three four five six seven")
    assert UNIFORM in call.say("zero three one four two zero one five").text
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    words = " ".join(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][int(d)]
        for d in code
    )
    assert "6, 7, 8, 9" in call.say(words).text


@pytest.mark.parametrize(
    "said",
    [
        "March 14th, 2015",  # how Twilio's recogniser writes a date said aloud
        "the fourteenth of March two thousand fifteen",
        "catorce de marzo de dos mil quince",
    ],
)
def test_a_caller_may_say_the_birth_date_the_way_people_do(
    twilio, roster, outbox, caplog, said
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("DEBUG")
    call = Call(twilio, caller=OTHER_PHONE, CallSid="CA" + "e" * 32)
    ask_for_last_four(call)
    assert "say the date" in call.press(STUDENT).text
    assert UNIFORM in call.say(said).text
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    assert "6, 7, 8, 9" in call.press(code).text
    logged = logged_text(caplog).lower()
    for secret in (said.lower(), "march 14", "fourteenth", "catorce", "2015", code):
        assert secret not in logged, secret


@pytest.mark.parametrize(
    "written",
    [
        "3/14/2015",
        "2015-03-14",
        "14/03/2015",
        "March 14, 2015 thanks",
        "DOB: 03/14/2015",
        "DOB 03142015",
        "her bday 03/14/2015",
        "shes born 3/14/2015",
    ],
)
def test_a_date_texted_as_people_write_it_works_too(twilio, roster, outbox, written) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("last 4 of my kid's social please")
    thread.text(STUDENT)
    assert UNIFORM in " ".join(thread.text(written).heard.messages)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    assert "6789" in " ".join(thread.text(code).heard.messages)


def test_in_spanish_a_date_that_reads_both_ways_is_asked_again_not_guessed(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("necesito los últimos cuatro del número de seguro social de mi hija")
    thread.text(STUDENT)
    again = " ".join(thread.text("3/4/2015").heard.messages)  # 4 March, or 3 April?
    assert "fecha de nacimiento" in again and outbox.messages() == []
    assert UNIFORM_ES in " ".join(thread.text("14 de marzo de 2015").heard.messages)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    texted = next(m["body"] for m in outbox.messages() if code in m["body"])
    assert texted.startswith("Su código") and "No lo comparta" in texted, "in Spanish too"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_birth_date_said_digit_by_digit_is_month_first_in_both_languages(
    call, roster, outbox, lang
) -> None:  # type: ignore[no-untyped-def]
    call.start()
    if lang == "es":
        call.press("9")
    call.say("the last four digits of my son's social" if lang == "en" else "los últimos cuatro")
    call.press(STUDENT)
    digits = {
        "en": "oh three one four two oh one five",
        "es": "cero tres uno cuatro dos cero uno cinco",
    }
    reply = call.say(digits[lang])
    assert (UNIFORM if lang == "en" else UNIFORM_ES) in reply.text
    assert codes_sent(outbox, GUARDIAN_PHONE)


def test_a_date_without_its_year_is_asked_again_not_taken_for_a_topic(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_birth_date_question(twilio)
    again = call.say("March 14th")
    assert "four digits of the year" in again.text and "birth date" in again.text and again.asks
    assert "Did you want help" not in again.text
    assert outbox.messages() == []
    assert UNIFORM in call.say("March 14th, 2015").text


@pytest.mark.parametrize("written", ["3/14/15", "031415", "march 14"])
def test_a_date_without_its_four_digit_year_is_told_what_is_missing(
    twilio, roster, outbox, written: str
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_birth_date_question(twilio)
    again = call.say(written) if not written.isdigit() else call.press(written)
    assert "whole birth date" in again.text and "four digits of the year" in again.text
    assert again.asks and outbox.messages() == []


def test_in_spanish_a_date_that_reads_two_ways_says_so_and_how_to_write_it(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("hola")
    thread.text("necesito los ultimos cuatro del seguro social de mi hija")
    thread.text(STUDENT)
    reply = " ".join(thread.text("3/4/2015").heard.messages)
    assert "dos maneras" in reply and "nombre del mes" in reply
    assert outbox.messages() == []


def test_wrong_spoken_date_sounds_like_a_right_one_and_sends_nothing(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = at_the_birth_date_question(twilio)
    assert UNIFORM in call.say("March 15th, 2015").text
    assert outbox.messages() == []


def test_may_at_the_birth_date_question_is_still_a_request(twilio, roster) -> None:  # type: ignore[no-untyped-def]
    call = at_the_birth_date_question(twilio)
    assert call.say("may I talk to a person please").transfers_to == SUPPORT


@pytest.mark.parametrize(
    ("student", "birth"),
    [("1234567", "03152015"), ("9999999", BIRTH), ("7654321", BIRTH)],
    ids=["wrong birth date", "unknown student", "another child's birth date"],
)
def test_wrong_details_sound_exactly_like_right_ones_and_send_nothing(
    twilio, roster, outbox, student, birth
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    reply = give_details(call, student, birth)
    assert UNIFORM in reply.text and reply.asks
    assert outbox.messages() == []
    assert "didn't match" in call.press("123456").text, "as with a real but wrong code"
    assert "didn't match" in call.press("234567").text
    failed = call.press("345678")
    assert "can't confirm those details" in failed.text and "6, 7, 8, 9" not in failed.text
    assert call.say("yes").transfers_to == SUPPORT


def test_a_wrong_code_is_asked_again_and_three_wrong_codes_end_in_an_offer(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(call)
    give_details(call)
    right = codes_sent(outbox, GUARDIAN_PHONE)[0]
    wrong = "000000" if right != "000000" else "111111"
    assert "didn't match" in call.press(wrong).text
    assert "didn't match" in call.press(wrong).text
    third = call.press(wrong)
    assert "can't confirm those details" in third.text
    assert "6, 7, 8, 9" not in call.press("2").text  # no person, thanks
    assert call.last is not None and call.last.asks


def whisper_of(call: Call, reply) -> str:  # type: ignore[no-untyped-def]
    """What the agent hears before the parent is connected."""
    from xml.etree import ElementTree

    number = ElementTree.fromstring(reply.xml).find("Dial/Number")
    assert number is not None, reply.xml
    heard = call.twilio.post(number.get("url"), {"CallSid": "CA" + "b" * 32})
    return "".join(ElementTree.fromstring(heard.get_data(as_text=True)).itertext())


def test_the_agent_is_told_how_far_a_failed_verification_got(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(call)
    give_details(call)
    right = codes_sent(outbox, GUARDIAN_PHONE)[0]
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(3):
        call.press(wrong)
    transfer = call.press("1")  # yes, a person
    assert transfer.transfers_to == SUPPORT
    whispered = whisper_of(call, transfer)
    assert "Caller verified: no." in whispered
    assert "Last four digits: not passed, too many tries." in whispered
    handoff = services(app).handoffs.recent()[0]
    summary = "\n".join(handoff["transcript"])
    assert "Last four digits: not passed: too many tries" in summary
    assert right not in whispered + summary and wrong not in summary


def test_the_agent_is_told_the_digits_were_already_read(twilio, roster, outbox, app) -> None:  # type: ignore[no-untyped-def]
    call = at_the_code_question(twilio)
    call.press(codes_sent(outbox, GUARDIAN_PHONE)[0])
    transfer = call.press("0")
    whispered = whisper_of(call, transfer)
    assert "Caller verified: yes." in whispered
    assert "Last four digits: passed, last four digits already read." in whispered
    assert "6, 7, 8, 9" not in whispered and "6789" not in whispered and "6 7 8 9" not in whispered


def test_a_code_works_only_once(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    first = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(first)
    give_details(first)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    assert "6, 7, 8, 9" in first.press(code).text
    second = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(second)
    give_details(second)
    stale = [c for c in codes_sent(outbox, GUARDIAN_PHONE) if c != code]
    assert stale, "a new code was sent for the new call"
    assert "6, 7, 8, 9" not in second.press(code).text


def test_a_code_from_another_call_does_not_work(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    mine = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(mine)
    give_details(mine)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    intruder = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(intruder)
    give_details(intruder, "9999999", BIRTH)
    assert "6, 7, 8, 9" not in intruder.press(code).text


def test_a_verification_left_for_two_minutes_starts_over(
    twilio, roster, outbox, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import voicebot.channels.voice as voice

    now = [1_000_000.0]
    monkeypatch.setattr(voice.time, "time", lambda: now[0])
    call = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(call)
    call.press(STUDENT)
    now[0] += 121
    reply = call.press(BIRTH)
    assert "took too long" in reply.text and "student number" in reply.text
    assert outbox.messages() == []


def test_three_failed_verifications_lock_the_record_uniformly(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        call = Call(twilio, caller=OTHER_PHONE)
        ask_for_last_four(call)
        give_details(call, STUDENT, "01012015")
    call = Call(twilio, caller=GUARDIAN_PHONE)
    ask_for_last_four(call)
    assert UNIFORM in give_details(call).text, "a locked record sounds like any other"
    assert codes_sent(outbox, GUARDIAN_PHONE) == [], "no code while the record is locked"


def test_five_failures_from_one_number_lock_that_number_with_an_offer(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    for attempt in range(5):
        call = Call(twilio, caller=OTHER_PHONE)
        ask_for_last_four(call)
        give_details(call, f"99999{attempt:02d}", BIRTH)
    call = Call(twilio, caller=OTHER_PHONE)
    call.start()
    reply = call.say("what are the last four digits of my son's SSN")
    assert "can't confirm those details" in reply.text and reply.asks
    assert call.press("1").transfers_to == SUPPORT


def test_verification_by_text_message(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(twilio, sender=OTHER_PHONE)
    assert "student number" in " ".join(
        thread.text("last 4 of my kid's social please").heard.messages
    )
    assert "birth date" in " ".join(thread.text(STUDENT).heard.messages)
    assert UNIFORM in " ".join(thread.text(BIRTH).heard.messages)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    text = " ".join(thread.text(code).heard.messages)
    assert "Maria" in text and "6789" in text and "main office" in text
    assert "12345" not in re.sub(r"\D", "", text)


def test_in_spanish_the_texted_code_is_never_called_a_key(twilio, roster, outbox) -> None:  # type: ignore[no-untyped-def]
    """'Clave' is the activation key, which is never texted: the one-time code is a 'codigo'."""
    thread = Thread(twilio, sender=OTHER_PHONE)
    thread.text("necesito los ultimos 4 del seguro social de mi hija")
    thread.text(STUDENT)
    asked = " ".join(thread.text(BIRTH).heard.messages)
    wrong = " ".join(thread.text("000000").heard.messages)
    assert "codigo de 6 cifras" in asked and "codigo no coincide" in wrong
    assert "clave" not in (asked + wrong).lower()


def test_no_log_line_carries_the_callers_digits(twilio, roster, outbox, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("DEBUG")
    call = Call(twilio, caller=GUARDIAN_PHONE, CallSid="CA" + "f" * 32)  # no digits by chance
    ask_for_last_four(call)
    give_details(call)
    code = codes_sent(outbox, GUARDIAN_PHONE)[0]
    call.press(code)
    logged = logged_text(caplog)
    for secret in (STUDENT, BIRTH, code, "6789", "2015-03-14", "123456789", "12345"):
        assert secret not in logged, secret


def test_a_verified_guardian_of_a_child_with_no_number_on_file_is_told_so(
    twilio, roster, outbox
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller=OTHER_PHONE)
    ask_for_last_four(call)
    give_details(call, "5555555", "06012014")
    code = codes_sent(outbox, "+14045550188")[0]
    reply = call.press(code)
    assert "don't have those digits on file" in reply.text and "main office" in reply.text

"""Recovery at every question: silence and misunderstanding are re-asked twice, then a person."""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree import ElementTree

import pytest
from flask import Flask

from tests.helpers import BIRTH, STUDENT, SUPPORT, Call
from voicebot.config import REPO_ROOT
from voicebot.config.facts import district_facts
from voicebot.config.hours import parse_hours
from voicebot.dialog.flow import load_flow
from voicebot.services import services

# The code question: the last four digits asked for by keypad, the details keyed in.
CODE_QUESTION = [("press", "4"), ("press", "3"), ("press", STUDENT), ("press", BIRTH)]

# How a caller reaches each question of the flow, from the greeting.
PATHS: dict[str, list[tuple[str, str]]] = {
    "main_menu": [],
    "menu_account": [("press", "2")],
    "menu_forgot": [("press", "3")],
    "menu_numbers": [("press", "4")],
    "menu_more": [("press", "5")],
    "reset_failed": [("hear", "the reset email never came")],
    "no_answer": [("hear", "is there a phone app for the parent portal")],
    "also_mentioned": [
        ("hear", "I forgot my username and also what are the password rules"),
        ("press", "2"),
    ],
    "verify_student": [("press", "4"), ("press", "3")],
    "verify_birth_date": [("press", "4"), ("press", "3"), ("press", STUDENT)],
    "verify_code": [("press", "4"), ("press", "3"), ("press", STUDENT), ("press", BIRTH)],
    "verify_code_wait": [
        ("press", "4"),
        ("press", "3"),
        ("press", STUDENT),
        ("press", BIRTH),
        ("say", "I didn't get the text"),
    ],
    "verify_call_offer": [*CODE_QUESTION, ("press", "1")],
    "verify_code_later": [*CODE_QUESTION, ("press", "1"), ("press", "2")],
    "verify_code_called": [*CODE_QUESTION, ("press", "1"), ("press", "1")],
    "verify_code_person": [*CODE_QUESTION, ("press", "1"), ("say", "I still didn't get it")],
    "verify_code_retype": [*CODE_QUESTION, ("say", "sorry I typed it wrong")],
    "verify_code_hold": [*CODE_QUESTION, ("press", "1"), ("press", "1"), ("hear", "okay")],
    "verify_phone_changed": [*CODE_QUESTION, ("hear", "I don't have that phone any more")],
    "verify_student_later": [
        ("press", "4"),
        ("press", "3"),
        ("hear", "I don't know his student number"),
    ],
    "verify_code_undelivered": [
        *CODE_QUESTION,
        ("undelivered", "30006"),
        ("say", "I never got the text"),
    ],
    "verify_code_again": [
        ("press", "4"),
        ("press", "3"),
        ("press", STUDENT),
        ("press", BIRTH),
        ("press", "000000"),
    ],
    "verify_failed": [
        ("press", "4"),
        ("press", "3"),
        ("press", "9999999"),
        ("press", BIRTH),
        ("press", "123456"),
        ("press", "123456"),
        ("press", "123456"),
    ],
    "anything_else": [("press", "4"), ("press", "1")],
    "offer_text": [("press", "1")],
    "confirm": [("mumble", "forgot my password")],
    "support_unavailable": [("press", "0"), ("dial", "no-answer")],
    "support_closed": [("closed", ""), ("press", "0")],
}


# The questions that wait for a one-time code: silence there is kept waiting (the text can
# take a minute, the call must be answered) until the verification's two minutes run out.
CODE_QUESTIONS = {
    name for name, spec in load_flow(REPO_ROOT / "flows").states.items() if spec.collect == "code"
}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time the help line reads; tests move it on."""
    import voicebot.channels.voice as voice

    now = [1_000_000.0]
    monkeypatch.setattr(voice.time, "time", lambda: now[0])
    return now


def past_the_wait(question: str, clock: list[float]) -> None:
    """At a code question, two minutes pass: from now on silence is a miss again."""
    if question in CODE_QUESTIONS:
        clock[0] += 121


def close_support(app: Flask) -> None:
    """Support's hours set, and none of them now: every day closed but a minute at 03:00."""
    svc = services(app)
    hours = parse_hours("America/New_York", {"mon": "03:00-03:01"}, [])
    text = {"en": "Mondays at 3 AM", "es": "los lunes a las 3"}
    svc.settings = svc.settings.with_overrides(support_hours=hours, support_hours_text=text)
    svc.dialog = replace(svc.dialog, facts=district_facts(svc.settings))
    svc.conversations.dialog = svc.dialog


def reach(call: Call, question: str, app: Flask):  # type: ignore[no-untyped-def]
    reply = call.start()
    for how, what in PATHS[question]:
        if how == "press":
            reply = call.press(what)
        elif how == "dial":
            reply = call.dial_ends(what)
        elif how == "closed":
            close_support(app)
        elif how == "undelivered":  # Twilio reports the code text undelivered (error code)
            deliveries = services(app).deliveries
            deliveries.expect("SM" + "1" * 32, f"call:{call.base['CallSid']}", "code")
            deliveries.record("SM" + "1" * 32, "undelivered", what)
        elif how == "hear":  # heard clearly
            reply = call.say(what)
        else:
            reply = call.say(what, confidence="0.05")
    return reply


def test_every_question_of_the_flow_is_covered_here() -> None:
    flow = load_flow(REPO_ROOT / "flows")
    asks = {name for name, spec in flow.states.items() if spec.type == "ask"}
    assert asks == set(PATHS), "add a path for each new question"


@pytest.fixture(autouse=True)
def _students(roster: None) -> None:
    """The verification questions need a student on file."""


@pytest.mark.parametrize("question", sorted(PATHS))
def test_each_path_reaches_its_question(call: Call, question: str, app: Flask) -> None:
    reach(call, question, app)
    state = services(app).store.load(f"call:{call.base['CallSid']}")
    assert state is not None and state.step == question


@pytest.mark.parametrize("question", sorted(PATHS))
def test_silence_is_reasked_twice_then_transferred(
    call: Call, question: str, app: Flask, clock: list[float]
) -> None:
    asked = reach(call, question, app)
    past_the_wait(question, clock)
    first, second = call.silence(), call.silence()
    assert first.asks and second.asks and first.transfers_to is None
    assert "didn't hear" in first.text
    assert first.text != second.text != asked.text
    assert_handed_over(call.silence(), question)


def assert_handed_over(reply, question: str) -> None:  # type: ignore[no-untyped-def]
    """A person takes over; when support is closed or just did not answer, the caller is
    told when to call instead of ringing into nothing again."""
    if question == "support_closed":
        assert reply.heard.hung_up and "when it is open" in reply.text
    elif question == "support_unavailable":
        assert reply.heard.hung_up and "later" in reply.text and reply.transfers_to is None
    else:
        assert reply.transfers_to == SUPPORT


@pytest.mark.parametrize("question", sorted(PATHS))
def test_misunderstanding_is_reasked_twice_then_transferred(
    call: Call, question: str, app: Flask
) -> None:
    reach(call, question, app)
    first, second = call.say("zzxq bvmn"), call.say("qwxz vbnm")
    assert first.asks and second.asks
    assert "didn't catch that" in first.text and "still didn't understand" in second.text
    assert_handed_over(call.say("zzkq"), question)


@pytest.mark.parametrize("question", sorted(PATHS))
def test_the_second_reprompt_spells_out_the_keys(
    call: Call, question: str, app: Flask, clock: list[float]
) -> None:
    reach(call, question, app)
    past_the_wait(question, clock)
    call.silence()
    assert re.search(r"press [0-9]", call.silence().text.lower())


@pytest.mark.parametrize("question", sorted(CODE_QUESTIONS))
def test_silence_while_a_code_is_on_its_way_is_kept_waiting_for_two_minutes(
    call: Call, question: str, app: Flask, clock: list[float]
) -> None:
    reach(call, question, app)
    for _ in range(5):  # 5 x 20 s of silence: the text is slow, the call being answered
        clock[0] += 20
        reply = call.silence()
        assert "I'll keep waiting" in reply.text and "didn't hear" not in reply.text
        assert reply.asks and reply.transfers_to is None
        gather = ElementTree.fromstring(reply.xml).find("Gather")
        assert gather is not None and gather.get("timeout") == "30"  # no single key asked
        assert not re.search(r"press [0-9]", reply.text.lower())
    clock[0] += 30  # past two minutes: silence is a miss again, then a person
    assert "didn't hear" in call.silence().text
    call.silence()
    assert_handed_over(call.silence(), question)


def test_the_question_after_the_call_waits_the_usual_time_for_its_single_key(
    call: Call, app: Flask
) -> None:
    reply = reach(call, "verify_code_called", app)
    assert "press 1 to call again" in reply.text
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None and gather.get("timeout") == "6"  # 1 is sent after 6 s, not 30


def test_silences_and_misses_are_counted_separately(call: Call) -> None:
    call.start()
    call.silence()
    call.silence()
    reply = call.say("qwxz vbnm")
    assert reply.asks and "didn't catch that" in reply.text


def test_a_menu_question_takes_one_key(call: Call) -> None:
    reply = call.start()
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"


def test_an_unclear_recognition_is_confirmed_before_answering(call: Call) -> None:
    call.start()
    reply = call.say("forgot my password", confidence="0.1")
    assert "Did you want help with a forgotten password?" in reply.text
    assert "Forgot Your Password" in call.say("yes").text


def test_a_wrong_guess_can_be_declined(call: Call) -> None:
    call.start()
    call.say("forgot my password", confidence="0.1")
    reply = call.say("no")
    assert "press 1 for activation keys" in reply.text

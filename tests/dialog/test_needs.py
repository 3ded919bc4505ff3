"""Several needs in one breath, long openings and honest "no answer", decided as the dialog
decides (voicebot.dialog.understanding.decide), with the real intent data and flow."""

from __future__ import annotations

import pytest

from voicebot.config import REPO_ROOT
from voicebot.dialog.flow import Flow, load_flow
from voicebot.dialog.intents import IntentMatcher
from voicebot.dialog.understanding import Decision, decide, opening


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(REPO_ROOT / "flows", ("en", "es"))


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher.from_directory(REPO_ROOT / "flows" / "intents")


def said(flow: Flow, matcher: IntentMatcher, text: str, channel: str = "voice") -> Decision:
    return decide(flow, matcher, text, opening(flow, channel, "en"))


@pytest.mark.parametrize("channel", ["voice", "sms"])
@pytest.mark.parametrize(
    ("text", "first"),
    [
        # the key question is settled: the password is what blocks them
        (
            "we set up the account with the key ages ago but now the password is gone",
            "forgot_password",
        ),
        ("ya usé la clave de activación pero ahora olvidé mi contraseña", "forgot_password"),
        # a locked account outranks the forgotten username it came from
        ("I forgot my username and asked too many times and now it says locked", "locked_out"),
        # what the form asks for is the problem, not the form
        ("I'm doing the key lookup and it wants his student number", "student_number"),
    ],
)
def test_the_need_that_blocks_the_parent_is_answered_first(
    flow: Flow, matcher: IntentMatcher, text: str, first: str, channel: str
) -> None:
    decision = said(flow, matcher, text, channel)
    assert decision.choice.intent == first
    assert decision.action in ("answer", "confirm")


def test_the_other_need_is_offered_next(flow: Flow, matcher: IntentMatcher) -> None:
    decision = said(flow, matcher, "I forgot my username and also what are the password rules")
    assert decision.choice.target == "forgot_username"
    assert decision.choice.also == "password_rules"


def test_an_answer_that_covers_the_other_need_offers_nothing_more(
    flow: Flow, matcher: IntentMatcher
) -> None:
    decision = said(flow, matcher, "my key worked last year but now I forgot my password")
    assert decision.choice.target == "forgot_password" and decision.choice.also == ""


@pytest.mark.parametrize(
    "text",
    ["I forgot my password and my username", "olvidé el usuario y también la contraseña"],
)
def test_two_needs_that_are_one_get_the_one_answer(
    flow: Flow, matcher: IntentMatcher, text: str
) -> None:
    assert said(flow, matcher, text, "sms").choice.target == "forgot_both"


@pytest.mark.parametrize(
    "text",
    [
        "hi yes so I was trying to get into the parent portal and it would not let me in",
        "yeah okay so basically I can't get logged in to the portal at all",
    ],
)
def test_a_long_opening_is_never_a_bare_yes(flow: Flow, matcher: IntentMatcher, text: str) -> None:
    decision = said(flow, matcher, text)
    assert decision.choice.intent not in ("yes", "no")
    assert decision.choice.target is not None


def test_a_short_yes_is_still_a_yes(matcher: IntentMatcher) -> None:
    assert matcher.classify("yes please").intent == "yes"
    assert matcher.classify("no thank you i am all set").intent == "no"


@pytest.mark.parametrize(
    "text",
    [
        "can my husband and I each have our own login",
        "is there a parent portal app for android",
        "do I need a new key for every one of my kids",
        "la página muestra una escuela que no es la de mi hijo",
    ],
)
def test_a_question_the_help_page_does_not_answer_gets_the_honest_answer(
    flow: Flow, matcher: IntentMatcher, text: str
) -> None:
    decision = said(flow, matcher, text)
    assert decision.choice.intent == "no_answer"
    assert decision.action == "offer a person"


def test_a_fragment_is_no_question_of_its_own(flow: Flow, matcher: IntentMatcher) -> None:
    # "... and email in the portal" is part of the household request, not a question
    decision = said(flow, matcher, "I need to change my phone number and email in the portal")
    assert decision.choice.target == "update_household_info"


@pytest.mark.parametrize(
    "text",
    ["I need to enroll my daughter in kindergarten", "necesito inscribir a mi hijo en la escuela"],
)
def test_enrolling_a_child_is_the_schools_business(
    flow: Flow, matcher: IntentMatcher, text: str
) -> None:
    assert said(flow, matcher, text).choice.intent == "out_of_scope"


def test_asking_for_a_person_wins_over_every_need(flow: Flow, matcher: IntentMatcher) -> None:
    decision = said(flow, matcher, "I forgot my password and my username, just get me a person")
    assert decision.action == "hand over"

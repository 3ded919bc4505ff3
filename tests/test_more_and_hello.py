"""After an answer: "what else?" asks for more and never ends the call; "more" with nothing
more is understood; a hello at the menu gets a short question; a withheld caller who asks
for a text is told why not; 9 part-way through says the last answer again in Spanish.
Through the real webhooks (tests/helpers.py)."""

from __future__ import annotations

import pytest

from tests.helpers import Call, Outbox, Thread

GOODBYE = "Goodbye"


@pytest.mark.parametrize(
    ("asked", "rest"),
    [
        ("how do I create an account", "click Create Account"),
        ("what are the password rules", "three of these four"),
    ],
)
@pytest.mark.parametrize("what_else", ["what else", "anything else", "what else?"])
def test_what_else_after_a_long_answer_is_its_rest_never_goodbye(
    call: Call, asked: str, rest: str, what_else: str
) -> None:
    call.start()
    call.say(asked)
    reply = call.say(what_else)
    assert rest in reply.text and reply.asks and not reply.heard.hung_up
    assert GOODBYE not in reply.text


@pytest.mark.parametrize(
    "asked",
    [
        "how do I get an activation key",
        "I forgot my password",
        "I'm locked out",
        "what do I need to register",
        "where do I find the student number",
        "what is the SSN-like number",
    ],
)
@pytest.mark.parametrize("more", ["what else", "anything else", "more", "tell me more"])
def test_more_where_there_is_nothing_more_is_said_kindly(call: Call, asked: str, more: str) -> None:
    call.start()
    call.say(asked)
    reply = call.say(more)
    assert "That's all I have on that." in reply.text and "Anything else?" in reply.text
    assert "catch" not in reply.text and GOODBYE not in reply.text and reply.asks


def test_the_rest_said_more_is_that_all_and_repeat_still_says_the_rest(call: Call) -> None:
    call.start()
    call.say("how do I create an account")
    assert "click Create Account" in call.say("what's next").text
    again = call.say("more")
    assert "That's all I have on that." in again.text and "Create Account" not in again.text
    assert "click Create Account" in call.press("*").text
    assert GOODBYE in call.say("no that's all").text and call.last is not None
    assert call.last.heard.hung_up


@pytest.mark.parametrize(("asked", "more"), [("dónde está el número de estudiante", "qué más")])
def test_spanish_nothing_more(call: Call, asked: str, more: str) -> None:
    call.start()
    call.press("9")
    call.say(asked)
    reply = call.say(more)
    assert "Eso es todo lo que tengo sobre ese tema." in reply.text and "¿Algo más?" in reply.text


@pytest.mark.parametrize("what_else", ["what else", "anything else"])
def test_by_text_what_else_never_ends_the_thread(thread: Thread, what_else: str) -> None:
    thread.text("where do I find my child's student number")
    reply = thread.text(what_else)
    assert "That's all I have on that." in reply.text and "Thanks for contacting" not in reply.text


def test_spanish_text_nothing_more(thread: Thread) -> None:
    thread.text("dónde encuentro el número de estudiante de mi hijo")
    reply = thread.text("qué más")
    assert "Eso es todo lo que tengo sobre ese tema." in reply.text


@pytest.mark.parametrize("hello", ["hello", "um", "hi there", "good morning"])
def test_a_hello_at_the_menu_is_not_a_miss(call: Call, hello: str) -> None:
    call.start()
    call.say("blah blah")  # one real miss first
    reply = call.say(hello)
    assert "What can I help you with?" in reply.text and "press 1" not in reply.text
    call.say("qwxz vbnm")  # the second miss: the hello did not count
    assert call.say("I forgot my password").transfers_to is None


def test_no_entiendo_at_the_spanish_menu_gives_the_options_not_the_welcome(call: Call) -> None:
    call.start()
    call.press("9")
    reply = call.say("no entiendo")
    assert "oprima 1 para claves de activación" in reply.text
    assert "bienvenida" not in reply.text and "Para español" not in reply.text


@pytest.mark.parametrize(
    ("asked", "heard"),
    [
        ("how do I get an activation key", "tiny A P S dot com"),
        ("what are the password rules", "at least 6 characters"),
    ],
)
@pytest.mark.parametrize("text_me", ["text me the link", "text it to me", "text me that"])
def test_a_withheld_caller_asking_for_a_text_is_told_why_not(
    twilio, outbox: Outbox, asked: str, heard: str, text_me: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller="anonymous")
    call.start()
    call.say(asked)
    reply = call.say(text_me)
    assert "can't send a text to this number" in reply.text and "say repeat" in reply.text
    assert "login page is" not in reply.text and "press 1" not in reply.text
    assert heard in call.say("repeat").text
    assert outbox.messages() == []


def test_nine_part_way_through_says_the_last_answer_again_in_spanish(call: Call) -> None:
    call.start()
    call.say("I forgot my password")
    reply = call.press("9")
    assert "elija Forgot Your Password" in reply.text
    assert "¿Se lo envío por texto?" in reply.text

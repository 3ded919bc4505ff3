"""A caller on the phone, turn by turn through the engine: menus, answers, the text offer,
"repeat", a weak guess confirmed, and Spanish."""

from __future__ import annotations

import re

from tests.dialog.fakes import Conversation, keys, kinds, of_type, question, talk, words
from voicebot.config.facts import Facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.flow import Flow
from voicebot.dialog.model import Ask, Say, SendText

# An activation key looks like a long run of letters and digits; the help line has none.
KEY_LIKE = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{10,}\b")


def test_a_call_starts_with_the_welcome_and_the_main_menu(dialog: Dialog, facts: Facts) -> None:
    turn = Conversation(dialog).start()

    assert kinds(turn) == ["Say", "Ask"]
    assert keys(turn) == ["welcome", "main_menu_brief"]  # the choices come when asked for
    assert facts["voice"]["en"]["district"] in turn.actions[0].text
    menu = question(turn)
    assert menu.num_digits == 1 and not menu.digits  # a menu choice, not a number to collect
    assert "activation key" in menu.hints  # the flow's hints, for the speech recogniser
    assert turn.state.step == "main_menu" and turn.state.lang == "en"


def test_pressing_1_answers_the_activation_key_question_and_offers_a_text(
    dialog: Dialog, facts: Facts
) -> None:
    call = talk(dialog, ["start"])
    turn = call.press("1")

    assert keys(turn) == ["activation_key", "offer_text"]
    answer = turn.actions[0].text
    assert "can't be given over the phone" in answer
    assert facts["voice"]["en"]["lookup_url"] not in answer  # texted first, not read out
    assert "photo ID" in answer
    assert turn.state.step == "offer_text"
    assert turn.state.topic == "activation_key" and turn.state.topics == ["activation_key"]


def test_an_activation_key_is_never_given_whatever_the_caller_says(dialog: Dialog) -> None:
    by_key = talk(dialog, ["start", "press 1"]).turns[-1]
    by_words = talk(dialog, ["start", "say activation key"]).turns[-1]
    by_text = talk(dialog, ["text activation key", "say yes"], channel="sms").turns[0]

    for turn in (by_key, by_words, by_text):
        assert "activation_key" in keys(turn)
        text = words(turn)
        assert "can't be given" in text
        assert not KEY_LIKE.search(text), text


def test_yes_to_the_text_offer_texts_the_written_details(dialog: Dialog, facts: Facts) -> None:
    turn = talk(dialog, ["start", "press 1", "say yes"]).turns[-1]

    assert kinds(turn) == ["SendText", "Say", "Ask"]
    [sent] = of_type(turn, SendText)
    assert facts["sms"]["en"]["lookup_url"] in sent.body  # the address written, not spoken
    assert facts["voice"]["en"]["lookup_url"] not in sent.body
    assert sent.topic == "activation_key"
    assert keys(turn) == ["text_sent", "anything_else"]


def test_no_to_the_text_offer_texts_nothing(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "press 1", "say no"]).turns[-1]

    assert not of_type(turn, SendText)
    assert keys(turn) == ["anything_else"]
    assert turn.state.step == "anything_else"


def test_repeat_says_the_answer_again_then_the_same_question(dialog: Dialog) -> None:
    call = talk(dialog, ["start", "press 1"])
    answer = call.turns[-1].actions[0]

    again = call.say("repeat")

    assert keys(again) == ["activation_key", "offer_text"]
    assert again.actions[0] == answer
    assert again.state.step == "offer_text"


def test_star_repeats_too(dialog: Dialog) -> None:
    call = talk(dialog, ["start", "press 2"])  # the "creating your account" menu

    again = call.press("*")

    assert keys(again) == ["menu_account"]
    assert not of_type(again, SendText)


def test_a_weak_guess_is_confirmed_before_it_is_answered(dialog: Dialog, flow: Flow) -> None:
    call = talk(dialog, ["start"])

    confirm = call.say("the key thingy")  # activation_key, but only just

    assert keys(confirm) == ["confirm"]
    assert flow.label("activation_key", "en") in confirm.actions[0].text
    assert "activation_key" not in keys(confirm)
    assert confirm.state.pending == "activation_key"

    answer = call.say("yes")

    assert keys(answer) == ["activation_key", "offer_text"]
    assert answer.state.pending == ""


def test_no_to_the_confirm_question_goes_back_to_the_menu(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "say the key thingy", "say no"]).turns[-1]

    assert keys(turn) == ["main_menu"]
    assert turn.state.pending == "" and turn.state.topic != "activation_key"


def test_a_clear_request_heard_badly_is_confirmed_as_well(dialog: Dialog) -> None:
    call = talk(dialog, ["start"])

    turn = call.say("activation key", confidence=0.1)  # the recogniser was unsure of it

    assert keys(turn) == ["confirm"]


def test_pressing_9_switches_the_call_to_spanish(dialog: Dialog, facts: Facts) -> None:
    call = talk(dialog, ["start"])

    menu = call.press("9")

    assert menu.state.lang == "es"
    assert keys(menu) == ["main_menu_brief"] and "oprima 0" in menu.actions[0].text
    answer = call.press("1")
    assert keys(answer) == ["activation_key", "offer_text"]
    assert "no se pueden dar por teléfono" in answer.actions[0].text
    assert "por texto" in answer.actions[0].text  # the address is offered by text


def test_a_request_in_spanish_is_answered_in_spanish(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "say clave de activación"]).turns[-1]

    assert turn.state.lang == "es"
    assert keys(turn) == ["activation_key", "offer_text"]
    assert "clave" in turn.actions[0].text.lower()


def test_a_spanish_yes_to_an_english_question_keeps_english(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "press 1", "say sí"]).turns[-1]

    assert turn.state.lang == "en"
    [sent] = of_type(turn, SendText)
    assert "can't be given" in sent.body  # the English text


def test_every_question_of_a_call_carries_its_words(dialog: Dialog) -> None:
    call = talk(dialog, ["start", "press 3", "press 2"])  # forgotten password

    for turn in call.turns:
        for action in turn.actions:
            assert isinstance(action, Say | Ask | SendText)
            assert action.text if not isinstance(action, SendText) else action.body
            assert "{" not in words(turn), "a placeholder left unfilled"
    assert keys(call.turns[-1]) == ["forgot_password", "offer_text"]

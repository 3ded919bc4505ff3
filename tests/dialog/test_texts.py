"""A parent texting: the first text is both the start and a question."""

from __future__ import annotations

from tests.dialog.fakes import Conversation, keys, kinds, of_type, talk
from voicebot.config.facts import Facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import SendText, Transfer


def test_a_first_text_with_a_question_is_answered_at_once(dialog: Dialog, facts: Facts) -> None:
    turn = Conversation(dialog, channel="sms").text("activation key")

    assert keys(turn) == ["activation_key", "anything_else"]  # no welcome, no text offer
    assert facts["sms"]["en"]["lookup_url"] in turn.actions[0].text  # written, not spoken
    assert turn.state.step == "anything_else" and turn.state.turn == 1


def test_a_first_text_that_says_hello_gets_the_welcome_and_the_menu(dialog: Dialog) -> None:
    turn = Conversation(dialog, channel="sms").text("hi")

    assert keys(turn) == ["welcome", "main_menu"]
    assert "Reply" in turn.actions[-1].text or "reply" in turn.actions[-1].text


def test_a_first_text_not_understood_gets_the_menu_not_an_apology(dialog: Dialog) -> None:
    turn = Conversation(dialog, channel="sms").text("purple elephants")

    assert "sorry_no_match" not in keys(turn)
    assert keys(turn)[-1] == "main_menu"


def test_a_texter_who_asks_for_a_person_gets_supports_number(dialog: Dialog, facts: Facts) -> None:
    turn = talk(dialog, ["text hi", "text agent"], channel="sms").turns[-1]

    [transfer] = of_type(turn, Transfer)
    assert facts["sms"]["en"]["support_number"] in transfer.text  # written: 404-802-1000


def test_a_texter_replies_with_a_menu_number(dialog: Dialog) -> None:
    turn = talk(dialog, ["text hi", "text 3"], channel="sms").turns[-1]

    assert keys(turn) == ["menu_forgot"]


def test_a_texter_is_never_sent_a_second_text_of_the_answer(dialog: Dialog) -> None:
    turn = talk(dialog, ["text i forgot my password", "text yes"], channel="sms").turns[-1]

    assert "SendText" not in kinds(turn)  # the reply is the text
    assert not of_type(turn, SendText)

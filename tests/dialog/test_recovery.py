"""When things go wrong: silence, words not understood, support not answering."""

from __future__ import annotations

from tests.dialog.fakes import Conversation, keys, kinds, of_type, question, talk
from voicebot.config.facts import Facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import End, RequestCallback, Transfer


def test_silence_once_says_so_and_asks_again(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "silence"]).turns[-1]

    assert keys(turn) == ["sorry_no_input", "main_menu"]
    assert turn.state.no_input == 1 and turn.state.step == "main_menu"


def test_silence_twice_spells_out_the_options(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "silence", "silence"]).turns[-1]

    assert keys(turn) == ["sorry_no_input_again", "main_menu_options"]
    assert "press 1" in question(turn).text and "press 0" in question(turn).text


def test_silence_a_third_time_hands_the_caller_to_a_person(dialog: Dialog, facts: Facts) -> None:
    turn = talk(dialog, ["start", "silence", "silence", "silence"]).turns[-1]

    assert kinds(turn) == ["Transfer"]
    [transfer] = of_type(turn, Transfer)
    assert transfer.reason == "no_input"
    assert facts["voice"]["en"]["support_number"] in transfer.text
    assert turn.state.no_input == 0  # a fresh start after the transfer


def test_an_answer_resets_the_count_of_silences(dialog: Dialog) -> None:
    call = talk(dialog, ["start", "silence", "silence", "press 2", "silence"])

    assert keys(call.turns[-1]) == ["sorry_no_input", "menu_account"]  # counted from one again


def test_words_not_understood_three_times_reach_a_person(dialog: Dialog) -> None:
    call = talk(dialog, ["start"])

    first = call.say("purple elephants")
    second = call.say("purple elephants")
    third = call.say("purple elephants")

    assert keys(first) == ["sorry_no_match", "main_menu"]
    assert keys(second) == ["sorry_no_match_again", "main_menu_options"]
    [transfer] = of_type(third, Transfer)
    assert transfer.reason == "not_understood"


def test_pressing_0_transfers_and_says_so(dialog: Dialog, facts: Facts) -> None:
    turn = talk(dialog, ["start", "press 1", "press 2", "press 0"]).turns[-1]

    [transfer] = of_type(turn, Transfer)
    assert transfer.reason == "caller_asked"
    assert transfer.topic == "activation_key"  # the agent is told what the call was about
    assert facts["voice"]["en"]["support_number"] in transfer.text


def test_support_not_answering_offers_a_call_back(dialog: Dialog) -> None:
    call = talk(dialog, ["start", "press 0"])

    turn = call.dial("no-answer")

    assert keys(turn) == ["support_unavailable"]
    assert turn.state.step == "support_unavailable"
    back = call.press("1")
    assert kinds(back)[0] == "RequestCallback"
    assert keys(back) == ["callback_recorded", "anything_else"]


def test_a_completed_transfer_ends_the_call(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "press 0", "dial completed"]).turns[-1]

    assert kinds(turn) == ["End"]
    assert "Goodbye" in of_type(turn, End)[0].text


def test_a_hidden_number_gets_no_call_back_offer_when_support_does_not_answer(
    dialog: Dialog, facts: Facts
) -> None:
    turn = talk(dialog, ["start", "press 0", "dial busy"], caller=None).turns[-1]

    assert kinds(turn) == ["End"]
    assert facts["voice"]["en"]["support_number"] in turn.actions[0].text
    assert not of_type(turn, RequestCallback)


def test_silence_after_support_did_not_answer_says_goodbye_rather_than_ringing_again(
    dialog: Dialog,
) -> None:
    turn = talk(dialog, ["start", "press 0", "dial failed", "silence", "silence", "silence"])
    last = turn.turns[-1]

    assert kinds(last) == ["End"]
    assert not of_type(last, Transfer)


def test_a_transfer_while_support_is_closed_offers_a_call_back_instead(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "press 0"], support_open=False).turns[-1]

    assert not of_type(turn, Transfer)
    assert keys(turn) == ["support_closed"]


def test_a_dial_result_with_no_transfer_changes_nothing(dialog: Dialog) -> None:
    call = Conversation(dialog)
    call.start()

    turn = call.dial("completed")  # a stray callback from Twilio

    assert not of_type(turn, End)
    assert turn.state.step == "main_menu"
    assert keys(turn)[-1] == "main_menu"

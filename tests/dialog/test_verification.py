"""The last four digits: student number, birth date, then the code texted to the phone on
file. The fake verifier stands in for the records, so each outcome is chosen here."""

from __future__ import annotations

import pytest

from tests.dialog.fakes import (
    CALLER,
    FakeDisclosed,
    FakeVerifier,
    keys,
    numbers,
    of_type,
    question,
    talk,
    words,
)
from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import Say, Transfer
from voicebot.verification import CodeResult

STUDENT = "1234567"
BIRTH = "03142015"
CODE = "482913"
TO_THE_CODE = ["start", "press 4", "press 3", f"press {STUDENT}", f"press {BIRTH}"]


def test_the_last_four_start_with_the_student_number_question(dialog: Dialog) -> None:
    turn = talk(dialog, ["start", "press 4", "press 3"]).turns[-1]

    assert keys(turn) == ["ssn_last4", "verify_student"]
    assert question(turn).digits  # keypad first, ended by #
    assert turn.state.step == "verify_student"


def test_the_code_is_requested_with_the_student_number_and_birth_date(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(dialog, ["start", "press 4", "press 3"])

    after_student = call.press(STUDENT)
    assert keys(after_student) == ["verify_birth_date"]
    assert verifier.requests == []  # nothing is checked before both details are in

    after_birth = call.press(BIRTH)

    assert keys(after_birth) == ["verify_code"]
    [request] = verifier.requests
    assert (request["student_number"], request["birth_date"]) == (STUDENT, BIRTH)
    assert request["caller"] == CALLER and request["channel"] == "voice"
    assert "{code}" in request["message"]  # the verifier puts the code in, not the dialog
    assert after_birth.state.student == ""  # not kept once it has been used


def test_the_right_code_reads_back_only_the_four_digits(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.OK, FakeDisclosed("Maria", "6789"))]
    call = talk(dialog, TO_THE_CODE)

    turn = call.press(CODE)

    assert verifier.checks[0]["code"] == CODE
    said = [action for action in turn.actions if isinstance(action, Say)]
    assert said[0].key == "read_back"
    assert "Maria" in said[0].text
    assert numbers(said[0].text) == {"6789"}  # "6, 7, 8, 9", and no other number
    assert question(turn).key == "anything_else"
    assert turn.state.verified and turn.state.verification == "read_back"


def test_a_read_back_never_says_more_than_four_digits_whatever_the_records_hold(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.OK, FakeDisclosed("Maria", "123-45-6789"))]

    turn = talk(dialog, [*TO_THE_CODE, f"press {CODE}"]).turns[-1]

    [read_back] = [action for action in turn.actions if isinstance(action, Say)][:1]
    assert read_back.key == "read_back"
    assert numbers(read_back.text) == {"6789"}
    assert not {"123456789", "12345", STUDENT, BIRTH, CODE} & numbers(words(turn))


def test_repeat_after_a_read_back_does_not_say_the_digits_again(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.OK, FakeDisclosed("Maria", "6789"))]

    turn = talk(dialog, [*TO_THE_CODE, f"press {CODE}", "say repeat"]).turns[-1]

    assert "6789" not in numbers(words(turn))
    assert "read_back_once" in keys(turn)


def test_a_wrong_code_asks_for_the_code_again(dialog: Dialog, verifier: FakeVerifier) -> None:
    verifier.results = [(CodeResult.WRONG, None)]

    turn = talk(dialog, [*TO_THE_CODE, "press 111111"]).turns[-1]

    assert keys(turn) == ["verify_code_again"]
    assert not turn.state.verified and turn.state.verification == "code_wrong"


def test_a_wrong_code_then_the_right_one_reads_back(dialog: Dialog, verifier: FakeVerifier) -> None:
    verifier.results = [(CodeResult.WRONG, None), (CodeResult.OK, FakeDisclosed("Sam", "4321"))]

    turn = talk(dialog, [*TO_THE_CODE, "press 111111", f"press {CODE}"]).turns[-1]

    assert keys(turn)[0] == "read_back" and numbers(turn.actions[0].text) == {"4321"}
    assert [check["code"] for check in verifier.checks] == ["111111", CODE]


def test_tries_used_up_end_in_an_offer_of_a_person(dialog: Dialog, verifier: FakeVerifier) -> None:
    verifier.results = [(CodeResult.EXHAUSTED, None)]
    call = talk(dialog, [*TO_THE_CODE, "press 111111"])

    refused = call.turns[-1]
    assert keys(refused) == ["verify_failed"]
    assert refused.state.verification == "refused" and not refused.state.verified

    transfer = call.say("yes")
    [action] = of_type(transfer, Transfer)
    assert action.reason == "ssn_last4"


def test_the_right_code_with_no_digits_on_file_says_so(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.results = [(CodeResult.OK, None)]

    turn = talk(dialog, [*TO_THE_CODE, f"press {CODE}"]).turns[-1]

    assert keys(turn) == ["no_number_on_file", "anything_else"]
    assert turn.state.verified and turn.state.verification == "no_number"


def test_a_locked_caller_goes_straight_to_the_offer_of_a_person(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.locked = {CALLER}

    turn = talk(dialog, ["start", "press 4", "press 3"]).turns[-1]

    assert keys(turn) == ["ssn_last4", "verify_failed"]
    assert "verify_student" not in keys(turn)
    assert turn.state.verification == "refused"
    assert verifier.requests == []


def test_another_callers_lock_does_not_stop_this_one(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    verifier.locked = {"+14045550199"}

    turn = talk(dialog, ["start", "press 4", "press 3"]).turns[-1]

    assert keys(turn) == ["ssn_last4", "verify_student"]


@pytest.mark.parametrize("short", ["12", "123"])
def test_a_too_short_student_number_is_asked_again_and_kept_nowhere(
    dialog: Dialog, verifier: FakeVerifier, short: str
) -> None:
    turn = talk(dialog, ["start", "press 4", "press 3", f"press {short}"]).turns[-1]

    assert keys(turn) == ["sorry_no_match", "verify_student"]
    assert turn.state.student == "" and verifier.requests == []


def test_an_impossible_birth_date_is_asked_again_without_requesting_a_code(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    turn = talk(dialog, ["start", "press 4", "press 3", f"press {STUDENT}", "press 13452015"])

    assert question(turn.turns[-1]).key in ("verify_birth_date", "verify_birth_date_options")
    assert verifier.requests == []


def test_a_question_left_two_minutes_starts_the_verification_over(
    dialog: Dialog, verifier: FakeVerifier
) -> None:
    call = talk(dialog, ["start", "press 4", "press 3", f"press {STUDENT}"])
    call.wait(dialog.verify_timeout + 30)

    turn = call.press(BIRTH)

    assert keys(turn) == ["verify_restart", "verify_student"]
    assert verifier.requests == [] and turn.state.student == ""


def test_a_texter_gets_the_four_digits_written(dialog: Dialog, verifier: FakeVerifier) -> None:
    verifier.results = [(CodeResult.OK, FakeDisclosed("Maria", "6789"))]

    call = talk(
        dialog, ["text last four digits", f"text {STUDENT}", f"text {BIRTH}"], channel="sms"
    )
    assert verifier.requests[0]["channel"] == "sms"
    turn = call.text(CODE)

    assert keys(turn)[0] == "read_back"
    assert "6789" in turn.actions[0].text  # written together on SMS
    assert numbers(words(turn)) == {"6789"}

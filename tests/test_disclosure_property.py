"""Property: whatever callers do, no reply ever carries more than the last four digits of
any imported SSN, and nobody hears those four without the right code in the same call.

Random rosters and random caller behaviour (right and wrong details, codes, keys, words,
silence) go through the real signed voice and SMS webhooks.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import AUTH_TOKEN, Call, Outbox, Reply, Thread, settings_in
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.records.roster import import_roster
from voicebot.services import services

HEADER = (
    "student_number,first_name,last_name,birth_date,ssn,guardian_name,guardian_phone,"
    "guardian_email,school\n"
)
SUPPORT_DIGITS = "4048021000"
RUN = re.compile(r"\d(?:[\s\-.,/()]*\d)*")

ACTIONS = st.lists(
    st.sampled_from(
        [
            "ask_last4",
            "right_student",
            "wrong_student",
            "right_birth",
            "wrong_birth",
            "right_code",
            "wrong_code",
            "random_keys",
            "random_words",
            "silence",
            "zero",
        ]
    ),
    min_size=1,
    max_size=12,
)
STUDENT = st.fixed_dictionaries(
    {
        "ssn": st.from_regex(r"[1-9][0-9]{8}", fullmatch=True),
        "year": st.integers(2006, 2020),
        "month": st.integers(1, 12),
        "day": st.integers(1, 28),
        "dashed": st.booleans(),
    }
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, Outbox, Path]:
    folder = tmp_path_factory.mktemp("property")
    app = create_app(settings_in(folder, flush_redis=False), upgrade_db=True)
    return app, Outbox(folder / "outbox.jsonl"), folder


def runs(text: str) -> list[str]:
    """Every run of digits in a reply, separators removed, support's number left out."""
    return [d for d in (re.sub(r"\D", "", r) for r in RUN.findall(text)) if d != SUPPORT_DIGITS]


def import_students(app: Flask, folder: Path, students: list[dict], phone: str) -> list[dict]:
    rows, made = [], []
    for student in students:
        number = str(secrets.randbelow(9 * 10**8) + 10**8)
        ssn = student["ssn"]
        written = f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}" if student["dashed"] else ssn
        birth = f"{student['year']:04d}-{student['month']:02d}-{student['day']:02d}"
        rows.append(f"{number},Kid,Doe,{birth},{written},Pat Doe,{phone},,School\n")
        keyed = f"{student['month']:02d}{student['day']:02d}{student['year']:04d}"
        made.append({"number": number, "birth": keyed, "ssn": ssn})
    path = folder / f"roster-{secrets.token_hex(4)}.csv"
    path.write_text(HEADER + "".join(rows))
    assert import_roster(services(app).engine, path).committed
    return made


def latest_code(outbox: Outbox, phone: str, seen: int) -> tuple[str | None, int]:
    messages = outbox.messages()
    codes = [m["body"] for m in messages[seen:] if m["to"] == phone and "code is" in m["body"]]
    code = re.search(r"\d{6}", codes[-1]).group() if codes else None  # type: ignore[union-attr]
    return code, len(messages)


def check(reply: Reply, students: list[dict], may_hear_last4: bool) -> None:
    text = reply.xml
    for run in runs(text):
        for student in students:
            assert student["ssn"][:5] not in run, "more than the last four digits of an SSN"
            if not may_hear_last4:
                assert student["ssn"][-4:] != run, "last four heard without the right code"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(students=st.lists(STUDENT, min_size=1, max_size=3), actions=ACTIONS, sms=st.booleans())
def test_no_caller_ever_hears_more_than_they_may(shared, students, actions, sms) -> None:  # type: ignore[no-untyped-def]
    app, outbox, folder = shared
    phone = f"+1404555{secrets.randbelow(10000):04d}"
    made = import_students(app, folder, students, phone)
    target = made[0]
    client = SignedClient(app, AUTH_TOKEN)
    seen = len(outbox.messages())
    code: str | None = None
    if sms:
        thread = Thread(client, sender=phone)
        send = thread.text
        reply = send("hello")
    else:
        call = Call(client, caller=phone)
        reply = call.start()
    check(reply, made, may_hear_last4=False)
    for action in actions:
        right_code_now = False
        if action == "ask_last4":
            words = "last four digits of my child's social security number"
        elif action == "right_student":
            words = target["number"]
        elif action == "wrong_student":
            words = str(secrets.randbelow(9 * 10**6) + 10**6)
        elif action == "right_birth":
            words = target["birth"]
        elif action == "wrong_birth":
            words = "01011999"
        elif action == "right_code":
            code, seen = latest_code(outbox, phone, seen) if code is None else (code, seen)
            words = code or "000000"
            right_code_now = code is not None
        elif action == "wrong_code":
            words = "999999"
        elif action == "random_keys":
            words = str(secrets.randbelow(10**6))
        elif action == "random_words":
            words = secrets.choice(["what", "agent please", "main menu", "repeat", "yes", "no"])
        elif action == "zero":
            words = "0"
        else:
            words = ""
        if sms:
            reply = send(words or " ")
        elif call.last is None or not call.last.asks:
            break  # the call was transferred or ended
        elif words.isdigit():
            reply = call.press(words)
        elif words:
            reply = call.say(words)
        else:
            reply = call.silence()
        fresh, seen = latest_code(outbox, phone, seen)
        code = fresh or code
        assert reply.status == 200
        check(reply, made, may_hear_last4=right_code_now)


@pytest.mark.parametrize("sms", [False, True], ids=["voice", "sms"])
def test_the_right_steps_do_reach_the_read_back(shared, sms: bool) -> None:  # type: ignore[no-untyped-def]
    """So the property above is not vacuous: the right sequence does hear the last four."""
    app, outbox, folder = shared
    phone = f"+1404555{secrets.randbelow(10000):04d}"
    student = {"ssn": "219876543", "year": 2012, "month": 7, "day": 4, "dashed": True}
    made = import_students(app, folder, [student], phone)[0]
    seen = len(outbox.messages())
    client = SignedClient(app, AUTH_TOKEN)
    if sms:
        thread = Thread(client, sender=phone)
        for words in ("last four of my son's social", made["number"], made["birth"]):
            thread.text(words)
        code, _ = latest_code(outbox, phone, seen)
        reply = thread.text(code or "")
    else:
        call = Call(client, caller=phone)
        call.start()
        call.say("last four of my son's social")
        call.press(made["number"])
        call.press(made["birth"])
        code, _ = latest_code(outbox, phone, seen)
        reply = call.press(code or "")
    assert code is not None
    assert "6543" in runs(reply.xml)
    check(reply, [made], may_hear_last4=True)

"""Caller verification: the code goes to the phone on file, works once, within 10 minutes and
3 tries; failures lock records and caller numbers for 24 hours; and whatever matched or not,
the caller sees the same thing.

Each test has its own SQLite database; Redis is REDIS_URL when set (CI), else in-process.
Student numbers, caller numbers and conversation ids are random, so tests sharing one real
Redis never meet.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from tests.helpers import logged_text
from voicebot.channels.outbound import Outbound, OutboxFile
from voicebot.policy.guard import Guard
from voicebot.records import db
from voicebot.records.models import (
    Disclosure as DisclosureRow,
)
from voicebot.records.models import (
    Guardian,
    Student,
    VerificationAttempt,
)
from voicebot.records.optouts import OptOuts
from voicebot.sessions.store import connect
from voicebot.verification import (
    CODE_TTL,
    LOCK_SECONDS,
    CodeResult,
    Disclosure,
    Verifier,
)

SUPPORT = "+14048021000"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _phone() -> str:
    return f"+1404{secrets.randbelow(8_000_000) + 2_000_000}"


def _student_number() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


@dataclass
class Kid:
    number: str
    birth: str  # MMDDYYYY, as keyed
    first_name: str
    last4: str | None
    phones: list[str]


class World:
    def __init__(self, tmp_path: Path, client: redis.Redis) -> None:
        self.engine = db.make_engine(f"sqlite:///{tmp_path / 'verify.sqlite3'}")
        db.upgrade(self.engine)
        self.sessions = db.make_sessions(self.engine)
        self.outbox = tmp_path / "outbox.jsonl"
        self.optouts = OptOuts(self.sessions)
        self.outbound = Outbound(OutboxFile(self.outbox), self.optouts, Guard([SUPPORT]))
        self.clock = Clock()
        self.redis = client
        self.verifier = Verifier(self.sessions, client, self.outbound, self.clock)

    def kid(self, last4: str | None = "6789", guardians: int = 1, first: str = "Maria") -> Kid:
        kid = Kid(_student_number(), "03142015", first, last4, [_phone() for _ in range(guardians)])
        with self.sessions.begin() as session:
            student = Student(
                student_number=kid.number,
                first_name=first,
                last_name="Lopez",
                birth_date=date(2015, 3, 14),
                school="Mary Lin Elementary School",
                ssn_last4=last4,
            )
            for index, phone in enumerate(kid.phones):
                student.guardians.append(Guardian(name=f"Guardian {index}", phone=phone))
            session.add(student)
        return kid

    def texts(self) -> list[dict[str, str]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines()]

    def codes(self) -> list[tuple[str, str]]:
        """(to, code) of every code texted so far."""
        found = []
        for text in self.texts():
            match = re.search(r"code is (\d{6})\.", text["body"])
            assert match, text
            found.append((text["to"], match.group(1)))
        return found

    def count(self, model: type) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    if os.environ.get("REDIS_URL"):
        real = redis.Redis.from_url(os.environ["REDIS_URL"])
        # Withheld callers share one budget a day ("anonymous" has no number of its own to
        # make random): start each test with it unused.
        for key in real.scan_iter(match="vb:verify:tries:withheld:*"):
            real.delete(key)
        yield real
        real.close()
    else:
        yield connect("")


@pytest.fixture
def world(tmp_path: Path, client: redis.Redis) -> Iterator[World]:
    w = World(tmp_path, client)
    yield w
    w.engine.dispose()


def conv() -> str:
    return "CA" + secrets.token_hex(16)


def request(world: World, kid: Kid, caller: str | None, conversation: str, birth: str = "") -> None:
    result = world.verifier.request_code(
        conversation, kid.number, birth or kid.birth, caller, "voice", "TN-Validation-Passed-A"
    )
    assert result is None


def check(world: World, conversation: str, code: str, caller: str | None):  # type: ignore[no-untyped-def]
    return world.verifier.check_code(conversation, code, caller, "voice", conversation, "A")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- the happy path ---------------------------------------------------------------------------


def test_code_goes_to_the_phone_on_file_and_unlocks_the_last_four(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(to, code)] = world.codes()
    assert to == kid.phones[0] != caller  # caller ID is not proof: the code goes to the file
    assert "10 minutes" in world.texts()[0]["body"]

    assert check(world, conversation, code, caller) == (
        CodeResult.OK,
        Disclosure(first_name="Maria", last4="6789"),
    )
    with world.sessions() as session:
        row = session.scalars(select(DisclosureRow)).one()
        student_id = session.scalar(select(Student.id).where(Student.student_number == kid.number))
    assert row.student_id == student_id
    assert (row.channel, row.phone, row.method, row.call_id, row.stir) == (
        "voice",
        caller,
        "dob+otp",
        conversation,
        "A",
    )
    assert abs(row.disclosed_at.timestamp() - world.clock.now) < 1


def test_every_guardian_phone_gets_the_code(world: World) -> None:
    kid = world.kid(guardians=2)
    request(world, kid, _phone(), conv())
    codes = world.codes()
    assert sorted(to for to, _ in codes) == sorted(kid.phones)
    assert len({code for _, code in codes}) == 1


def test_a_wrong_code_leaves_tries_and_the_right_one_still_works(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, wrong(code), caller) == (CodeResult.WRONG, None)
    assert check(world, conversation, "12", caller) == (CodeResult.WRONG, None)
    assert check(world, conversation, code, caller)[0] is CodeResult.OK


def test_spoken_or_spaced_codes_are_read_as_digits(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, " ".join(code), caller)[0] is CodeResult.OK


def test_a_code_works_once(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, caller)[0] is CodeResult.OK
    assert check(world, conversation, code, caller) == (CodeResult.EXHAUSTED, None)
    assert world.count(DisclosureRow) == 1


def test_a_code_belongs_to_its_conversation(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conv(), code, caller) == (CodeResult.EXHAUSTED, None)
    assert check(world, conversation, code, caller)[0] is CodeResult.OK


def test_a_code_expires_after_ten_minutes(world: World) -> None:
    kid = world.kid()
    caller = _phone()
    first, second = conv(), conv()
    request(world, kid, caller, first)
    world.clock.advance(CODE_TTL - 5)
    assert check(world, first, world.codes()[0][1], caller)[0] is CodeResult.OK

    request(world, kid, caller, second)
    world.clock.advance(CODE_TTL + 1)
    assert check(world, second, world.codes()[1][1], caller) == (CodeResult.EXHAUSTED, None)
    assert world.count(DisclosureRow) == 1


def test_three_tries_then_even_the_right_code_is_refused(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    results = [check(world, conversation, wrong(code), caller)[0] for _ in range(3)]
    assert results == [CodeResult.WRONG, CodeResult.WRONG, CodeResult.EXHAUSTED]
    assert check(world, conversation, code, caller) == (CodeResult.EXHAUSTED, None)
    assert world.count(DisclosureRow) == 0


def test_only_a_hash_of_the_code_is_kept(world: World) -> None:
    kid = world.kid()
    conversation = conv()
    request(world, kid, _phone(), conversation)
    [(_, code)] = world.codes()
    keys = [k for k in world.redis.scan_iter(match=f"*{conversation}*")]
    assert keys, "the pending code should be in Redis"
    for key in keys:
        assert code.encode() not in key
        stored = world.redis.hgetall(key)
        assert stored
        for field, value in stored.items():
            assert code.encode() not in field + value
            try:
                decoded = bytes.fromhex(value.decode())
            except ValueError:
                continue
            assert code.encode() not in decoded, "stored encoded, not hashed"


def test_no_code_pending_is_exhausted(world: World) -> None:
    assert check(world, conv(), "123456", _phone()) == (CodeResult.EXHAUSTED, None)


def test_anonymous_callers_can_verify(world: World) -> None:
    kid = world.kid()
    conversation = conv()
    request(world, kid, None, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, None)[0] is CodeResult.OK
    assert world.verifier.is_locked(None) is False


def test_verified_but_no_last_four_on_file_discloses_nothing(world: World) -> None:
    kid = world.kid(last4=None)
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, caller) == (CodeResult.OK, None)
    assert world.count(DisclosureRow) == 0


@pytest.mark.parametrize("import_lands", ["before the check", "during the check"])
def test_a_child_taken_off_the_roster_while_the_code_is_out_is_never_read_back(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, import_lands: str
) -> None:
    """roster import --replace deletes a withdrawn child; SQLite may give its id to the next
    new child. The code sent for the first must not read back the second's digits, even
    when the import commits between the check's two reads of the roster."""
    if import_lands == "during the check":
        monkeypatch.setattr(world.verifier, "_still_listed", lambda student: True)
    from tests.test_roster import row, write
    from voicebot.records.roster import import_roster

    other = world.kid(last4="1111", first="Ana")
    withdrawn = world.kid(last4="6789")  # the highest id: the one SQLite hands out again
    caller, conversation = _phone(), conv()
    request(world, withdrawn, caller, conversation)
    [(_, code)] = world.codes()
    with world.sessions() as session:
        old_id = session.scalar(
            select(Student.id).where(Student.student_number == withdrawn.number)
        )

    listed = row(number=other.number, first="Ana", phone=other.phones[0], ssn="111-11-1111")
    taken_off = import_roster(
        world.engine, write(tmp_path / "a.csv", [listed]), replace=True, allow_large_removal=True
    )
    assert taken_off.removed == 1
    newcomer = row(number=_student_number(), first="Zoe", phone=_phone(), ssn="222-22-4321")
    assert import_roster(world.engine, write(tmp_path / "b.csv", [listed, newcomer])).committed
    with world.sessions() as session:
        assert session.get(Student, old_id).first_name == "Zoe"  # the id was given again

    assert check(world, conversation, wrong(code), caller) == (CodeResult.WRONG, None)
    assert check(world, conversation, code, caller) == (CodeResult.OK, None)
    assert world.count(DisclosureRow) == 0
    with world.sessions() as session:
        named = session.scalars(
            select(VerificationAttempt.student_id).where(VerificationAttempt.step == "check")
        ).all()
    # The audit pins the right code's check on nobody; the wrong one's on nobody either,
    # unless the import landed in the middle of it (milliseconds: a wrong code names the id).
    assert named[1] is None
    assert named[0] is None or import_lands == "during the check"


def test_a_child_kept_only_for_the_audit_is_an_unknown_student(
    world: World, tmp_path: Path
) -> None:
    """roster import --replace keeps a withdrawn child the disclosure audit names, without a
    name or digits: the right details for them are treated like anyone else's wrong ones."""
    from tests.test_roster import row, write
    from voicebot.records.roster import import_roster

    enrolled, withdrawn = world.kid(first="Ana"), world.kid()
    request(world, withdrawn, _phone(), conv())
    [(_, code)] = world.codes()
    with world.sessions.begin() as session:
        student = session.scalars(
            select(Student).where(Student.student_number == withdrawn.number)
        ).one()
        session.add(
            DisclosureRow(student_id=student.id, channel="sms", method="dob+otp", call_id="SM1")
        )
    listed = row(number=enrolled.number, first="Ana", phone=enrolled.phones[0])
    result = import_roster(
        world.engine, write(tmp_path / "a.csv", [listed]), replace=True, allow_large_removal=True
    )
    assert result.retired == 1

    caller, conversation = _phone(), conv()
    request(world, withdrawn, caller, conversation)
    assert len(world.codes()) == 1  # no new code: nobody to text, nothing to verify
    with world.sessions() as session:
        outcome = session.scalars(
            select(VerificationAttempt.outcome).where(
                VerificationAttempt.conversation == conversation
            )
        ).one()
    assert outcome == "no_match"
    assert check(world, conversation, code, caller)[1] is None


def test_an_opted_out_guardian_is_not_texted(world: World) -> None:
    kid = world.kid(guardians=2)
    world.optouts.add(kid.phones[0])
    request(world, kid, _phone(), conv())
    assert [to for to, _ in world.codes()] == [kid.phones[1]]


def test_each_attempt_records_the_stir_attestation(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    check(world, conversation, code, caller)
    with world.sessions() as session:
        rows = session.scalars(select(VerificationAttempt).order_by(VerificationAttempt.id)).all()
    assert [(r.step, r.outcome, r.stir, r.phone) for r in rows] == [
        ("request", "code_sent", "TN-Validation-Passed-A", caller),
        ("check", "ok", "A", caller),
    ]


# --- throttles --------------------------------------------------------------------------------


def test_three_failures_lock_the_record_for_24_hours(world: World) -> None:
    kid = world.kid()
    for _ in range(3):  # wrong birth date, three different callers
        request(world, kid, _phone(), conv(), birth="01012014")
    request(world, kid, _phone(), conv())  # now the right details
    assert world.codes() == [], "a locked record gets no code"

    world.clock.advance(LOCK_SECONDS - 60)
    request(world, kid, _phone(), conv())
    assert world.codes() == []

    world.clock.advance(61)
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, caller)[0] is CodeResult.OK


def test_used_up_codes_count_as_failures_for_the_record(world: World) -> None:
    kid = world.kid()
    for _ in range(3):
        caller, conversation = _phone(), conv()
        request(world, kid, caller, conversation)
        for _ in range(3):
            check(world, conversation, "000000", caller)
    sent = len(world.codes())
    request(world, kid, _phone(), conv())
    assert len(world.codes()) == sent == 3, "the record is locked after 3 failed verifications"


def test_a_lock_ends_a_code_already_sent(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    for _ in range(3):  # meanwhile someone else fails on the same record
        request(world, kid, _phone(), conv(), birth="01012014")
    results = [check(world, conversation, code, caller)[0] for _ in range(3)]
    assert results == [CodeResult.WRONG, CodeResult.WRONG, CodeResult.EXHAUSTED]
    assert world.count(DisclosureRow) == 0


def test_codes_nobody_uses_stop_after_three(world: World) -> None:
    kid = world.kid()
    for _ in range(5):
        request(world, kid, _phone(), conv())
    assert len(world.codes()) == 3, "a family's phone must not be texted over and over"


def test_five_failures_lock_the_caller_number_for_24_hours(world: World) -> None:
    kid = world.kid()
    caller = _phone()
    for _ in range(5):  # five different (unknown) students: no record lock involved
        world.verifier.request_code(conv(), _student_number(), "01012014", caller, "sms", None)
    assert world.verifier.is_locked(caller)
    assert not world.verifier.is_locked(_phone())

    request(world, kid, caller, conv())
    assert world.codes() == [], "a locked caller number gets no code sent"
    other, conversation = _phone(), conv()
    request(world, kid, other, conversation)
    assert len(world.codes()) == 1, "other callers are not affected"

    world.clock.advance(LOCK_SECONDS + 1)
    assert not world.verifier.is_locked(caller)


def test_wrong_codes_and_missing_codes_count_against_the_caller(world: World) -> None:
    caller = _phone()
    for _ in range(5):
        check(world, conv(), "123456", caller)
    assert world.verifier.is_locked(caller)


def test_a_pending_code_does_not_lock_its_own_caller(world: World) -> None:
    caller = _phone()
    for _ in range(4):
        world.verifier.request_code(conv(), _student_number(), "01012014", caller, "voice", None)
    kid = world.kid()
    conversation = conv()
    request(world, kid, caller, conversation)
    assert not world.verifier.is_locked(caller)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, caller)[0] is CodeResult.OK


# --- uniform behaviour ------------------------------------------------------------------------


def _lock_record(world: World, kid: Kid) -> None:
    for _ in range(3):
        request(world, kid, _phone(), conv(), birth="01012014")


def _lock_caller(world: World, caller: str) -> None:
    for _ in range(5):
        world.verifier.request_code(conv(), _student_number(), "01012014", caller, "sms", None)


@pytest.mark.parametrize(
    "case", ["unknown student", "wrong birth date", "not a date", "locked record", "locked caller"]
)
def test_what_the_caller_sees_never_depends_on_what_matched(world: World, case: str) -> None:
    kid = world.kid()
    caller = _phone()
    number, birth = kid.number, kid.birth
    if case == "unknown student":
        number = _student_number()
    elif case == "wrong birth date":
        birth = "03152015"
    elif case == "not a date":
        birth = "13452015"
    elif case == "locked record":
        _lock_record(world, kid)
    else:
        _lock_caller(world, caller)

    conversation = conv()
    result = world.verifier.request_code(conversation, number, birth, caller, "voice", None)
    assert result is None
    assert world.codes() == [], "nothing is texted when nothing matched"
    # The caller is asked for a code all the same, and a made-up one fares exactly like a
    # wrong code after a real match: two more tries, then the end.
    results = [check(world, conversation, "482913", caller) for _ in range(4)]
    assert results == [
        (CodeResult.WRONG, None),
        (CodeResult.WRONG, None),
        (CodeResult.EXHAUSTED, None),
        (CodeResult.EXHAUSTED, None),
    ]


def test_a_real_match_with_wrong_codes_looks_the_same(world: World) -> None:
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    results = [check(world, conversation, wrong(code), caller) for _ in range(4)]
    assert results == [
        (CodeResult.WRONG, None),
        (CodeResult.WRONG, None),
        (CodeResult.EXHAUSTED, None),
        (CodeResult.EXHAUSTED, None),
    ]


# --- secrets stay out of logs and texts ---------------------------------------------------------


def test_codes_student_numbers_and_birth_dates_are_never_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kid = world.kid()
    caller, conversation = _phone(), conv()
    request(world, kid, caller, conversation)
    [(_, code)] = world.codes()
    check(world, conversation, wrong(code), caller)
    check(world, conversation, code, caller)
    request(world, kid, caller, conv(), birth="01012014")
    logged = logged_text(caplog)
    assert caplog.records, "the verifier should log what happened"
    for secret in (code, kid.number, kid.birth, "6789", caller):
        assert secret not in logged


def test_the_guard_lets_a_code_through_only_where_it_is_delivered(world: World) -> None:
    to = _phone()
    body = "Your APS Parent Portal help line code is 482913. It expires in 10 minutes."
    assert world.outbound.send(to, body) is False
    assert world.outbound.send(to, body, allow="111111") is False
    assert world.outbound.send(to, body + " Ref 654321.", allow="482913") is False
    assert world.outbound.send(to, body, allow="482913") is True
    assert [t["body"] for t in world.texts()] == [body]

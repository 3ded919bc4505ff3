"""`voicebot audit export`: every verification attempt and disclosure, never a secret.

The property test drives random rosters and random callers through the real signed webhooks
(as test_disclosure_property.py does), then exports the audit as CSV and as JSON lines: the
export must hold exactly the rows the database holds, each field must be what it says it is
(the caller's last four, a student number of the roster, the attestation the call carried),
and no SSN digits, birth date or one-time code may appear anywhere in it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.helpers import AUTH_TOKEN, BIRTH, SSN, STUDENT, Call, Outbox, Thread, settings_in
from tests.test_disclosure_property import ACTIONS, import_students, latest_code
from tests.test_disclosure_property import STUDENT as RANDOM_STUDENT
from tests.test_postgres import URL as POSTGRES_URL
from tests.test_postgres import _reset as reset_postgres
from voicebot.app import create_app
from voicebot.cli import main
from voicebot.cli.simulator import SignedClient
from voicebot.records import db
from voicebot.records.audit_export import FIELDS
from voicebot.records.models import Disclosure, Student, VerificationAttempt
from voicebot.services import services

STIRS = [None, "TN-Validation-Passed-A", "TN-Validation-Passed-C", "No-TN-Validation"]
REFERENCE = re.compile(r"(call:CA[0-9a-f]{32}|sms:[a-p]{24}|CA[0-9a-f]{32}|SM[0-9a-f]{32})")


def environ(folder: Path, url: str = "") -> dict[str, str | None]:
    """The settings settings_in(folder) gives the app (or another database), as the command
    reads them."""
    return {
        "DATABASE_URL": url or f"sqlite:///{folder / 'test.sqlite3'}",
        "VOICEBOT_INSTANCE_DIR": str(folder / "instance"),
        "VOICEBOT_CONFIG": None,
        "TWILIO_ACCOUNT_SID": None,
        "TWILIO_NUMBER": None,
    }


def export(folder: Path, *args: str, url: str = "") -> Result:
    return CliRunner().invoke(main, ["audit", "export", *args], env=environ(folder, url))


def parsed(result: Result, form: str) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    if form == "jsonl":
        return [json.loads(line) for line in lines]
    assert lines[0] == ",".join(FIELDS)
    return list(csv.DictReader(io.StringIO("\n".join(lines) + "\n")))


def in_database(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    """(record, id) -> what the export must say of it, read straight from the tables."""
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    with Session(engine) as session:
        numbers = dict(session.execute(select(Student.id, Student.student_number)).all())
        for a in session.scalars(select(VerificationAttempt)):
            expected[("verification", str(a.id))] = {
                "phone": a.phone,
                "student_number": numbers.get(a.student_id, ""),
                "stir": a.stir or "",
                "outcome": a.outcome,
            }
        for d in session.scalars(select(Disclosure)):
            expected[("disclosure", str(d.id))] = {
                "phone": d.phone,
                "student_number": numbers[d.student_id],
                "stir": d.stir or "",
                "outcome": "disclosed",
            }
    return expected


def check_export(rows: list[dict[str, str]], expected: dict, secrets: set[str]) -> None:
    assert all(list(row) == list(FIELDS) for row in rows)
    assert sorted((r["record"], r["id"]) for r in rows) == sorted(expected), "not every row"
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows), "oldest first"
    for row in rows:
        want = expected[(row["record"], row["id"])]
        assert datetime.fromisoformat(row["time"]).tzinfo is not None
        assert row["channel"] in ("voice", "sms") and row["outcome"] == want["outcome"]
        assert row["step"] in (
            ("request", "check") if row["record"] == "verification" else ("disclose",)
        )
        assert row["method"] == ("dob+otp" if row["record"] == "disclosure" else "")
        assert row["caller_last4"] == (want["phone"] or "")[-4:]
        assert row["student_number"] == want["student_number"]
        assert row["stir"] == want["stir"]
        assert REFERENCE.fullmatch(row["conversation"]), row["conversation"]
        # Every other field, and the row as a whole less its identifiers: no secret at all.
        free = [v for k, v in row.items() if k not in ("student_number", "conversation", "id")]
        text = " ".join(free)
        found = [s for s in secrets if s in text or s in re.sub(r"\D", "", text)]
        assert not found, f"a secret in the audit export: {row}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, Outbox, Path]:
    folder = tmp_path_factory.mktemp("audit")
    app = create_app(settings_in(folder, flush_redis=False), upgrade_db=True)
    return app, Outbox(folder / "outbox.jsonl"), folder


WORDS = {
    "ask_last4": "last four digits of my child's social security number",
    "wrong_student": "7777777",
    "wrong_birth": "01011999",
    "wrong_code": "999999",
    "random_words": "agent please",
    "zero": "0",
    "random_keys": "31",
    "silence": "",
}


def converse(  # type: ignore[no-untyped-def]
    app: Flask, outbox: Outbox, made: list[dict], phone: str, actions, sms: bool, stir
) -> tuple[set[str], Call | None]:
    """Play ``actions`` as one caller: the one-time codes texted on the way, and the call."""
    client = SignedClient(app, AUTH_TOKEN)
    target, seen, codes, latest = made[0], len(outbox.messages()), set(), "000000"
    words_for = WORDS | {"right_student": target["number"], "right_birth": target["birth"]}
    call = None if sms else Call(client, caller=phone, **({"StirVerstat": stir} if stir else {}))
    thread = Thread(client, sender=phone)
    reply = call.start() if call else thread.text("hello")
    for action in actions:
        code, seen = latest_code(outbox, phone, seen)
        codes |= {code} if code else set()
        latest = code or latest
        words = latest if action == "right_code" else words_for[action]
        if call is None:
            reply = thread.text(words or " ")
        elif not reply.asks:
            break
        elif words:
            reply = call.press(words) if words.isdigit() else call.say(words)
        else:
            reply = call.silence()
        assert reply.status == 200
    code, _ = latest_code(outbox, phone, seen)
    return codes | ({code} if code else set()), call


def secrets_of(made: list[dict], codes: set[str]) -> set[str]:
    found = set(codes)
    for student in made:
        ssn, birth = student["ssn"], student["birth"]  # birth as keyed: MMDDYYYY
        found |= {ssn, ssn[:5], ssn[-4:], birth, f"{birth[4:]}-{birth[:2]}-{birth[2:4]}"}
    return found


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    students=st.lists(RANDOM_STUDENT, min_size=1, max_size=3),
    actions=ACTIONS,
    sms=st.booleans(),
    stir=st.sampled_from(STIRS),
    line=st.integers(0, 9999),
)
def test_the_export_holds_every_attempt_and_no_secret(  # type: ignore[no-untyped-def]
    shared, students, actions, sms, stir, line
) -> None:
    app, outbox, folder = shared
    phone = f"+1404555{line:04d}"
    assume(all(s["ssn"][-4:] != phone[-4:] for s in students))  # a caller's own last four
    made = import_students(app, folder, students, phone)
    codes, call = converse(app, outbox, made, phone, actions, sms, stir)
    secrets = secrets_of(made, codes)
    expected = in_database(services(app).engine)
    for form in ("csv", "jsonl"):
        rows = parsed(export(folder, "--format", form), form)
        check_export(rows, expected, secrets)
        if call is not None:  # the attestation this call carried, on each of its rows
            sid = call.base["CallSid"]
            mine = [r for r in rows if r["conversation"] in (sid, f"call:{sid}")]
            assert all(r["stir"] == (stir or "") for r in mine)


def test_a_disclosure_is_exported_with_who_when_and_how(app: Flask, roster: None, settings) -> None:  # type: ignore[no-untyped-def]
    """So the property is not vacuous: the right steps make a disclosure row, with the
    student number, the caller's last four and the attestation, and nothing else of theirs."""
    outbox = Outbox(settings.outbox)
    call = Call(SignedClient(app, AUTH_TOKEN), StirVerstat="TN-Validation-Passed-A")
    call.start()
    call.say("the last four of my son's social")
    call.press(STUDENT)
    call.press(BIRTH)
    code, _ = latest_code(outbox, call.base["From"], 0)
    assert code and "6, 7, 8, 9" in call.press(code).text
    folder = Path(settings.database_url.removeprefix("sqlite:///")).parent
    rows = parsed(export(folder, "--format", "jsonl"), "jsonl")
    [shown] = [r for r in rows if r["record"] == "disclosure"]
    assert shown["student_number"] == STUDENT and shown["caller_last4"] == "0123"
    assert shown["stir"] == "TN-Validation-Passed-A" and shown["channel"] == "voice"
    assert shown["conversation"] == call.base["CallSid"]
    steps = [(r["step"], r["outcome"]) for r in rows if r["record"] == "verification"]
    assert ("request", "code_sent") in steps
    assert ("check", "ok") in steps
    out = json.dumps(rows)
    for secret in (SSN, SSN.replace("-", ""), "6789", BIRTH, "2015-03-14", code):
        assert secret not in out


# ---- the command's range and formats --------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Result]]:
    """A few rows around whole days, on SQLite and PostgreSQL; the command run on them."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("VOICEBOT_TEST_POSTGRES_URL is not set (bash .ci/postgres.sh)")
        url = POSTGRES_URL
    engine = db.make_engine(url)
    if request.param == "postgresql":
        reset_postgres(engine)
    db.upgrade(engine)
    with Session(engine) as session, session.begin():
        kid = Student(
            student_number="2000001",
            first_name="Sam",
            last_name="Lee",
            birth_date=date(2013, 11, 2),
            ssn_last4="4321",
        )
        session.add(kid)
        session.flush()
        for day, hour, phone, stir in (
            (1, 0, "+14045550123", "=HYPERLINK(1)"),
            (1, 23, None, None),
            (2, 12, "+14045550188", "TN-Validation-Passed-B"),
            (3, 0, "+14045550199", None),
        ):
            session.add(
                VerificationAttempt(
                    attempted_at=datetime(2026, 2, day, hour, 0, 30, tzinfo=UTC),
                    conversation=f"call:CA{day:032x}",
                    channel="voice",
                    phone=phone,
                    stir=stir,
                    step="request",
                    outcome="sent",
                    student_id=kid.id,
                )
            )
        session.add(
            Disclosure(
                student_id=kid.id,
                disclosed_at=datetime(2026, 2, 2, 12, 5, tzinfo=UTC),
                channel="sms",
                phone="+14045550188",
                method="dob+otp",
                call_id="SM" + "a" * 32,
                stir=None,
            )
        )
    yield lambda *args: export(tmp_path, *args, url=url)
    engine.dispose()


def test_since_and_until_are_whole_utc_days(audit_db: Callable[..., Result]) -> None:
    every = parsed(audit_db(), "csv")
    assert [r["time"][:13] for r in every] == [
        "2026-02-01T00",
        "2026-02-01T23",
        "2026-02-02T12",
        "2026-02-02T12",
        "2026-02-03T00",
    ]
    assert every[3]["record"] == "disclosure" and every[3]["student_number"] == "2000001"
    one_day = parsed(audit_db("--since", "2026-02-02", "--until", "2026-02-02"), "csv")
    assert [(r["record"], r["caller_last4"]) for r in one_day] == [
        ("verification", "0188"),
        ("disclosure", "0188"),
    ]
    from_second = parsed(audit_db("--since", "2026-02-02"), "csv")
    assert len(from_second) == 3
    to_first = parsed(audit_db("--until", "2026-02-01", "--format", "jsonl"), "jsonl")
    assert [r["caller_last4"] for r in to_first] == ["0123", ""]  # a withheld number: empty
    backwards = audit_db("--since", "2026-02-03", "--until", "2026-02-01")
    assert backwards.exit_code == 2 and "--until" in backwards.output


def test_csv_cells_never_run_as_spreadsheet_formulas(audit_db: Callable[..., Result]) -> None:
    first = parsed(audit_db(), "csv")[0]
    assert first["stir"] == "'=HYPERLINK(1)"
    assert parsed(audit_db("--format", "jsonl"), "jsonl")[0]["stir"] == "=HYPERLINK(1)"


def test_the_count_goes_to_stderr_and_only_rows_to_stdout(audit_db: Callable[..., Result]) -> None:
    result = audit_db("--format", "jsonl")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 5 and "5 records exported" in result.stderr

"""`voicebot purge`: every kind of record just inside its [retention] window stays, just
outside goes; opt-outs never go; the foreign keys between them hold. On SQLite, and on
PostgreSQL when VOICEBOT_TEST_POSTGRES_URL names one (test_postgres.py's engine)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from tests.test_postgres import URL, _reset
from voicebot.cli import main
from voicebot.config import Retention
from voicebot.records import db
from voicebot.records.handoffs import Callback, ConversationDay, Handoff, UnrecognisedQuestion
from voicebot.records.models import Disclosure, OptOut, Student, VerificationAttempt
from voicebot.records.retention import purge

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
RULES = Retention()  # the defaults: 365, 2557, 365, 90, 180, 180 days
OLD_PHONE = "+14045559876"  # only on records past their retention


def ago(days: int, minutes: int = 0) -> datetime:
    """``days`` before NOW, moved ``minutes`` later: +1 is just inside, -1 just outside."""
    return NOW - timedelta(days=days) + timedelta(minutes=minutes)


IN, OUT = 1, -1


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        if not URL:
            pytest.skip("VOICEBOT_TEST_POSTGRES_URL is not set (bash .ci/postgres.sh)")
        engine = db.make_engine(URL)
        _reset(engine)
    else:
        engine = db.make_engine(f"sqlite:///{tmp_path / 'retention.sqlite3'}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def student(number: str, first: str = "Maria") -> Student:
    return Student(
        student_number=number,
        first_name=first,
        last_name="Lopez" if first else "",
        birth_date=date(2015, 3, 14),
        ssn_last4="6789" if first else None,
    )


def attempt(when: datetime, phone: str = "+14045550123", **extra: object) -> VerificationAttempt:
    fields = dict(conversation="call:CA1", channel="voice", step="check", outcome="ok")
    return VerificationAttempt(attempted_at=when, phone=phone, **(fields | extra))


def disclosure(who: Student, when: datetime) -> Disclosure:
    return Disclosure(
        student_id=who.id, disclosed_at=when, channel="sms", method="dob+otp", call_id="SM1"
    )


def handoff(when: datetime, transcript: str) -> Handoff:
    return Handoff(
        created_at=when,
        channel="voice",
        conversation="call:CA1",
        reason="asked",
        topic="password",
        language="en",
        verified=False,
        transcript=transcript,
    )


def populate(engine: Engine) -> dict[str, int]:
    """A record of every kind just inside and just outside its window; the ids to follow."""
    with Session(engine) as session, session.begin():
        kept, audit_only, still_named = student("1000001"), student("1000002", ""), None
        still_named = student("1000003", "")
        session.add_all([kept, audit_only, still_named])
        session.flush()
        d = RULES.disclosures
        session.add_all(
            [
                disclosure(kept, ago(d, OUT)),
                disclosure(kept, ago(d, IN)),
                disclosure(audit_only, ago(d, OUT)),
                disclosure(still_named, ago(d, IN)),
            ]
        )
        v = RULES.verification_attempts
        session.add_all([attempt(ago(v, OUT - n), OLD_PHONE) for n in range(5)])
        late = attempt(ago(v, IN), student_id=audit_only.id)
        session.add_all([late, attempt(ago(v, IN))])
        t, s = RULES.transfers, RULES.transcripts
        gone = handoff(ago(t, OUT), "Caller asked about: a forgotten password")
        summarised = handoff(ago(s, OUT), "Caller asked about: an activation key")
        recent = handoff(ago(s, IN), "Caller asked about: a username")
        session.add_all([gone, summarised, recent, handoff(ago(s, OUT - 5), "")])
        session.flush()
        c = RULES.callbacks
        linked = Callback(created_at=ago(c, IN), phone="+14045550123", topic="t", language="en")
        linked.handoff_id = gone.id
        old_callback = Callback(created_at=ago(c, OUT), phone=OLD_PHONE, topic="t", language="en")
        u = RULES.unrecognised_questions
        session.add_all(
            [
                linked,
                old_callback,
                UnrecognisedQuestion(created_at=ago(u, OUT), language="en", text="old one"),
                UnrecognisedQuestion(created_at=ago(u, IN), language="en", text="new one"),
                OptOut(phone="+14045550166", opted_out_at=ago(3650)),
                ConversationDay(day=date(2016, 1, 4), channel="voice", count=3),
            ]
        )
        session.flush()
        return {
            "audit_only": audit_only.id,
            "still_named": still_named.id,
            "late_attempt": late.id,
            "summarised": summarised.id,
            "recent": recent.id,
            "linked": linked.id,
        }


EXPECTED = {
    "verification attempts": 5,
    "disclosures": 2,
    "students kept only for the audit": 1,
    "callback requests": 1,
    "transfers": 1,
    "transfer transcripts": 1,
    "unrecognised questions": 1,
}


def counts(engine: Engine) -> dict[str, int]:
    tables = (
        VerificationAttempt,
        Disclosure,
        Student,
        Callback,
        Handoff,
        UnrecognisedQuestion,
        OptOut,
        ConversationDay,
    )
    with Session(engine) as session:
        return {t.__tablename__: len(session.scalars(select(t)).all()) for t in tables}


def test_purge_deletes_what_is_outside_and_keeps_what_is_inside(engine: Engine) -> None:
    ids = populate(engine)
    before = counts(engine)
    done = purge(engine, RULES, now=NOW, batch=2)  # batches of 2: five attempts take three
    assert {p.name: p.count for p in done} == EXPECTED
    assert counts(engine) == before | {
        "verification_attempts": 2,
        "disclosures": 2,
        "students": 2,
        "callbacks": 1,
        "handoffs": 3,
        "unrecognised_questions": 1,
    }
    with Session(engine) as session:
        assert session.get(Student, ids["audit_only"]) is None
        assert session.get(Student, ids["still_named"]) is not None  # a disclosure is kept
        # what pointed at a deleted row lets go of it instead of going too
        assert session.get(VerificationAttempt, ids["late_attempt"]).student_id is None
        assert session.get(Callback, ids["linked"]).handoff_id is None
        assert session.get(Handoff, ids["summarised"]).transcript == ""
        assert session.get(Handoff, ids["recent"]).transcript.endswith("a username")
        assert [q.text for q in session.scalars(select(UnrecognisedQuestion))] == ["new one"]
        phones = [a.phone for a in session.scalars(select(VerificationAttempt))]
        assert OLD_PHONE not in phones


def test_a_dry_run_counts_the_same_and_deletes_nothing(engine: Engine) -> None:
    populate(engine)
    before = counts(engine)
    planned = purge(engine, RULES, dry_run=True, now=NOW)
    assert {p.name: p.count for p in planned} == EXPECTED
    assert counts(engine) == before
    assert [(p.name, p.count) for p in purge(engine, RULES, now=NOW)] == [
        (p.name, p.count) for p in planned
    ]


def test_a_second_run_finds_nothing_to_do(engine: Engine) -> None:
    populate(engine)
    purge(engine, RULES, now=NOW)
    after = counts(engine)
    assert {p.name: p.count for p in purge(engine, RULES, now=NOW)} == dict.fromkeys(EXPECTED, 0)
    assert counts(engine) == after


def test_zero_days_keeps_that_kind_for_good(engine: Engine) -> None:
    populate(engine)
    rules = Retention(disclosures=0, callbacks=0, transcripts=0)
    done = {p.name: p for p in purge(engine, rules, now=NOW)}
    for name in ("disclosures", "students kept only for the audit", "transfer transcripts"):
        assert done[name].count is None and done[name].days == 0
    assert done["callback requests"].count is None
    assert done["verification attempts"].count == 5
    left = counts(engine)
    assert (left["disclosures"], left["students"], left["callbacks"]) == (4, 3, 2)


def test_on_sqlite_purged_numbers_are_not_left_in_the_files(tmp_path: Path) -> None:
    """Neither in the database's free pages nor in its write-ahead log, while the service
    still has it open; even where SQLite was built without secure_delete on by default."""
    path = tmp_path / "zeroed.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _plain_deletes(connection, _record) -> None:  # type: ignore[no-untyped-def]
        connection.execute("PRAGMA secure_delete = OFF")

    db.upgrade(engine)
    populate(engine)
    with engine.connect():  # open, as the web processes keep it
        purge(engine, RULES, now=NOW)
        written = b"".join(p.read_bytes() for p in tmp_path.glob("zeroed.sqlite3*"))
    engine.dispose()
    assert b"+14045550123" in written  # what is kept is there...
    assert OLD_PHONE.encode() not in written  # ...what was purged is not


# ---- the command ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VOICEBOT_INSTANCE_DIR", str(tmp_path / "instance"))
    for name in ("VOICEBOT_CONFIG", "TWILIO_ACCOUNT_SID", "TWILIO_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    engine = db.make_engine(url)
    db.upgrade(engine)
    return engine


def test_the_command_prints_a_line_per_kind_and_is_safe_to_repeat(cli_env: Engine) -> None:
    now = datetime.now(UTC)
    with Session(cli_env) as session, session.begin():
        session.add_all([attempt(now - timedelta(days=366)), attempt(now - timedelta(days=364))])
        session.add(
            UnrecognisedQuestion(created_at=now - timedelta(days=200), language="en", text="x")
        )
    planned = CliRunner().invoke(main, ["purge", "--dry-run"])
    assert planned.exit_code == 0, planned.output
    assert "verification attempts: 1 would be deleted (older than 365 days)" in planned.output
    assert "unrecognised questions: 1 would be deleted (older than 180 days)" in planned.output
    assert counts(cli_env)["verification_attempts"] == 2
    done = CliRunner().invoke(main, ["purge"])
    assert done.exit_code == 0, done.output
    assert "verification attempts: 1 deleted (older than 365 days)" in done.output
    assert "transfer transcripts: 0 cleared (older than 90 days)" in done.output
    assert "disclosures: 0 deleted (older than 2557 days)" in done.output
    assert "opt-outs: never purged" in done.output
    assert counts(cli_env)["verification_attempts"] == 1
    again = CliRunner().invoke(main, ["purge"])
    assert again.exit_code == 0 and "verification attempts: 0 deleted" in again.output


def test_the_command_follows_the_settings_file(
    cli_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "district.toml"
    settings.write_text("[retention]\nverification_attempts_days = 0\ncallbacks_days = 30\n")
    monkeypatch.setenv("VOICEBOT_CONFIG", str(settings))
    result = CliRunner().invoke(main, ["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "verification attempts: kept for good (0 days)" in result.output
    assert "callback requests: 0 would be deleted (older than 30 days)" in result.output


def test_a_disclosure_retention_of_weeks_stops_it_naming_the_key(
    cli_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "district.toml"
    settings.write_text("[retention]\ndisclosures_days = 84\n")
    monkeypatch.setenv("VOICEBOT_CONFIG", str(settings))
    result = CliRunner().invoke(main, ["purge"])
    assert result.exit_code == 1
    assert "[retention] disclosures_days: at least 365" in result.output

"""PostgreSQL is a first-class database: migrations and the stores run against it too.

Runs when VOICEBOT_TEST_POSTGRES_URL names an empty database that may be changed
(``.ci/postgres.sh`` starts a private server and prints one), e.g.
``postgresql+psycopg://postgres:PASSWORD@127.0.0.1:PORT/voicebot_test``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, inspect, text

from tests.helpers import AUTH_TOKEN, SUPPORT, Call, Thread
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.records import db
from voicebot.records.handoffs import Handoffs
from voicebot.records.optouts import OptOuts
from voicebot.services import services

URL = os.environ.get("VOICEBOT_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(
    not URL,
    reason="VOICEBOT_TEST_POSTGRES_URL is not set (bash .ci/postgres.sh starts a PostgreSQL "
    "and prints a URL for it)",
)


def _reset(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = db.make_engine(URL)
    _reset(engine)  # each test starts from an empty database
    yield engine
    engine.dispose()


def test_it_really_is_postgresql(engine: Engine) -> None:
    assert engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        assert "PostgreSQL" in connection.execute(text("SELECT version()")).scalar_one()


def test_upgrade_builds_the_schema_and_is_repeatable(engine: Engine) -> None:
    assert db.current_revision(engine) is None
    with pytest.raises(db.SchemaOutOfDate):
        db.check_schema(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    db.check_schema(engine)
    db.upgrade(engine)  # every release runs it again: nothing to do, no error
    assert db.current_revision(engine) == db.head_revision()
    assert "opt_outs" in inspect(engine).get_table_names()


def test_opt_outs_on_postgresql(engine: Engine) -> None:
    db.upgrade(engine)
    optouts = OptOuts(db.make_sessions(engine))
    assert not optouts.has("+14045550123")
    optouts.add("+14045550123")
    optouts.add("+14045550123")  # a second STOP changes nothing
    assert optouts.has("+14045550123") and not optouts.has("+14045550124")
    optouts.remove("+14045550123")
    optouts.remove("+14045550123")
    assert not optouts.has("+14045550123")


def test_many_processes_opting_out_at_once(engine: Engine) -> None:
    """Web workers share one database: the same STOP twice at once must not fail."""
    db.upgrade(engine)
    optouts = OptOuts(db.make_sessions(engine))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def stop() -> None:
        try:
            barrier.wait(timeout=10)
            optouts.add("+14045550199")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=stop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert optouts.has("+14045550199")
    assert not errors, f"concurrent STOPs failed: {errors!r}"


def test_the_help_line_on_postgresql(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, upgrade_db=True, database_url=URL)
    thread = Thread(SignedClient(app, AUTH_TOKEN))
    assert "Forgot Your Password" in thread.text("I forgot my password").text
    assert not thread.text("STOP").heard.messages
    assert OptOuts(db.make_sessions(engine)).has("+14045550123")
    assert not thread.text("I forgot my password").heard.messages


def test_a_transfer_and_the_daily_counts_on_postgresql(settings: Settings, engine: Engine) -> None:
    """Migration 0003's tables in use: the agent's record of a transfer, and new calls moved
    from Redis to the daily counts."""
    app = create_app(settings, upgrade_db=True, database_url=URL)
    call = Call(SignedClient(app, AUTH_TOKEN))
    call.start()
    assert call.press("0").transfers_to == SUPPORT
    svc = services(app)
    (handoff,) = svc.handoffs.recent()
    assert handoff["channel"] == "voice" and handoff["reason"]
    svc.conversations.flush_counts()
    assert svc.handoffs.stats(days=1).days[-1].calls == 1


def test_many_processes_counting_a_new_day_at_once(engine: Engine) -> None:
    """Each web process moves its counts on its own: several inserting a day's first row at
    the same moment must add up, not fail."""
    db.upgrade(engine)
    handoffs = Handoffs(db.make_sessions(engine))
    days = [date(2026, 8, 1) + timedelta(days=n) for n in range(20)]
    writers = 6
    warm = [engine.connect() for _ in range(writers)]  # no thread waits on a new connection
    for connection in warm:
        connection.close()
    errors: list[BaseException] = []

    def count(barrier: threading.Barrier, day: date) -> None:
        try:
            barrier.wait(timeout=10)
            handoffs.note_conversation("voice", day, 5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for day in days:
        barrier = threading.Barrier(writers)
        threads = [threading.Thread(target=count, args=(barrier, day)) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, f"concurrent counts failed: {errors[:3]!r}"
    for day in days:
        assert handoffs.stats(days=1, today=day).days[-1].calls == 5 * writers


def test_upgrading_an_existing_roster_fills_the_name_keys_on_postgresql(engine: Engine) -> None:
    from tests.test_roster import upgrading_fills_the_name_keys

    upgrading_fills_the_name_keys(engine)


def test_replace_takes_off_left_out_students_on_postgresql(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With the foreign keys enforced: a student the disclosure audit names is kept, the
    others are deleted, and the audit's references still hold."""
    from tests.test_roster import row, write
    from voicebot.records.roster import import_roster

    db.upgrade(engine)
    rows = [row(number="3000001"), row(number="3000002", first="Luis", phone="404-555-0177")]
    assert import_roster(engine, write(tmp_path / "r1.csv", rows)).committed
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO disclosures (student_id, disclosed_at, channel, method, call_id) "
                "SELECT id, now(), 'sms', 'dob+otp', 'SM1' FROM students "
                "WHERE student_number = '3000001'"
            )
        )
    rows.append(row(number="3000003", first="Kai", phone="404-555-0199"))
    result = import_roster(
        engine, write(tmp_path / "r2.csv", rows[2:]), replace=True, allow_large_removal=True
    )
    assert result.committed and (result.removed, result.retired) == (1, 1)
    with engine.connect() as connection:
        students = connection.execute(
            text("SELECT student_number, first_name, ssn_last4 FROM students ORDER BY 1")
        ).all()
        phones = connection.execute(text("SELECT phone FROM guardians ORDER BY 1")).all()
    assert [tuple(s) for s in students] == [("3000001", "", None), ("3000003", "Kai", None)]
    assert [p[0] for p in phones] == ["+14045550199"]

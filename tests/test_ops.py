"""Operations endpoints (/readyz, /voice/status, /metrics), metrics and JSON logs."""

from __future__ import annotations

import enum
import io
import json
import logging
import os
import secrets
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import AUTH_TOKEN, Call
from tests.test_failsafe import free_port
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.ops import logs, metrics
from voicebot.ops import status as ops
from voicebot.services import services

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Flask:  # overrides conftest's
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    return create_app(settings, upgrade_db=True)


def samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


# ---- /readyz ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis (REDIS_URL)")
def test_ready_when_redis_and_the_database_answer(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"redis": "ok", "database": "ok"}}


def test_ready_without_redis_says_conversations_stay_in_the_process(settings: Settings) -> None:
    app = create_app(settings, upgrade_db=True, redis_url="")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks == {"redis": "in-process (this worker only)", "database": "ok"}


def test_not_ready_names_the_database_when_it_is_gone(settings: Settings, tmp_path: Path) -> None:
    database = tmp_path / "gone" / "voicebot.sqlite3"
    app = create_app(settings, upgrade_db=True, database_url=f"sqlite:///{database}")
    shutil.rmtree(database.parent)
    services(app).engine.dispose()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["database"] and not body["checks"]["redis"].startswith("down")
    assert body["checks"]["database"].startswith("down")


def test_not_ready_names_redis_without_its_password(settings: Settings) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(settings, upgrade_db=True, redis_url=url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["redis"]
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "127.0.0.1" not in text


def test_not_ready_names_postgresql_without_its_password(settings: Settings) -> None:
    pytest.importorskip("psycopg", reason="psycopg (v3) is not installed")
    url = f"postgresql+psycopg://helpline:hunter2-secret@127.0.0.1:{free_port()}/voicebot"
    app = create_app(settings, database_url=url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["database"]
    assert "hunter2" not in response.get_data(as_text=True)


def test_healthz_stays_alive_when_not_ready(settings: Settings) -> None:
    app = create_app(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert app.test_client().get("/healthz").status_code == 200


# ---- /metrics --------------------------------------------------------------------------


def test_metrics_are_not_served_without_a_configured_token(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    app = create_app(settings, upgrade_db=True)
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN],
)
def test_metrics_need_the_bearer_token(app: Flask, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "voicebot_" not in response.get_data(as_text=True)


def test_metrics_count_what_the_hot_path_reports(app: Flask) -> None:
    with app.app_context():
        metrics.observe_turn("voice", 0.012)
        metrics.observe_turn("voice", 0.3)
        metrics.observe_turn("sms", 0.004)
        metrics.count_transfer("caller_asked")
        metrics.count_transfer("caller_asked")
        metrics.count_transfer("no_input")
        metrics.count_guard_block()
        metrics.count_fallback("voice")
        metrics.count_fallback("sms")
        metrics.count_fallback("sms")
    got = samples(app)
    assert got[("voicebot_turn_seconds_count", (("channel", "voice"),))] == 2
    assert got[("voicebot_turn_seconds_bucket", (("channel", "voice"), ("le", "0.025")))] == 1
    assert got[("voicebot_turn_seconds_count", (("channel", "sms"),))] == 1
    assert got[("voicebot_transfers_total", (("reason", "caller_asked"),))] == 2
    assert got[("voicebot_transfers_total", (("reason", "no_input"),))] == 1
    assert got[("voicebot_guard_blocks_total", ())] == 1
    assert got[("voicebot_fallbacks_total", (("channel", "voice"),))] == 1
    assert got[("voicebot_fallbacks_total", (("channel", "sms"),))] == 2


def test_every_app_has_its_own_metrics(settings: Settings, app: Flask) -> None:
    with app.app_context():
        metrics.count_guard_block()
    other = create_app(settings)
    assert samples(other)[("voicebot_guard_blocks_total", ())] == 0
    assert samples(app)[("voicebot_guard_blocks_total", ())] == 1


def test_labels_stay_bounded_whatever_the_caller_sends(app: Flask) -> None:
    with app.app_context():
        metrics.count_transfer('Weird "reason"\n<script>' * 20)
        metrics.observe_turn("carrier-pigeon", 0.1)
        metrics.count_fallback("\x00")
    got = samples(app)
    reasons = [dict(labels)["reason"] for name, labels in got if name == "voicebot_transfers_total"]
    assert len(reasons) == 1 and len(reasons[0]) <= 40
    assert all(ch.isalnum() or ch in "_-" for ch in reasons[0])
    assert ("voicebot_turn_seconds_count", (("channel", "other"),)) in got


def test_the_hot_path_functions_are_harmless_outside_an_app() -> None:
    metrics.observe_turn("voice", 0.1)
    metrics.count_transfer("caller_asked")
    metrics.count_guard_block()
    metrics.count_fallback("sms")
    metrics.count_call_end("completed")


# ---- /voice/status ---------------------------------------------------------------------


def status(twilio: SignedClient, call_sid: str, call_status: str, duration: str = "42"):  # type: ignore[no-untyped-def]
    return twilio.post(
        "/voice/status",
        {
            "CallSid": call_sid,
            "CallStatus": call_status,
            "CallDuration": duration,
            "From": "+14045550123",
            "To": "+14045550100",
            "AccountSid": "AC" + "0" * 32,
        },
    )


def today_stats(app: Flask) -> dict[str, int]:
    """Today's call counts: the district's today ([district] timezone)."""
    from zoneinfo import ZoneInfo

    from voicebot.ops.outcomes import district_day

    svc = services(app)
    today = district_day(ZoneInfo(svc.settings.timezone)).isoformat()
    return ops.call_stats(svc.store.redis, today)


class StatsChange:
    """What a test added to today's counts (with REDIS_URL, CI's tests share one Redis)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.before = today_stats(app)

    def __call__(self) -> dict[str, int]:
        after = today_stats(self.app)
        keys = set(after) | set(self.before)
        change = {key: after.get(key, 0) - self.before.get(key, 0) for key in keys}
        return {key: value for key, value in change.items() if value}


def new_sid() -> str:
    return "CA" + secrets.token_hex(16)


def test_a_status_callback_records_how_the_call_ended_once(
    app: Flask, twilio: SignedClient
) -> None:
    change = StatsChange(app)
    call = Call(twilio)
    call.start()
    sid = call.base["CallSid"]
    store = services(app).store
    assert store.load(f"call:{sid}") is not None

    response = status(twilio, sid, "completed", "42")
    assert response.status_code == 200
    assert ElementTree.fromstring(response.get_data(as_text=True)).tag == "Response"
    assert status(twilio, sid, "completed", "42").status_code == 200  # Twilio sends it again
    assert change() == {"calls": 1, "status:completed": 1, "seconds": 42}
    assert samples(app)[("voicebot_calls_ended_total", (("status", "completed"),))] == 1
    assert store.load(f"call:{sid}") is None, "a finished call's state is let go"

    status(twilio, new_sid(), "no-answer", "0")
    status(twilio, new_sid(), "busy", "not a number")
    assert change() == {
        "calls": 3,
        "status:completed": 1,
        "status:no-answer": 1,
        "status:busy": 1,
        "seconds": 42,
    }


@pytest.mark.parametrize("call_status", ["ringing", "in-progress", "queued", "", "COMPLETED!"])
def test_a_status_that_is_not_an_end_records_nothing(
    app: Flask, twilio: SignedClient, call_status: str
) -> None:
    change = StatsChange(app)
    response = status(twilio, new_sid(), call_status)
    assert response.status_code == 200
    assert change() == {}


def test_a_status_callback_must_be_signed(app: Flask) -> None:
    change = StatsChange(app)
    client = app.test_client()
    response = client.post("/voice/status", data={"CallSid": "CA1", "CallStatus": "completed"})
    assert response.status_code == 403
    forged = client.post(
        "/voice/status",
        data={"CallSid": "CA1", "CallStatus": "completed"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )
    assert forged.status_code == 403
    assert change() == {}


def test_a_status_callback_with_redis_down_is_still_answered(settings: Settings) -> None:
    app = create_app(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = status(SignedClient(app, AUTH_TOKEN), new_sid(), "completed")
    assert response.status_code == 200
    assert ElementTree.fromstring(response.get_data(as_text=True)).tag == "Response"


# ---- JSON logs -------------------------------------------------------------------------


@pytest.fixture
def json_log():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    level, voicebot_level = root.level, logging.getLogger("voicebot").level
    stream = io.StringIO()
    handlers: list[logging.Handler] = []

    def install(**kwargs):  # type: ignore[no-untyped-def]
        handlers.append(logs.configure("INFO", stream=stream, **kwargs))
        return stream

    yield install
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("voicebot").setLevel(voicebot_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_with_its_extra_fields(json_log) -> None:  # type: ignore[no-untyped-def]
    stream = json_log()
    logging.getLogger("voicebot.turn").info(
        "turn",
        extra={
            "call": "CA" + "a" * 32,
            "state": "main_menu",
            "intent": "forgot_password",
            "latency_ms": 3.2,
            "level": "shadowed",
        },
    )
    [line] = lines(stream)
    assert line["level"] == "INFO" and line["logger"] == "voicebot.turn"
    assert line["message"] == "turn"
    assert line["time"].endswith("Z") and "T" in line["time"]
    assert line["state"] == "main_menu" and line["intent"] == "forgot_password"
    assert line["latency_ms"] == 3.2
    assert line["extra_level"] == "shadowed"


def test_a_str_enum_field_is_written_as_its_value(json_log) -> None:  # type: ignore[no-untyped-def]
    class Channel(str, enum.Enum):  # noqa: UP042 - str() of this mixin is "Channel.VOICE"
        VOICE = "voice"

    stream = json_log()
    logging.getLogger("voicebot.turn").info("turn", extra={"channel": Channel.VOICE})
    [line] = lines(stream)
    assert line["channel"] == "voice"


def test_a_multi_line_message_and_a_traceback_stay_on_one_line(json_log) -> None:  # type: ignore[no-untyped-def]
    stream = json_log()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("voicebot.voice").exception("first\nsecond")
    text = stream.getvalue()
    assert text.count("\n") == 1
    [line] = lines(stream)
    # (the redaction filter, when installed, turns the newline into a space; either way the
    # record is one JSON line)
    assert line["message"].replace("\n", " ") == "first second"
    assert "ValueError: boom" in line["exception"]


def test_the_formatter_works_with_the_redaction_filter(json_log) -> None:  # type: ignore[no-untyped-def]
    from voicebot.policy.redact import RedactingFilter

    stream = json_log(filters=[RedactingFilter()])
    log = logging.getLogger("voicebot.sms")
    log.info("text from %s", "+14045550123", extra={"said": "my student number is 123456789"})
    try:
        raise RuntimeError("code 987654 failed")
    except RuntimeError:
        log.exception("oops")
    first, second = lines(stream)
    assert "4045550123" not in json.dumps(first) and first["message"].endswith("***23")
    assert "123456789" not in first["said"]
    assert "987654" not in second["exception"] and "RuntimeError" in second["exception"]


def test_configure_twice_installs_one_handler(json_log) -> None:  # type: ignore[no-untyped-def]
    stream = json_log()
    json_log()
    logging.getLogger("voicebot").warning("once")
    assert len(lines(stream)) == 1


def test_a_server_skipping_unused_record_fields_still_writes_whole_lines(json_log) -> None:  # type: ignore[no-untyped-def]
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)  # type: ignore[attr-defined]
    stream = json_log()
    try:
        logs.skip_unused_record_fields()
        logging.getLogger("voicebot.turn").info("turn", extra={"state": "menu", "turn": 2})
        (line,) = lines(stream)
        assert line["message"] == "turn" and line["level"] == "INFO"
        assert line["logger"] == "voicebot.turn" and line["time"].endswith("Z")
        assert line["state"] == "menu" and line["turn"] == 2
    finally:
        (
            logging._srcfile,  # type: ignore[attr-defined]
            logging.logThreads,
            logging.logProcesses,
            logging.logMultiprocessing,
        ) = saved


def test_gunicorn_logconfig_is_a_valid_logging_config() -> None:
    import logging.config

    config = logs.gunicorn_logconfig("INFO")
    names = ("gunicorn.error", "gunicorn.access")
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in names
    }
    root = logging.getLogger()
    root_handlers, root_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        handler = logging.getLogger("gunicorn.access").handlers[0]
        assert isinstance(handler.formatter, logs.JsonFormatter)
    finally:
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        root.handlers[:] = root_handlers
        root.setLevel(root_level)


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict:
    """config/gunicorn.conf.py as gunicorn reads it, with this environment."""
    import runpy

    from voicebot.config import REPO_ROOT

    for key in ("REDIS_URL", "WEB_CONCURRENCY", "VOICEBOT_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(REPO_ROOT / "config" / "gunicorn.conf.py"))


def test_the_server_runs_one_worker_when_conversations_cannot_be_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without Redis each worker keeps its own conversations: a call's next turn at another
    worker would start over, so the server keeps one worker whatever WEB_CONCURRENCY says."""
    alone = gunicorn_settings(monkeypatch, tmp_path, WEB_CONCURRENCY="3")
    shared = gunicorn_settings(
        monkeypatch, tmp_path, WEB_CONCURRENCY="3", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert alone["workers"] == 1
    assert shared["workers"] == 3

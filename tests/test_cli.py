"""The `voicebot` command, driven the way people and other tools drive it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from voicebot.cli import main
from voicebot.config import load_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "VOICEBOT_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    # the chat keeps its conversations (and verification limits) in-process, as on a laptop
    monkeypatch.delenv("REDIS_URL", raising=False)
    return values


def test_chat_by_voice_answers_presses_and_transfers(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["chat"], input="#3\n#2\n#1\n#0\ny\n")
    assert result.exit_code == 0, result.output
    assert "Welcome to the Atlanta Public Schools Parent Portal help line" in result.output
    assert "Forgot Your Password" in result.output
    assert "[text message to +14045550123:" in result.output
    assert "[transferring the call to +14048021000]" in result.output
    assert "[call ended]" in result.output


def test_chat_by_voice_understands_words_and_silence(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["chat", "--voice"], input="\nhow long must my password be\n")
    assert "didn't hear anything" in result.output
    assert "at least 6 characters" in result.output
    assert "[you hung up]" in result.output


def test_chat_by_sms_is_a_text_thread(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["chat", "--sms", "--from", "+14045550177"], input="MENU\nAGENT\n\n"
    )
    assert result.exit_code == 0, result.output
    assert "1 Activation key" in result.output and "404-802-1000" in result.output


def test_a_chat_is_counted_in_the_statistics_like_a_real_call(env: dict[str, str]) -> None:
    from voicebot.records import db
    from voicebot.records.handoffs import Handoffs

    CliRunner().invoke(main, ["chat", "--sms", "--from", "+14045550178"], input="MENU\n\n")
    CliRunner().invoke(main, ["chat"], input="#3\n")
    handoffs = Handoffs(db.make_sessions(db.make_engine(env["DATABASE_URL"])))
    zone = ZoneInfo(load_settings().timezone)  # counted on the district's day, not UTC's
    today = handoffs.stats(days=1, zone=zone).days[-1]
    assert (today.calls, today.texts) == (1, 1)


ROSTER = (
    "student_number,first_name,last_name,birth_date,ssn,guardian_name,guardian_phone,"
    "guardian_email,school\n"
    "1234567,Maria,Lopez,2015-03-14,123-45-6789,Ana Lopez,404-555-0123,,Grady HS\n"
)


def test_chat_by_sms_shows_the_code_texted_to_the_phone_on_file(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's last-four walk-through works by text too, and the chat's own outbox
    (codes in it) is gone when the chat ends."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["roster", "import", str(roster)]).exit_code == 0
    monkeypatch.delenv("VOICEBOT_OUTBOX")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    lines = ["the last four digits of my son's social", "1234567", "03142015"]
    result = runner.invoke(main, ["chat", "--sms"], input="\n".join(lines) + "\n\n")
    assert result.exit_code == 0, result.output
    assert "[text message to +14045550123:" in result.output
    assert list((tmp_path / "tmp").iterdir()) == []  # the chat's outbox is gone


def test_db_upgrade_creates_the_schema(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output


def test_serve_refuses_to_start_without_the_auth_token(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "TWILIO_AUTH_TOKEN" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "abc", "PORT: not a port number"),
        ("WEB_CONCURRENCY", "lots", "WEB_CONCURRENCY: not a number of workers"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL: 'chatty' is not DEBUG"),
    ],
)
def test_serve_names_a_bad_server_variable_and_other_commands_ignore_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and message in result.output, result.output
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0


def test_an_empty_port_variable_breaks_no_command(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "")
    result = subprocess.run(
        [sys.executable, "-m", "voicebot.cli", "flows", "check"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "flows OK" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False)])
def test_serve_warns_of_a_database_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, warned: bool
) -> None:
    from voicebot.cli.serve import _warn_if_database_is_open_to_others

    path = tmp_path / "old.sqlite3"
    path.write_bytes(b"")
    path.chmod(mode)
    _warn_if_database_is_open_to_others(f"sqlite:///{path}")
    said = capsys.readouterr().err
    assert ("can be read by other users" in said and f"chmod 600 {path}" in said) is warned
    assert warned or said == ""


def test_serve_refuses_an_out_of_date_database(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "voicebot db upgrade" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_healthz_under_gunicorn_and_warns_of_a_redis_that_does_not_answer(
    env: dict[str, str],
) -> None:
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    port = free_port()
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    environ = os.environ | env | {"TWILIO_AUTH_TOKEN": "token", "REDIS_URL": nobody}
    server = subprocess.Popen(
        [sys.executable, "-m", "voicebot.cli", "serve", "--port", str(port), "--workers", "1"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ) as response:
                    assert response.status == 200 and response.read() == b"ok\n"
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    output = server.stdout.read().decode()  # type: ignore[union-attr]
    assert "warning: REDIS_URL: Redis does not answer" in output, output

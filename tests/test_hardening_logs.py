"""Issue 20, item 4: gunicorn's own log lines are scrubbed like the app's.

A client chooses its path and, behind ProxyFix, the address gunicorn logs (X-Forwarded-For's
last value); an SSN or a code in either must not reach the log in clear. Tested through
gunicorn's real logger set up from config/gunicorn.conf.py, and against a real server.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from tests.helpers import AUTH_TOKEN, upgrade_database
from tests.test_multiprocess import Server
from tests.test_ops import gunicorn_settings

SSN = "531-72-4896"
SSN_DIGITS = "531724896"
LOGIN_PATH = f"/agents/login/{SSN_DIGITS}"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """gunicorn's logger setup (dictConfig) changes global loggers: put them back after."""
    names = ("", "gunicorn.error", "gunicorn.access")
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.filters[:], logger.level, logger.propagate)
    yield
    for name, (handlers, filters, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.filters[:] = handlers, filters
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def server_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, restored_logging: None
) -> tuple[Logger, dict[str, io.StringIO]]:
    """gunicorn's Logger as `voicebot serve` sets it up, its streams kept in memory."""
    conf = gunicorn_settings(monkeypatch, tmp_path)
    streams = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    monkeypatch.setattr(sys, "stdout", streams["stdout"])  # ext://sys.stdout: the access log
    monkeypatch.setattr(sys, "stderr", streams["stderr"])  # ext://sys.stderr: the error log
    cfg = Config()
    for name in ("accesslog", "access_log_format", "loglevel", "logconfig_dict"):
        cfg.set(name, conf[name])
    return Logger(cfg), streams


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def access_line(glog: Logger, remote: str, path: str, **more: Any) -> None:
    """What gunicorn logs after a request: atoms from the WSGI environ, once the app (and
    ProxyFix, which sets REMOTE_ADDR from X-Forwarded-For) has run."""
    environ = {
        "REMOTE_ADDR": remote,
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + "?code=82736451",
        "PATH_INFO": path,
        "QUERY_STRING": "code=82736451",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "curl/8.5.0",
    }
    response = SimpleNamespace(status="404 NOT FOUND", sent=more.get("sent", 207), headers=[])
    request = SimpleNamespace(headers=[("X-FORWARDED-FOR", SSN)])
    glog.access(response, request, environ, more.get("took", timedelta(milliseconds=12)))


def test_an_access_line_with_an_ssn_in_the_address_and_the_path_is_scrubbed(server_log) -> None:  # type: ignore[no-untyped-def]
    glog, streams = server_log
    access_line(glog, SSN, LOGIN_PATH)
    out = streams["stdout"].getvalue()
    assert SSN not in out and SSN_DIGITS not in out, out
    (line,) = json_lines(streams["stdout"])
    assert line["logger"] == "gunicorn.access"
    assert line["message"] == '[digits] "GET /agents/login/[digits]" 404 207 12ms'


def test_the_server_own_numbers_and_a_real_address_stay_readable(server_log) -> None:  # type: ignore[no-untyped-def]
    """Scrubbing field by field keeps a peer address, and sizes and durations of five digits
    or more, which a scrub of the whole line would run together into one [digits]."""
    glog, streams = server_log
    access_line(
        glog, "203.0.113.9", "/sms", sent=123456, took=timedelta(seconds=12, milliseconds=5)
    )
    access_line(glog, "2001:db8::7", "/voice/gather")
    first, second = (line["message"] for line in json_lines(streams["stdout"]))
    assert first == '203.0.113.9 "GET /sms" 404 123456 12005ms'
    assert second.startswith('2001:db8::7 "GET /voice/gather" 404 ')


def test_every_client_field_is_scrubbed_even_if_the_format_grows(server_log) -> None:  # type: ignore[no-untyped-def]
    """Request line, query string, any header: whatever atom a later format names."""
    glog, streams = server_log
    glog.cfg.set("access_log_format", '%(h)s "%(r)s" %(q)s %({x-forwarded-for}i)s %(a)s %(s)s')
    access_line(glog, SSN, LOGIN_PATH)
    (line,) = json_lines(streams["stdout"])
    for secret in (SSN, SSN_DIGITS, "82736451"):
        assert secret not in line["message"], line
    assert "curl/8.5.0" in line["message"] and line["message"].endswith(" 404")


def test_gunicorn_error_lines_quoting_a_request_are_scrubbed(server_log) -> None:  # type: ignore[no-untyped-def]
    glog, streams = server_log
    glog.warning(
        f"Invalid request from ip=127.0.0.1: Invalid HTTP request line: 'GET {LOGIN_PATH} HTTP/1.1'"
    )
    glog.error_log.setLevel(logging.DEBUG)  # at LOG_LEVEL=debug: every request's path
    glog.debug("%s %s", "GET", LOGIN_PATH)
    try:
        raise ValueError(f"bad token {SSN}")
    except ValueError:
        glog.exception("Error handling request %s %s", "POST", LOGIN_PATH)
    out = streams["stderr"].getvalue()
    assert SSN not in out and SSN_DIGITS not in out, out
    lines = json_lines(streams["stderr"])
    assert "Invalid HTTP request line: 'GET /agents/login/[digits] HTTP/1.1'" in out
    assert [line["message"] for line in lines[1:]] == [
        "GET /agents/login/[digits]",
        "Error handling request POST /agents/login/[digits]",
    ]
    assert "ValueError: bad token [digits]" in lines[2]["exception"]


def test_gunicorn_own_numbers_and_addresses_in_error_lines_are_kept(server_log) -> None:  # type: ignore[no-untyped-def]
    glog, streams = server_log
    glog.info("Listening at: %s (%s)", "http://127.0.0.1:8000", 123456)
    glog.info("Booting worker with pid: %s", 123457)
    messages = [line["message"] for line in json_lines(streams["stderr"])]
    assert messages == [
        "Listening at: http://127.0.0.1:8000 (123456)",
        "Booting worker with pid: 123457",
    ]


# ---- end to end: a real `voicebot serve` ---------------------------------------------------


def serve_environment(tmp_path: Path) -> dict[str, str]:
    """A one-worker server without Redis behind one proxy, on its own SQLite file."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VOICEBOT_", "TWILIO_", "PROMETHEUS_", "prometheus_"))
        and key not in ("REDIS_URL", "PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "GUNICORN_BIND")
    }
    environ |= {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "VOICEBOT_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(tmp_path / "instance"),
        # Behind one proxy: ProxyFix makes X-Forwarded-For's last value the address logged.
        "VOICEBOT_TRUSTED_PROXIES": "1",
    }
    upgrade_database(environ)
    return environ


def test_a_real_server_logs_no_ssn_from_a_forged_address_or_a_path(tmp_path: Path) -> None:
    server = Server(serve_environment(tmp_path), tmp_path / "server.log")
    try:
        server.wait_ready()
        request = urllib.request.Request(server.base + LOGIN_PATH, headers={"X-Forwarded-For": SSN})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as error:
            error.close()  # a 404 (or the sign-in page's answer): the log line is the point
        deadline = time.monotonic() + 20
        while "/agents/login/" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert SSN not in log and SSN_DIGITS not in log, log[-3000:]
    access = [
        json.loads(line)["message"]
        for line in log.splitlines()
        if line.startswith("{") and '"logger":"gunicorn.access"' in line
    ]
    assert '[digits] "GET /agents/login/[digits]" 404' in " ".join(access), log[-3000:]

"""Any number of web processes share state: two `voicebot serve` servers on one Redis.

Each server is a real gunicorn (one worker) on its own loopback port, started as a separate
process with the environment a deployment would give it; both use one redis-server and one
SQLite file. A call's turns alternate between the two servers, signed for the URL each server
sees (http://127.0.0.1:PORT/...), and the dialog carries on as if one server had answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from tests.helpers import AUTH_TOKEN, CALLER, HELPLINE, SUPPORT, upgrade_database
from tests.test_failsafe import REDIS_SERVER, RedisServer, free_port
from voicebot.cli.simulator import Heard, read_twiml
from voicebot.config import REPO_ROOT
from voicebot.sessions.store import SessionStore

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (apt-get install redis-server; CI installs it)",
)
VALIDATOR = RequestValidator(AUTH_TOKEN)


@dataclass
class Answer:
    status: int
    body: str
    heard: Heard


class Server:
    """`python -m voicebot.cli serve --workers 1` on a free port, in its own process group."""

    def __init__(self, environ: dict[str, str], log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "voicebot.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                cwd=REPO_ROOT,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"server on {self.port} did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def post(self, path: str, fields: dict[str, str]) -> Answer:
        signature = VALIDATOR.compute_signature(self.base + path, fields)
        request = urllib.request.Request(
            self.base + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"X-Twilio-Signature": signature},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read().decode(errors="replace"), error.code
        heard = read_twiml(body) if status == 200 else Heard()
        return Answer(status, body, heard)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own group: gunicorn and worker
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


def server_environment(tmp_path: Path, redis_server: RedisServer) -> dict[str, str]:
    """What a deployment gives each server, and its database brought up to date."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VOICEBOT_", "TWILIO_", "PROMETHEUS_", "prometheus_"))
    }
    environ |= {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "REDIS_URL": redis_server.url,
        "VOICEBOT_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(tmp_path / "instance"),
        "WEB_CONCURRENCY": "1",
    }
    environ.pop("PORT", None)
    upgrade_database(environ)
    return environ


@pytest.fixture
def servers(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[Server, Server]]:
    # Several servers share one VOICEBOT_SECRET_KEY, as a deployment of several must: it keys
    # the SMS conversation ids (and signs the agents' sessions).
    environ = server_environment(tmp_path, redis_server) | {"VOICEBOT_SECRET_KEY": "s" * 64}
    pair = (Server(environ, tmp_path / "a.log"), Server(environ, tmp_path / "b.log"))
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


def test_a_call_alternating_between_two_servers_carries_on(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    call = {"CallSid": "CA" + "5" * 32, "From": CALLER, "To": HELPLINE}

    greeting = a.post("/voice", call | {"CallStatus": "ringing", "Direction": "inbound"})
    assert greeting.status == 200 and greeting.heard.gather_action, greeting.body
    assert "Parent Portal help line" in " ".join(greeting.heard.said)

    forgot_menu = b.post(greeting.heard.gather_action, call | {"Digits": "3"})
    assert forgot_menu.status == 200 and forgot_menu.heard.gather_action, forgot_menu.body
    assert "password" in " ".join(forgot_menu.heard.said).lower()

    answer = a.post(forgot_menu.heard.gather_action, call | {"Digits": "2"})
    assert "Forgot Your Password" in " ".join(answer.heard.said), answer.body

    # Twilio retries the same webhook, and the retry lands on the other server: same answer.
    again = b.post(forgot_menu.heard.gather_action, call | {"Digits": "2"})
    assert again.body == answer.body

    # A server goes away (a deploy, a crash): the other one carries the call on.
    a.stop()
    assert answer.heard.gather_action
    after = b.post(answer.heard.gather_action, call | {"Digits": "0"})
    assert after.heard.dialed == SUPPORT, after.body


def test_a_text_thread_alternating_between_two_servers_carries_on(
    servers: tuple[Server, Server], redis_server: RedisServer
) -> None:
    a, b = servers

    def text(server: Server, body: str, n: int) -> Answer:
        return server.post(
            "/sms",
            {
                "MessageSid": f"SM{n:032x}",
                "From": CALLER,
                "To": HELPLINE,
                "Body": body,
                "NumMedia": "0",
            },
        )

    first = text(a, "I forgot the password", 1)
    assert "Forgot Your Password" in " ".join(first.heard.messages), first.body
    second = text(b, "what is my student number", 2)
    assert "student number" in " ".join(second.heard.messages).lower(), second.body
    keys = redis_server.client().keys("vb:conv:sms:*")
    assert len(keys) == 1, "both servers kept one conversation in the shared Redis"
    conversation = keys[0].decode().removeprefix("vb:conv:")
    state = SessionStore(redis_server.client()).load(conversation)
    assert state is not None and state.turn == 2

    stop = text(a, "STOP", 3)
    assert stop.status == 200 and not stop.heard.messages
    silent = text(b, "I forgot the password", 4)
    assert silent.status == 200 and not silent.heard.messages, "the opt-out is shared (SQL)"


def test_one_server_with_two_workers_shares_metrics_and_the_agents_sign_in(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """`voicebot serve` (the Procfile's command) with several workers: /metrics adds up
    every worker's turns, and an agent stays signed in whichever worker answers, with no
    VOICEBOT_SECRET_KEY set."""
    import http.cookiejar
    import re

    environ = server_environment(tmp_path, redis_server) | {"METRICS_TOKEN": "m" * 24}
    added = subprocess.run(
        [sys.executable, "-m", "voicebot.cli", "agents", "add", "dana", "--password-stdin"],
        cwd=REPO_ROOT,
        env=environ,
        input="correct horse battery\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    server = Server(environ, tmp_path / "two.log", workers=2)
    try:
        server.wait_ready()
        for n in range(6):  # several connections, so both workers answer some
            call = {"CallSid": f"CA{n:032x}", "From": CALLER, "To": HELPLINE}
            assert server.post("/voice", call).status == 200
        scrape = urllib.request.Request(
            server.base + "/metrics", headers={"Authorization": "Bearer " + "m" * 24}
        )
        with urllib.request.urlopen(scrape, timeout=10) as response:
            text = response.read().decode()
        assert 'voicebot_turn_seconds_count{channel="voice"} 6.0' in text, text[:2000]

        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(server.base + "/agents/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        form = {"name": "dana", "password": "correct horse battery", "csrf_token": token[1]}
        signed_in = browser.open(
            server.base + "/agents/login", data=urllib.parse.urlencode(form).encode(), timeout=10
        )
        assert signed_in.url.rstrip("/").endswith("/agents"), signed_in.url
        for _ in range(8):
            response = browser.open(server.base + "/agents/", timeout=10)
            assert response.url.rstrip("/").endswith("/agents"), "signed out by another worker"
    finally:
        server.stop()

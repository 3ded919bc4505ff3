"""Fail safe with real dependencies: Redis or the database dies mid-conversation.

A private ``redis-server`` (a free port on 127.0.0.1, a temporary folder, no persistence) is
stopped with ``SHUTDOWN NOSAVE`` in the middle of a call: the next turn must still answer
with TwiML that apologises and dials support, quickly (well inside Twilio's 15 s; the bound
asserted here is 1 s). Started again on the same port, it must serve new calls without an
app restart. The same for texts, and for the SQL database going away.

``RedisServer`` is also used by the concurrency and multi-process tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.helpers import AUTH_TOKEN, SUPPORT, Call, Thread
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.services import services

REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (apt-get install redis-server; .ci/run installs it)",
)
FALLBACK_BOUND = 1.0  # seconds: a dead dependency must cost a fast fallback


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of our own: started, stopped and restarted on one loopback port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries: redis.Redis(host=...) otherwise retries 10 times with back-off, which
        # turns SHUTDOWN (the server hangs up, as asked) into seconds of retrying.
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "redis-server did not start: "
                    + (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SHUTDOWN NOSAVE, as a crash would leave it: the data is gone too."""
        if self.process is None:
            return
        with contextlib.suppress(redis.exceptions.ConnectionError):
            self.client().shutdown(nosave=True)  # the server closes the connection as it goes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; CI installs it)")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


def twiml_root(xml: str) -> ElementTree.Element:
    root = ElementTree.fromstring(xml)
    assert root.tag == "Response", xml
    return root


def assert_voice_fallback(reply, elapsed: float) -> None:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply
    twiml_root(reply.xml)
    assert "sorry" in reply.text.lower(), reply.xml
    assert reply.transfers_to == SUPPORT, reply.xml
    assert elapsed < FALLBACK_BOUND, f"the fallback took {elapsed:.2f} s"


def assert_sms_fallback(reply, elapsed: float) -> None:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply
    twiml_root(reply.xml)
    assert "404-802-1000" in reply.text, reply.xml
    assert elapsed < FALLBACK_BOUND, f"the fallback took {elapsed:.2f} s"


@pytest.fixture
def live_app(settings: Settings, redis_server: RedisServer) -> Flask:
    return create_app(settings, upgrade_db=True, redis_url=redis_server.url)


@pytest.fixture
def live_twilio(live_app: Flask) -> SignedClient:
    return SignedClient(live_app, AUTH_TOKEN)


# ---- Redis -------------------------------------------------------------------------------


@needs_redis
def test_redis_dying_mid_call_transfers_the_caller_fast_and_recovers(
    live_twilio: SignedClient, redis_server: RedisServer
) -> None:
    call = Call(live_twilio)
    assert call.start().asks
    assert redis_server.client().keys("vb:conv:*"), "the call's state lives in this Redis"

    redis_server.stop()
    started = time.monotonic()
    reply = call.press("3")
    assert_voice_fallback(reply, time.monotonic() - started)

    # A second fault in a row is just as fast (no back-off builds up while Redis is away).
    started = time.monotonic()
    reply = Call(live_twilio).start()
    assert_voice_fallback(reply, time.monotonic() - started)

    redis_server.start()  # same port, empty: the app is not restarted
    fresh = Call(live_twilio)
    assert fresh.start().asks
    assert fresh.press("3").asks
    assert "Forgot Your Password" in fresh.press("2").text


@needs_redis
def test_redis_dying_mid_thread_replies_with_the_support_number_and_recovers(
    live_twilio: SignedClient, redis_server: RedisServer
) -> None:
    thread = Thread(live_twilio)
    assert thread.text("I forgot my password").heard.messages

    redis_server.stop()
    started = time.monotonic()
    reply = thread.text("what is my student number")
    assert_sms_fallback(reply, time.monotonic() - started)

    redis_server.start()
    reply = Thread(live_twilio, sender="+14045550188").text("I forgot my password")
    assert "Forgot Your Password" in reply.text
    assert "Forgot Your Password" in thread.text("I forgot my password").text


@needs_redis
def test_a_hanging_redis_costs_a_fast_transfer_not_twilios_timeout(
    live_twilio: SignedClient, redis_server: RedisServer
) -> None:
    """Redis alive but not answering (frozen, overloaded, a network black hole)."""
    call = Call(live_twilio)
    assert call.start().asks
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reply = call.press("3")
        assert_voice_fallback(reply, time.monotonic() - started)
        started = time.monotonic()
        reply = Thread(live_twilio, sender="+14045550166").text("I forgot my password")
        assert_sms_fallback(reply, time.monotonic() - started)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    fresh = Call(live_twilio)
    assert fresh.start().asks
    assert "Forgot Your Password" in fresh.say("I forgot my password").text


@needs_redis
def test_a_retried_webhook_after_recovery_is_answered_not_failed(
    live_twilio: SignedClient, redis_server: RedisServer
) -> None:
    """Twilio retries a webhook that failed; once Redis is back the retry gets a real turn."""
    redis_server.stop()
    call = Call(live_twilio)
    started = time.monotonic()
    assert_voice_fallback(call.start(), time.monotonic() - started)
    redis_server.start()
    assert call.start().asks


# ---- the database ------------------------------------------------------------------------


def _database_file(settings: Settings) -> Path:
    assert settings.database_url.startswith("sqlite:///")
    return Path(settings.database_url.removeprefix("sqlite:///"))


def test_database_gone_still_answers_a_text_with_the_support_number(
    settings: Settings, tmp_path: Path
) -> None:
    """An SMS reads the opt-out list first: without the database it must still be answered."""
    database = tmp_path / "db" / "voicebot.sqlite3"
    app = create_app(settings, upgrade_db=True, database_url=f"sqlite:///{database}")
    twilio = SignedClient(app, AUTH_TOKEN)
    thread = Thread(twilio)
    assert "Forgot Your Password" in thread.text("I forgot my password").text

    shutil.rmtree(database.parent)  # the database is gone...
    services(app).engine.dispose()  # ...and so are the pooled connections
    started = time.monotonic()
    reply = thread.text("what is my student number")
    assert_sms_fallback(reply, time.monotonic() - started)

    # A call does not need the database until it texts something: it carries on.
    call = Call(twilio)
    assert call.start().asks

    database.parent.mkdir()
    from voicebot.records import db

    db.upgrade(services(app).engine)  # the database is back (restored, empty)
    assert "Forgot Your Password" in Thread(twilio).text("I forgot my password").text


def test_database_gone_during_a_call_that_texts_still_transfers(
    settings: Settings, tmp_path: Path
) -> None:
    """Texting details during a call checks the opt-out list: a dead database must not drop
    the caller."""
    database = tmp_path / "db" / "voicebot.sqlite3"
    app = create_app(settings, upgrade_db=True, database_url=f"sqlite:///{database}")
    call = Call(SignedClient(app, AUTH_TOKEN))
    call.start()
    offer = call.say("I forgot my password")
    assert "text" in offer.text.lower(), offer.text
    shutil.rmtree(database.parent)
    services(app).engine.dispose()
    started = time.monotonic()
    reply = call.press("1")  # yes, text it to me
    elapsed = time.monotonic() - started
    assert reply.status == 200, reply
    twiml_root(reply.xml)
    assert elapsed < FALLBACK_BOUND, f"took {elapsed:.2f} s"
    # Either the text is skipped and the call goes on, or the caller is transferred: never
    # an error, never silence.
    assert reply.asks or reply.transfers_to == SUPPORT, reply.xml


@needs_redis
def test_a_quick_redis_restart_between_calls_costs_no_caller(
    live_twilio: SignedClient, redis_server: RedisServer
) -> None:
    """Pooled connections to the old server are dead: the next request must not fail on one."""
    assert Call(live_twilio).start().asks
    redis_server.stop()
    redis_server.start()  # nothing was asked of Redis while it was away
    for _ in range(3):
        reply = Call(live_twilio).start()
        assert reply.asks and reply.transfers_to is None, reply.xml


def forget_the_scripts(admin: redis.Redis) -> None:
    """SCRIPT FLUSH, a failover to a replica: Redis no longer knows the turn's scripts."""
    admin.script_flush()


def close_the_connections(admin: redis.Redis) -> None:
    """Redis drops idle clients (its timeout setting, CLIENT KILL, a proxy)."""
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1


@needs_redis
@pytest.mark.parametrize("disturb", [forget_the_scripts, close_the_connections])
def test_a_redis_that_forgot_the_scripts_or_closed_the_connection_costs_no_caller(
    live_twilio: SignedClient, redis_server: RedisServer, disturb: Callable[[redis.Redis], None]
) -> None:
    """The next turn teaches Redis the scripts again, or reconnects, instead of transferring
    the caller."""
    call = Call(live_twilio)
    assert call.start().asks
    disturb(redis_server.client())
    reply = call.say("I forgot my password")
    assert "Forgot Your Password" in reply.text and reply.transfers_to is None, reply.xml


@needs_redis
def test_a_reply_lost_after_the_lock_was_taken_costs_a_fast_fallback_not_a_wait(
    live_app: Flask, live_twilio: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link drops after Redis ran the lock script but before its reply arrived: the
    command must not be sent again (it would find its own lock and wait for it)."""
    call = Call(live_twilio)
    assert call.start().asks
    connection = services(live_app).store._line._local.connection
    read = connection.read_response
    lost: list[object] = []

    def reply_lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        lost.append(read(*args, **kwargs))  # Redis did the work ...
        monkeypatch.setattr(connection, "read_response", read)
        raise redis.exceptions.ConnectionError("Connection reset by peer")  # ... unheard

    monkeypatch.setattr(connection, "read_response", reply_lost)
    started = time.monotonic()
    reply = call.press("3")
    assert lost, "the lock script ran"
    assert_voice_fallback(reply, time.monotonic() - started)
    fresh = Call(live_twilio)
    assert fresh.start().asks and "Forgot Your Password" in fresh.say("I forgot my password").text

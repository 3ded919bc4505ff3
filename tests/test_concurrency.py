"""Two texts from one parent at the same moment are handled one after the other.

Each turn here is slowed down between reading the conversation's state and saving it (the
window in which two unserialised turns would both read the same state and one save would
overwrite the other). With the per-conversation lock the two turns never overlap and the
turn counter advances by exactly two; the last test takes the lock away and shows that the
same race then loses a turn, so the first tests are able to fail.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import AUTH_TOKEN, CALLER, HELPLINE, Reply, Thread
from tests.test_failsafe import REDIS_SERVER, RedisServer
from voicebot.app import create_app
from voicebot.channels.simulator import SignedClient
from voicebot.channels.sms import conversation_id
from voicebot.config import Settings

SLOW = 0.05  # seconds between a turn's load and its save


@pytest.fixture(params=["in-process", "redis-server"])
def shared_app(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Flask]:
    if request.param == "in-process":
        yield create_app(settings, upgrade_db=True, redis_url="")
        return
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; CI installs it)")
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield create_app(settings, upgrade_db=True, redis_url=server.url)
    finally:
        server.kill()


class Overlap:
    """Slows each turn down and records how many turns were between load and save at once."""

    def __init__(self, app: Flask) -> None:
        self.store = app.extensions["voicebot"].store
        self.inside = 0
        self.most = 0
        self._guard = threading.Lock()
        load, save = self.store.load_turn, self.store.save_turn

        def slow_load(conversation: str, request_id: str):  # type: ignore[no-untyped-def]
            loaded = load(conversation, request_id)
            with self._guard:
                self.inside += 1
                self.most = max(self.most, self.inside)
            time.sleep(SLOW)
            return loaded

        def counted_save(conversation: str, *args) -> None:  # type: ignore[no-untyped-def]
            with self._guard:
                self.inside -= 1
            save(conversation, *args)

        self.store.load_turn = slow_load
        self.store.save_turn = counted_save


def text_at_once(app: Flask, bodies: list[str], message_sids: list[str]) -> list[Reply]:
    barrier = threading.Barrier(len(bodies))
    replies: list[Reply | None] = [None] * len(bodies)
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            twilio = SignedClient(app, AUTH_TOKEN)
            fields = {
                "MessageSid": message_sids[index],
                "From": CALLER,
                "To": HELPLINE,
                "Body": bodies[index],
                "NumMedia": "0",
            }
            barrier.wait(timeout=10)
            replies[index] = Reply(twilio.post("/sms", fields))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert all(reply is not None for reply in replies)
    return replies  # type: ignore[return-value]


def turn_of(app: Flask) -> int:
    state = app.extensions["voicebot"].store.load(conversation_id(CALLER, HELPLINE, AUTH_TOKEN))
    assert state is not None, "the conversation is kept between texts"
    return state.turn


def test_two_texts_at_once_are_answered_one_after_the_other(shared_app: Flask) -> None:
    first = Thread(SignedClient(shared_app, AUTH_TOKEN)).text("hi")
    assert first.status == 200 and first.heard.messages
    before = turn_of(shared_app)
    overlap = Overlap(shared_app)

    password, number = text_at_once(
        shared_app,
        ["I forgot my password", "what is my student number"],
        ["SM" + "a" * 32, "SM" + "b" * 32],
    )

    assert overlap.most == 1, "two turns of one conversation ran at the same time"
    assert turn_of(shared_app) == before + 2
    assert password.status == number.status == 200
    assert "Forgot Your Password" in password.text, password.xml
    assert "student number" in number.text.lower(), number.xml
    assert password.text != number.text


def test_the_same_text_delivered_twice_at_once_is_one_turn(shared_app: Flask) -> None:
    """Twilio's retry can arrive while the first delivery is still being answered."""
    Thread(SignedClient(shared_app, AUTH_TOKEN)).text("hi")
    before = turn_of(shared_app)
    Overlap(shared_app)

    one, two = text_at_once(shared_app, ["I forgot my password"] * 2, ["SM" + "c" * 32] * 2)

    assert one.xml == two.xml and "Forgot Your Password" in one.text
    assert turn_of(shared_app) == before + 1


def test_without_the_lock_the_same_race_loses_a_turn(shared_app: Flask) -> None:
    """The control: proves the harness above really detects interleaved turns."""
    Thread(SignedClient(shared_app, AUTH_TOKEN)).text("hi")
    before = turn_of(shared_app)
    overlap = Overlap(shared_app)
    store = shared_app.extensions["voicebot"].store
    store.lock = lambda conversation, timeout=10.0: contextlib.nullcontext()

    text_at_once(
        shared_app,
        ["I forgot my password", "what is my student number"],
        ["SM" + "d" * 32, "SM" + "e" * 32],
    )

    assert overlap.most == 2
    assert turn_of(shared_app) == before + 1  # one of the two turns was overwritten

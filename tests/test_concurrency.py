"""Two texts from one parent at the same moment are handled one after the other.

Each turn here is slowed down between reading the conversation's state and saving it (the
window in which two unserialised turns would both read the same state and one save would
overwrite the other). With the per-conversation lock the two turns never overlap and the
turn counter advances by exactly two; the last test takes the lock away and shows that the
same race then loses a turn, so the first tests are able to fail.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from tests.helpers import AUTH_TOKEN, CALLER, HELPLINE, Reply, Thread
from tests.test_failsafe import REDIS_SERVER, RedisServer
from voicebot.app import create_app
from voicebot.channels.sms import conversation_id
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.dialog.model import State
from voicebot.services import services
from voicebot.sessions.store import OpenTurn

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

    def __init__(self, app: Flask, meet: int = 0) -> None:
        """``meet``: hold each turn until this many are between load and save (for the
        control, whose turns are not serialised: on a busy machine a 50 ms window alone may
        close before the second turn starts)."""
        self.store = services(app).store
        self.inside = 0
        self.most = 0
        self._guard = threading.Lock()
        self._meeting = threading.Barrier(meet) if meet else None
        begin, save = self.store.begin_turn, self.store.save

        def slow_begin(*args, **kwargs):  # type: ignore[no-untyped-def]
            opened = begin(*args, **kwargs)
            with self._guard:
                self.inside += 1
                self.most = max(self.most, self.inside)
            if self._meeting is not None:
                # turns that never meet: the assertion on `most` says so
                with contextlib.suppress(threading.BrokenBarrierError):
                    self._meeting.wait(timeout=10)
            time.sleep(SLOW)
            return opened

        def counted_save(*args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
            with self._guard:
                self.inside -= 1
            return save(*args, **kwargs)

        self.store.begin_turn = slow_begin
        self.store.save = counted_save


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
    key = services(app).settings.secret_key
    state = services(app).store.load(conversation_id(CALLER, HELPLINE, key))
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
    store = services(shared_app).store

    def unlocked_begin(conversation: str, request_id: str, *args) -> OpenTurn:  # type: ignore[no-untyped-def]
        """The same read, taking the lock without waiting for the turn that holds it."""
        token = secrets.token_hex(8)
        store.redis.set(store.lock_key(conversation), token)
        return OpenTurn(conversation, request_id, token, state=store.load(conversation))

    store.begin_turn = unlocked_begin
    overlap = Overlap(shared_app, meet=2)

    text_at_once(
        shared_app,
        ["I forgot my password", "what is my student number"],
        ["SM" + "d" * 32, "SM" + "e" * 32],
    )

    assert overlap.most == 2
    assert turn_of(shared_app) == before + 1  # one of the two turns was lost


def test_a_turn_that_outlived_its_lock_does_not_overwrite_the_next(shared_app: Flask) -> None:
    """A stuck turn (longer than the lock's timeout) must not undo what came after it."""
    store = services(shared_app).store
    stuck = store.begin_turn("sms:stuck", "SM1", timeout=0.05)
    time.sleep(0.15)  # the lock expires while the first turn is stuck
    later = store.begin_turn("sms:stuck", "SM2", wait=0.5)
    assert store.save(later, State(step="menu", lang="en", turn=7), 60, "<Response/>")

    assert not store.save(stuck, State(step="menu", lang="en", turn=99), 60, "<Response/>")
    saved = store.load("sms:stuck")
    assert saved is not None and saved.turn == 7


def test_a_save_that_fails_lets_go_of_the_lock(shared_app: Flask) -> None:
    """A Redis error while saving must not leave the parent's next text waiting on a lock."""
    store = services(shared_app).store
    working = store._finish

    def redis_went_away(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise redis.exceptions.ConnectionError("Redis went away")

    store._finish = redis_went_away
    with pytest.raises(redis.exceptions.ConnectionError), store.turn("sms:broken", "SM1") as opened:
        store.save(opened, State(step="menu", lang="en", turn=1), 60, "<Response/>")
    store._finish = working

    again = store.begin_turn("sms:broken", "SM2", wait=0)  # TimeoutError if still locked
    assert store.save(again, State(step="menu", lang="en", turn=2), 60, "<Response/>")

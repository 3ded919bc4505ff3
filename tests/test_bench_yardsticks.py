"""The load benchmark's yardsticks must do what their figures claim: the required-parts app
checks every signature and locks, writes and lets go of the conversation in Redis, with one
log line per turn; otherwise its figure would understate what the issue requires."""

from __future__ import annotations

import logging
from pathlib import Path

import fakeredis
import pytest

from voicebot.cli.simulator import SignedClient
from voicebot.ops import metrics
from voicebot.sessions.store import SessionStore

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "yardstick-token-0123456789abcdef"
CALL = {"CallSid": "CA" + "1" * 32, "From": "+14045550123", "To": "+14045550100"}


@pytest.fixture
def required(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import required_app

    store = SessionStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    return required_app.create_app(TOKEN, store), store


def test_a_turn_locks_writes_the_record_and_lets_go(required, caplog) -> None:  # type: ignore[no-untyped-def]
    from bench.floor_app import TWIML

    app, store = required
    with caplog.at_level(logging.INFO, logger="voicebot.turn"):
        reply = SignedClient(app, TOKEN).post("/voice/gather?turn=1", CALL)
    assert reply.status_code == 200
    assert reply.get_data(as_text=True) == TWIML
    conversation = "call:" + CALL["CallSid"]
    assert len(store.redis.get(store.conversation_key(conversation))) == 700
    assert store.redis.ttl(store.conversation_key(conversation)) > 0
    assert store.redis.get(store.lock_key(conversation)) is None  # let go
    turns = [r for r in caplog.records if r.name == "voicebot.turn"]
    assert len(turns) == 1 and turns[0].getMessage() == "turn"
    assert isinstance(turns[0].latency_ms, float)
    registry = app.extensions[metrics.EXTENSION].registry
    assert registry.get_sample_value("voicebot_turn_seconds_count", {"channel": "voice"}) == 1


def test_the_status_callback_counts_the_call_and_lets_its_conversation_go(required) -> None:  # type: ignore[no-untyped-def]
    """As the service does it: one script, no lock, no record written, an empty answer."""
    app, store = required
    twilio = SignedClient(app, TOKEN)
    twilio.post("/voice", CALL)
    ended = CALL | {"CallStatus": "completed", "CallDuration": "42"}
    reply = twilio.post("/voice/status", ended)
    assert reply.status_code == 200 and "<Gather" not in reply.get_data(as_text=True)
    assert store.redis.get(store.conversation_key("call:" + CALL["CallSid"])) is None
    [stats] = [key for key in store.redis.keys("*") if b"stats:" in key]
    assert store.redis.hget(stats, "calls") == b"1"
    assert store.redis.hget(stats, "seconds") == b"42"


def test_an_unsigned_or_forged_turn_is_refused_and_touches_nothing(required) -> None:  # type: ignore[no-untyped-def]
    app, store = required
    client = app.test_client()
    assert client.post("/voice", data=CALL).status_code == 403
    forged = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert client.post("/voice", data=CALL, headers=forged).status_code == 403
    assert store.redis.keys("*") == []


def test_a_conversation_locked_by_another_turn_is_not_written(required) -> None:  # type: ignore[no-untyped-def]
    app, store = required
    conversation = "call:" + CALL["CallSid"]
    store.redis.set(store.lock_key(conversation), "someone-else")
    reply = SignedClient(app, TOKEN).post("/voice", CALL)
    assert reply.status_code == 409
    assert store.redis.get(store.conversation_key(conversation)) is None

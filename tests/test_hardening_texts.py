"""Issue 20, items 3, 5 and 6: attacks on the texts the help line sends and on verification.

3. Text bombing: caller ID can be spoofed, so "text it" said over and over (or code
   requests) must not make the district's number text a stranger without end: a cap per
   destination number, counted atomically in Redis across calls and processes.
5. The limit of codes in flight must hold when requests arrive in parallel on several web
   processes (one Lua script checks and counts).
6. Callers who withhold their number must not be able to lock a family out, and get a
   small budget of tries of their own.

Redis is REDIS_URL when set (CI), else fakeredis; threads share one server either way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from flask import Flask

from tests.helpers import (
    BIRTH,
    CALLER,
    GUARDIAN_PHONE,
    OTHER_PHONE,
    STUDENT,
    Call,
    redis_test_url,
)
from tests.test_verifier import Clock, World, _phone, _student_number, check, conv
from voicebot.channels.outbound import Outbound, OutboxFile, Sent, TextLimits
from voicebot.cli.simulator import SignedClient
from voicebot.config import ConfigError, load_settings
from voicebot.policy.guard import Guard
from voicebot.verification import CodeResult, Verifier
from voicebot.verification.throttles import WITHHELD_LIMIT

SUPPORT = "+14048021000"
LIMIT_SAID = "can't send any more texts to this number"
UNAVAILABLE_SAID = "Sorry, I can't send a text to this number."


@pytest.fixture
def connect() -> Iterator[Callable[[], redis.Redis]]:
    """New clients of one Redis: each stands for a web process of its own."""
    clients: list[redis.Redis] = []
    server = fakeredis.FakeServer()

    if os.environ.get("REDIS_URL"):
        redis.Redis.from_url(redis_test_url()).flushdb()  # each test starts clean

    def new() -> redis.Redis:
        if os.environ.get("REDIS_URL"):
            client: redis.Redis = redis.Redis.from_url(redis_test_url())
        else:
            client = fakeredis.FakeRedis(server=server)
        clients.append(client)
        return client

    yield new
    for client in clients:
        client.close()


@pytest.fixture
def world(tmp_path: Path, connect: Callable[[], redis.Redis]) -> Iterator[World]:
    """test_verifier's world (a roster, an outbox, a Verifier with a clock to travel)."""
    made = World(tmp_path, connect())
    yield made
    made.engine.dispose()


def _outbound(tmp_path: Path, client: redis.Redis, clock: Clock, world: World) -> Outbound:
    """An Outbound as build_services makes it: counting texts per number in ``client``."""
    transport = OutboxFile(world.outbox)
    return Outbound(transport, world.optouts, Guard([SUPPORT]), client, TextLimits(3, 10), clock)


# --- 3. text bombing: a cap per destination number ------------------------------------------


def test_texts_to_one_number_stop_at_three_an_hour_and_ten_a_day(
    tmp_path: Path, world: World, connect: Callable[[], redis.Redis]
) -> None:
    clock = Clock()
    # Two "processes" (two clients, two Outbounds) share one Redis: the cap is shared.
    first = _outbound(tmp_path, connect(), clock, world)
    second = _outbound(tmp_path, connect(), clock, world)
    victim, other = _phone(), _phone()
    results = [
        (first if i % 2 else second).attempt(victim, "Log in at the portal.") for i in range(5)
    ]
    assert results == [Sent.SENT] * 3 + [Sent.LIMITED] * 2
    assert first.send(other, "Log in at the portal.") is True, "other numbers are not affected"

    sent = 3
    for _ in range(12):  # an hour later, three more; and so on up to ten a day
        clock.advance(3601)
        sent += sum(first.send(victim, "Log in at the portal.") for _ in range(3))
    assert sent == 10
    clock.advance(24 * 3600)
    assert first.send(victim, "Log in at the portal.") is True


def test_the_cap_is_keyed_by_a_pseudonym_never_the_number(
    tmp_path: Path, world: World, connect: Callable[[], redis.Redis]
) -> None:
    client = connect()
    outbound = _outbound(tmp_path, client, Clock(), world)
    victim = _phone()
    outbound.send(victim, "Log in at the portal.")
    keys = [key.decode() for key in client.scan_iter(match="vb:texts:*")]
    assert keys
    assert not any(victim[2:] in key or victim[-7:] in key for key in keys)


def test_parallel_texts_to_one_number_never_pass_the_cap(
    tmp_path: Path, world: World, connect: Callable[[], redis.Redis]
) -> None:
    victim, clock = _phone(), Clock()
    senders = [_outbound(tmp_path, connect(), clock, world) for _ in range(12)]
    start = threading.Barrier(len(senders))
    results: list[bool] = []

    def send(outbound: Outbound) -> None:
        start.wait()
        results.append(outbound.send(victim, "Log in at the portal."))

    threads = [threading.Thread(target=send, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 9 + [True] * 3


def test_codes_count_against_the_same_cap(
    tmp_path: Path, world: World, connect: Callable[[], redis.Redis]
) -> None:
    client = connect()
    outbound = _outbound(tmp_path, client, world.clock, world)
    verifier = Verifier(world.sessions, client, outbound, world.clock)
    kid = world.kid()
    for _ in range(3):  # someone spoofing the guardian's number asks for texts
        assert outbound.send(kid.phones[0], "Log in at the portal.")
    conversation = conv()
    verifier.request_code(conversation, kid.number, kid.birth, _phone(), "voice", None)
    assert [t for t in world.texts() if "code is" in t["body"]] == []
    world.clock.advance(3601)
    conversation = conv()
    caller = _phone()
    verifier.request_code(conversation, kid.number, kid.birth, caller, "voice", None)
    [(to, code)] = [(t["to"], t["body"].split("code is ")[1][:6]) for t in world.texts()[3:]]
    assert to == kid.phones[0]
    result = verifier.check_code(conversation, code, caller, "voice", conversation, None)
    assert result[0] is CodeResult.OK


def _ask_for_the_text_again(call: Call) -> str:
    return call.say("can you text that to me").text


def test_a_caller_asking_again_and_again_gets_three_texts_and_is_told_why_once(
    call: Call, outbox: Any
) -> None:
    call.start()
    call.say("Hi, I need an activation key for the parent portal")
    said = [call.say("yes").text] + [_ask_for_the_text_again(call) for _ in range(5)]
    assert [("sent a text message" in s) for s in said] == [True] * 3 + [False] * 3
    assert len(outbox.messages()) == 3
    assert LIMIT_SAID in said[3] and "404-802-1000" in said[3].replace(", ", "-").replace(" ", "")
    assert [LIMIT_SAID in s for s in said[4:]] == [False, False]
    assert all(UNAVAILABLE_SAID in s for s in said[4:])
    assert not call.last.heard.hung_up  # type: ignore[union-attr]


def test_the_cap_holds_across_calls_and_each_call_is_told_once(
    twilio: SignedClient, outbox: Any
) -> None:
    for _ in range(3):
        call = Call(twilio, caller=CALLER)
        call.start()
        call.say("where do I log in to the parent portal")
        assert "sent a text message" in call.say("yes").text
    spoofed = Call(twilio, caller=CALLER)
    spoofed.start()
    spoofed.say("where do I log in to the parent portal")
    assert LIMIT_SAID in spoofed.say("yes").text
    assert UNAVAILABLE_SAID in _ask_for_the_text_again(spoofed)
    assert len(outbox.messages()) == 3


def test_the_spanish_caller_is_told_in_spanish(call: Call, outbox: Any) -> None:
    call.start()
    call.press("9")
    call.say("necesito una clave de activación")
    said = [call.say("sí").text]
    said += [call.say("me lo puede mandar por texto").text for _ in range(3)]
    assert len(outbox.messages()) == 3
    assert "no puedo enviar más mensajes de texto a este número" in said[3]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("texts_per_hour = 5\ntexts_per_day = 4", r"\[limits\] texts_per_day: 4 is less than"),
        ("texts_per_hour = 0", r"\[limits\] texts_per_hour: must be greater than 0"),
        ('texts_per_day = "many"', r"\[limits\] texts_per_day: must be a whole number"),
        ("text_per_day = 4", r"text_per_day: not a setting; did you mean 'texts_per_day'"),
        ('code_calls_per_day = "many"', r"\[limits\] code_calls_per_day: must be a whole number"),
        ("code_calls_per_day = 0", r"\[limits\] code_calls_per_day: must be greater than 0"),
    ],
)
def test_a_bad_text_cap_stops_start_up_naming_the_key(
    tmp_path: Path, limits: str, message: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f"[limits]\n{limits}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings({"VOICEBOT_CONFIG": str(path)})


def test_the_text_cap_comes_from_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[limits]\ntexts_per_hour = 1\ntexts_per_day = 2\n")
    settings = load_settings({"VOICEBOT_CONFIG": str(path)})
    assert (settings.texts_per_hour, settings.texts_per_day) == (1, 2)
    defaults = load_settings({})
    assert (defaults.texts_per_hour, defaults.texts_per_day) == (3, 10)
    assert defaults.code_calls_per_day == 3
    assert settings.code_calls_per_day == 2  # never more than the day's texts, which count them


# --- 5. codes in flight: checked and counted in one step --------------------------------------


def test_parallel_requests_for_one_student_send_at_most_three_codes(
    world: World, connect: Callable[[], redis.Redis]
) -> None:
    kid = world.kid()
    verifiers = []
    for _ in range(8):  # eight web processes, each with its own client of one Redis
        client = connect()
        verifier = Verifier(world.sessions, client, world.outbound, world.clock)
        store = verifier.codes.store

        def slow_store(*args: Any, _store: Callable[..., None] = store) -> None:
            time.sleep(0.05)  # a slow round trip: whatever lies between check and count
            _store(*args)

        verifier.codes.store = slow_store  # type: ignore[method-assign]
        verifiers.append(verifier)
    start = threading.Barrier(len(verifiers))

    def ask(verifier: Verifier) -> None:
        start.wait()
        verifier.request_code(conv(), kid.number, kid.birth, _phone(), "voice", None)

    threads = [threading.Thread(target=ask, args=(v,)) for v in verifiers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(world.codes()) == 3


# --- 6. withheld numbers: their own budget, never the family's lock ----------------------------


@pytest.mark.parametrize("withheld", [None, "anonymous"])
def test_three_withheld_misses_do_not_lock_out_the_guardian(
    world: World, withheld: str | None
) -> None:
    kid = world.kid()
    for _ in range(3):
        world.verifier.request_code(conv(), kid.number, "01012014", withheld, "voice", None)
    conversation, guardian = conv(), kid.phones[0]
    world.verifier.request_code(conversation, kid.number, kid.birth, guardian, "voice", None)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, guardian)[0] is CodeResult.OK


def test_withheld_wrong_codes_do_not_lock_out_the_guardian(world: World) -> None:
    kid = world.kid()
    for _ in range(3):  # right details, then a code nobody has: three used-up codes
        conversation = conv()
        world.verifier.request_code(conversation, kid.number, kid.birth, None, "voice", None)
        for _ in range(3):
            check(world, conversation, "000000", None)
    conversation, guardian = conv(), kid.phones[0]
    world.verifier.request_code(conversation, kid.number, kid.birth, guardian, "voice", None)
    code = world.codes()[-1][1]
    assert check(world, conversation, code, guardian)[0] is CodeResult.OK


def _decoy_like(world: World, conversation: str, caller: str | None) -> list[Any]:
    return [check(world, conversation, "482913", caller) for _ in range(4)]


DECOY = [
    (CodeResult.WRONG, None),
    (CodeResult.WRONG, None),
    (CodeResult.EXHAUSTED, None),
    (CodeResult.EXHAUSTED, None),
]


@pytest.mark.parametrize("withheld", [None, "anonymous", "Restricted"])
def test_a_fourth_withheld_try_in_a_day_is_refused_like_any_other(
    world: World, withheld: str | None
) -> None:
    kid, other = world.kid(), world.kid(first="Sam")
    for _ in range(WITHHELD_LIMIT):  # any students, any details, across conversations
        world.verifier.request_code(conv(), other.number, "01012014", withheld, "sms", None)
    conversation = conv()
    world.verifier.request_code(conversation, kid.number, kid.birth, withheld, "voice", None)
    assert world.codes() == [], "no code for a fourth try, though the details match"
    assert _decoy_like(world, conversation, withheld) == DECOY
    assert world.verifier.is_locked(withheld) is False  # no early, different answer

    world.clock.advance(24 * 3600 + 1)
    conversation = conv()
    world.verifier.request_code(conversation, kid.number, kid.birth, withheld, "voice", None)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, withheld)[0] is CodeResult.OK


def test_made_up_caller_ids_share_one_budget(world: World) -> None:
    kid, other = world.kid(), world.kid(first="Sam")
    for made_up in ("12", "hello", "+1000"):
        world.verifier.request_code(conv(), other.number, "01012014", made_up, "voice", None)
    conversation = conv()
    world.verifier.request_code(conversation, kid.number, kid.birth, "xyz", "voice", None)
    assert world.codes() == []


def test_every_withheld_label_shares_the_one_budget(world: World) -> None:
    kid, other = world.kid(), world.kid(first="Sam")
    for label in ("anonymous", "restricted", "+266696687"):  # what Twilio sends for each
        world.verifier.request_code(conv(), other.number, "01012014", label, "voice", None)
    conversation = conv()
    world.verifier.request_code(conversation, kid.number, kid.birth, "private", "voice", None)
    assert world.codes() == []


def test_callers_with_a_number_are_not_held_to_the_withheld_budget(world: World) -> None:
    for _ in range(WITHHELD_LIMIT):
        world.verifier.request_code(conv(), _student_number(), "01012014", None, "voice", None)
    kid, caller, conversation = world.kid(), _phone(), conv()
    world.verifier.request_code(conversation, kid.number, kid.birth, caller, "voice", None)
    [(_, code)] = world.codes()
    assert check(world, conversation, code, caller)[0] is CodeResult.OK


def _details(call: Call, student: str, birth: str) -> None:
    call.start()
    call.say("I need the last four numbers of my daughter's social")
    call.press(student)
    call.press(birth)


def test_anonymous_calls_cannot_lock_the_family_out_over_the_phone(
    twilio: SignedClient, roster: None, outbox: Any, app: Flask
) -> None:
    for _ in range(3):
        _details(Call(twilio, caller="anonymous"), STUDENT, "01012014")
    guardian = Call(twilio, caller=GUARDIAN_PHONE)
    _details(guardian, STUDENT, BIRTH)
    codes = [m["body"] for m in outbox.messages() if m["to"] == GUARDIAN_PHONE]
    assert len(codes) == 1
    code = codes[0].split("code is ")[1][:6]
    assert "Maria" in guardian.press(code).text


def test_a_fourth_anonymous_call_hears_what_a_wrong_detail_hears(
    twilio: SignedClient, roster: None, outbox: Any
) -> None:
    for _ in range(3):
        _details(Call(twilio, caller="anonymous"), "7654321", "01012014")
    fourth, wrong_details = Call(twilio, caller="anonymous"), Call(twilio, caller=OTHER_PHONE)
    _details(fourth, STUDENT, BIRTH)  # right details
    _details(wrong_details, STUDENT, "01012014")
    assert outbox.messages() == []
    assert fourth.last.text == wrong_details.last.text  # type: ignore[union-attr]
    for call in (fourth, wrong_details):
        call.press("482913")
    assert fourth.last.text == wrong_details.last.text  # type: ignore[union-attr]


def test_withheld_requests_never_exceed_the_codes_in_flight_of_the_record(world: World) -> None:
    kid = world.kid()
    for _ in range(3):  # three codes out, from callers with a number
        world.verifier.request_code(conv(), kid.number, kid.birth, _phone(), "voice", None)
    world.verifier.request_code(conv(), kid.number, kid.birth, None, "voice", None)
    assert len(world.codes()) == 3

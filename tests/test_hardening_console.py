"""Issue 20, items 7 and 10: the agents' console after the attack review.

7. Sign-in answers must not tell real names from unknown ones (the same work on every
   path), the per-address throttle must hold under a parallel flood, and strangers who lock
   an account must not keep its agent out of the places they sign in from.
10. Signing out must end the session on the server: a copy of the cookie stops working.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.test_agents import PASSWORD, sign_in_from, token, wire
from voicebot.agents import console, gate
from voicebot.agents.console import ADDRESS_FAILURES, FAILED, MAX_FAILURES, hash_password
from voicebot.records.handoffs import Agent, Handoffs
from voicebot.services import services

HOME = "198.51.100.2"  # where amy signs in from
STRANGER = "203.0.113.7"
ELSEWHERE = "192.0.2.50"


@pytest.fixture
def handoffs(app: Flask) -> Handoffs:
    handoffs = wire(app)
    handoffs.add_agent("amy", hash_password(PASSWORD))
    handoffs.add_agent("lee", hash_password(PASSWORD))
    return handoffs


@pytest.fixture
def client(app: Flask, handoffs: Handoffs) -> FlaskClient:
    return app.test_client()


def lock(handoffs: Handoffs, name: str) -> None:
    with handoffs.sessions.begin() as session:
        session.execute(
            update(Agent)
            .where(Agent.name == name)
            .values(locked_until=datetime.now(UTC) + timedelta(minutes=15))
        )


def is_locked_now(handoffs: Handoffs, name: str) -> bool:
    agent = handoffs.agent(name)
    assert agent is not None
    until = agent.locked_until
    return until is not None and until.replace(tzinfo=until.tzinfo or UTC) > datetime.now(UTC)


def sign_out(client: FlaskClient) -> None:
    page = client.get("/agents/").get_data(as_text=True)
    assert client.post("/agents/logout", data={"csrf_token": token(page)}).status_code == 303


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash check the console runs, by the hash's method."""
    calls: list[str] = []
    real = console.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        calls.append(pwhash.split(":", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(console, "check_password_hash", counted)
    return calls


# ---- 7: the same work for every answer ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "password", "status"),
    [
        ("nobody", PASSWORD, 401),  # unknown name
        ("lee", "a wrong guess at it", 401),  # locked, wrong password
        ("lee", PASSWORD, 401),  # locked, right password, new address
        ("amy", "a wrong guess at it", 401),  # wrong password
        ("amy", PASSWORD, 303),  # right password
        ("", "", 401),  # no name at all
    ],
)
def test_every_sign_in_answer_checks_one_password_hash(
    client: FlaskClient,
    handoffs: Handoffs,
    hash_checks: list[str],
    name: str,
    password: str,
    status: int,
) -> None:
    lock(handoffs, "lee")
    response = sign_in_from(client, STRANGER, name, password)
    assert response.status_code == status
    # One scrypt check, as costly as an agent's: a locked agent answered in ~5 ms before, an
    # unknown name in ~100 ms, which told an attacker the name was real.
    assert hash_checks == ["scrypt"]


def test_every_refusal_reads_the_same(client: FlaskClient, handoffs: Handoffs) -> None:
    lock(handoffs, "lee")
    answers = {
        (response.status_code, response.get_data(as_text=True).replace(token(text), ""))
        for response, text in (
            (r, r.get_data(as_text=True))
            for r in (
                sign_in_from(client, STRANGER, "nobody", PASSWORD),
                sign_in_from(client, STRANGER, "lee", "a wrong guess at it"),
                sign_in_from(client, STRANGER, "lee", PASSWORD),
                sign_in_from(client, STRANGER, "amy", "a wrong guess at it"),
            )
        )
    }
    assert len(answers) == 1
    status, html = answers.pop()
    assert status == 401 and FAILED in html


def test_the_address_throttle_counts_every_kind_of_failure_before_hashing(
    client: FlaskClient, handoffs: Handoffs, hash_checks: list[str]
) -> None:
    lock(handoffs, "lee")
    tries = [("nobody", "x"), ("lee", "x"), ("lee", PASSWORD), ("amy", "x"), ("", "")]
    for number in range(ADDRESS_FAILURES):
        name, password = tries[number % len(tries)]
        assert sign_in_from(client, STRANGER, name, password).status_code == 401
        handoffs.sign_in_succeeded(handoffs.agent("amy").id)  # amy's own lock is not the point
    checks = len(hash_checks)
    refused = sign_in_from(client, STRANGER, "amy", PASSWORD)
    assert refused.status_code == 429
    assert len(hash_checks) == checks, "a refused address must cost no hashing"


def test_a_parallel_flood_from_one_address_gets_no_more_tries_than_the_limit(
    app: Flask, handoffs: Handoffs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each try is taken before hashing: requests that arrive together cannot all pass the
    check while the first ones are still hashing (they used to be counted afterwards)."""
    flood = ADDRESS_FAILURES + 5
    state = {"hashing": 0, "answered": 0}
    settled = threading.Condition()
    real = console.check_password_hash

    def slow_check(pwhash: str, password: str) -> bool:
        with settled:  # hold every hash until each request has hashed or been turned away
            state["hashing"] += 1
            settled.notify_all()
            settled.wait_for(lambda: state["hashing"] + state["answered"] >= flood, timeout=30)
        return real(pwhash, password)

    monkeypatch.setattr(console, "check_password_hash", slow_check)
    forms = []
    for _ in range(flood):
        client = app.test_client()
        page = client.get("/agents/login", environ_base={"REMOTE_ADDR": STRANGER})
        forms.append((client, token(page.get_data(as_text=True))))
    statuses: list[int] = []

    def post(client: FlaskClient, csrf: str) -> None:
        response = client.post(
            "/agents/login",
            data={"name": "nobody", "password": "guess", "csrf_token": csrf},
            environ_base={"REMOTE_ADDR": STRANGER},
        )
        with settled:
            statuses.append(response.status_code)
            if response.status_code == 429:
                state["answered"] += 1
                settled.notify_all()

    threads = [threading.Thread(target=post, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [401] * ADDRESS_FAILURES + [429] * 5
    assert state["hashing"] == ADDRESS_FAILURES


def test_a_success_gives_its_try_back(client: FlaskClient, handoffs: Handoffs) -> None:
    """Twenty agents signing in behind one school address must not lock that address out."""
    for _ in range(ADDRESS_FAILURES + 5):
        assert sign_in_from(client, HOME, "amy", PASSWORD).status_code == 303
        sign_out(client)
    assert sign_in_from(client, HOME, "amy", "a wrong guess at it").status_code == 401


# ---- 7: a lockout cannot keep an agent out of where they work ----------------------------


def lock_out(client: FlaskClient, handoffs: Handoffs, name: str, address: str) -> None:
    for _ in range(MAX_FAILURES):
        assert sign_in_from(client, address, name, "a wrong guess at it").status_code == 401
    assert is_locked_now(handoffs, name)


def test_a_locked_agent_gets_in_from_an_address_they_signed_in_from_before(
    app: Flask, handoffs: Handoffs
) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    sign_out(amy)
    lock_out(app.test_client(), handoffs, "amy", STRANGER)  # a stranger locks amy out
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    assert amy.get("/agents/").status_code == 200
    assert not is_locked_now(handoffs, "amy"), "the lock is lifted"


def test_from_a_new_address_a_locked_agent_is_refused_as_for_a_wrong_password(
    app: Flask, handoffs: Handoffs
) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    lock_out(app.test_client(), handoffs, "amy", STRANGER)
    for address in (STRANGER, ELSEWHERE):
        refused = sign_in_from(app.test_client(), address, "amy", PASSWORD)
        assert refused.status_code == 401 and FAILED in refused.get_data(as_text=True)
    assert is_locked_now(handoffs, "amy")


def test_guessing_from_a_known_address_is_as_slow_as_from_anywhere(
    app: Flask, handoffs: Handoffs
) -> None:
    """Someone sharing amy's address (her school's network) who guesses wrong five times
    gets the lock like anyone: that address lifts nothing until the lock ends."""
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    lock_out(app.test_client(), handoffs, "amy", HOME)
    assert sign_in_from(app.test_client(), HOME, "amy", PASSWORD).status_code == 401
    assert is_locked_now(handoffs, "amy")


def test_known_addresses_are_kept_pseudonymised_for_thirty_days(
    app: Flask, handoffs: Handoffs
) -> None:
    assert sign_in_from(app.test_client(), HOME, "amy", PASSWORD).status_code == 303
    redis = services(app).store.redis
    amy = handoffs.agent("amy")
    assert amy is not None
    key = gate.KNOWN_PREFIX + str(amy.id)
    assert 29 * 86400 < redis.ttl(key) <= 30 * 86400
    for name in redis.scan_iter("*"):
        stored = name + repr(redis.dump(name)).encode()
        assert HOME.encode() not in stored and b"amy" not in stored


def test_an_account_made_again_under_the_same_id_inherits_no_known_address() -> None:
    made, again = datetime(2025, 1, 6, 9, 0, tzinfo=UTC), datetime(2025, 3, 2, 9, 0)
    assert gate.pseudonym("k", 3, made, HOME) != gate.pseudonym("k", 3, again, HOME)
    assert gate.pseudonym("k", 3, made, HOME) == gate.pseudonym("k", 3, made, HOME)
    assert gate.pseudonym("k", 3, made, HOME) != gate.pseudonym("other key", 3, made, HOME)


def test_an_ipv6_address_is_known_by_its_64_prefix() -> None:
    assert gate.network("2001:db8:1:2:aaaa::1") == gate.network("2001:db8:1:2:bbbb::9")
    assert gate.network("2001:db8:1:2::1") != gate.network("2001:db8:1:3::1")
    assert gate.network("::ffff:198.51.100.2") == HOME
    assert gate.network("not an address") == "not an address"


def test_the_address_throttle_counts_an_ipv6_network_as_one_address(app: Flask) -> None:
    redis = services(app).store.redis
    # one /64 holds 2^64 addresses: cycling through them must not give fresh budgets
    addresses = [f"2001:db8:1:2::{n:x}" for n in range(3)]
    assert gate.take_try(redis, addresses[0], 2, timedelta(minutes=15))
    assert gate.take_try(redis, addresses[1], 2, timedelta(minutes=15))
    assert not gate.take_try(redis, addresses[2], 2, timedelta(minutes=15))
    assert gate.take_try(redis, "2001:db8:1:3::1", 2, timedelta(minutes=15))  # another /64


def test_no_password_or_name_in_the_sign_in_log(
    client: FlaskClient, handoffs: Handoffs, caplog: pytest.LogCaptureFixture
) -> None:
    assert sign_in_from(client, HOME, "amy", PASSWORD).status_code == 303
    sign_out(client)
    lock_out(client, handoffs, "amy", STRANGER)
    sign_in_from(client, STRANGER, "nobody-at-all", "a wrong guess at it")
    assert sign_in_from(client, HOME, "amy", PASSWORD).status_code == 303
    logged = caplog.text
    assert "lock lifted" in logged
    for secret in (PASSWORD, "a wrong guess at it", "amy", "nobody-at-all", HOME, STRANGER):
        assert secret not in logged


# ---- 10: signing out ends the session on the server --------------------------------------


def copy_cookie(source: FlaskClient, app: Flask) -> FlaskClient:
    cookie = source.get_cookie("vb_agent")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("vb_agent", cookie.value)
    return thief


def test_a_copied_cookie_works_until_sign_out_and_never_after(
    app: Flask, handoffs: Handoffs
) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    thief = copy_cookie(amy, app)
    assert thief.get("/agents/").status_code == 200, "the same cookie is the same session"
    sign_out(amy)
    for path in ("/agents/", "/agents/stats"):
        refused = thief.get(path)
        assert refused.status_code == 302 and "/agents/login" in refused.headers["Location"]
    assert thief.get("/agents/live").status_code == 401


def test_the_session_lives_in_redis_for_one_shift(app: Flask, handoffs: Handoffs) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    redis = services(app).store.redis
    keys = list(redis.scan_iter(gate.SESSION_PREFIX + "*"))
    assert len(keys) == 1
    agent = handoffs.agent("amy")
    assert agent is not None and int(redis.get(keys[0])) == agent.id
    assert 11 * 3600 < redis.ttl(keys[0]) <= 12 * 3600
    # Signing in again in the same browser ends its earlier session.
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    assert len(list(redis.scan_iter(gate.SESSION_PREFIX + "*"))) == 1
    sign_out(amy)
    assert list(redis.scan_iter(gate.SESSION_PREFIX + "*")) == []


def test_a_cookie_without_an_open_session_on_the_server_is_refused(
    app: Flask, handoffs: Handoffs
) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303
    redis = services(app).store.redis
    for key in redis.scan_iter(gate.SESSION_PREFIX + "*"):
        redis.delete(key)  # as when it expires
    assert amy.get("/agents/").status_code == 302


def test_a_new_password_still_ends_every_session(app: Flask, handoffs: Handoffs) -> None:
    amy, phone = app.test_client(), app.test_client()
    for browser in (amy, phone):
        assert sign_in_from(browser, HOME, "amy", PASSWORD).status_code == 303
    handoffs.set_password("amy", hash_password("another long password"))
    assert amy.get("/agents/").status_code == 302 and phone.get("/agents/").status_code == 302


def test_without_redis_pages_answer_503_and_keep_the_cookie(
    app: Flask, handoffs: Handoffs, monkeypatch: pytest.MonkeyPatch
) -> None:
    amy = app.test_client()
    assert sign_in_from(amy, HOME, "amy", PASSWORD).status_code == 303

    def down(*_: Any) -> None:
        raise redis_lib.ConnectionError("Redis is down")

    with monkeypatch.context() as patch:
        patch.setattr(gate, "session_agent", down)
        assert amy.get("/agents/").status_code == 503
    assert amy.get("/agents/").status_code == 200, "back when Redis is"

"""`voicebot twilio configure` and the two fallback routes it points the number at.

The command runs twilio-python's real REST client; only the HTTP underneath is a stand-in:
:class:`tests.fake_twilio.FakeTwilio`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from tests.fake_twilio import (
    ACCOUNT,
    LIST_PATH,
    SERVICE,
    TOKEN,
    FakeTwilio,
    messaging_service,
    phone_number,
)
from tests.helpers import AUTH_TOKEN, HELPLINE, SUPPORT, Call, Reply, Thread
from tests.test_failsafe import FALLBACK_BOUND, RedisServer, needs_redis, twiml_root
from tests.test_failsafe import redis_server as redis_server  # the fixture
from voicebot.app import create_app
from voicebot.cli import main
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.services import services

BASE = "https://help.example.org"
OTHER = "+14045550111"
FIVE = {
    "VoiceUrl": f"{BASE}/voice",
    "VoiceFallbackUrl": f"{BASE}/voice/fallback",
    "StatusCallback": f"{BASE}/voice/status",
    "SmsUrl": f"{BASE}/sms",
    "SmsFallbackUrl": f"{BASE}/sms/fallback",
}
THREE = {name: url for name, url in FIVE.items() if not name.startswith("Sms")}
SERVICE_URLS = {
    "InboundRequestUrl": f"{BASE}/sms",
    "FallbackUrl": f"{BASE}/sms/fallback",
    "StatusCallback": f"{BASE}/sms/status",
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("VOICEBOT_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_NUMBER", HELPLINE)
    monkeypatch.delenv("VOICEBOT_PUBLIC_URL", raising=False)
    monkeypatch.delenv("VOICEBOT_CONFIG", raising=False)


@pytest.fixture
def fake() -> FakeTwilio:
    return FakeTwilio(phone_number("PN" + "1" * 32, HELPLINE), phone_number("PN" + "2" * 32, OTHER))


def configure(fake: FakeTwilio, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["twilio", "configure", *args], obj={"twilio_http_client": fake}
    )


def test_configure_sets_the_five_webhooks_on_that_number_only(env: None, fake: FakeTwilio) -> None:
    other_before = dict(fake.numbers["PN" + "2" * 32])
    result = configure(fake, "--number", "(404) 555-0100", "--base-url", BASE + "/")
    assert result.exit_code == 0, result.output
    # one list filtered by the number, then one update of that number
    assert [(m, p) for m, p, _, _ in fake.requests] == [
        ("GET", LIST_PATH),
        ("POST", LIST_PATH.replace(".json", f"/PN{'1' * 32}.json")),
    ]
    assert fake.requests[0][2]["PhoneNumber"] == HELPLINE
    [(_, data)] = fake.posted()
    assert {k: v for k, v in data.items() if not k.endswith("Method")} == FIVE
    assert {k: v for k, v in data.items() if k.endswith("Method")} == {
        "VoiceMethod": "POST",
        "VoiceFallbackMethod": "POST",
        "StatusCallbackMethod": "POST",
        "SmsMethod": "POST",
        "SmsFallbackMethod": "POST",
    }
    number = fake.numbers["PN" + "1" * 32]
    assert number["voice_fallback_url"] == FIVE["VoiceFallbackUrl"]
    assert number["voice_method"] == "POST"
    assert fake.numbers["PN" + "2" * 32] == other_before
    # what it set, and what was there (a password in an old URL is not printed)
    for field, url in FIVE.items():
        assert re.search(rf"^  {field} +{re.escape(url)}", result.output, re.MULTILINE), field
    assert "(was https://old.example.net/answer)" in result.output
    assert "hunter2secret" not in result.output and "user:***@old.example.net" in result.output
    assert TOKEN not in result.output and "PN" + "1" * 32 in result.output


def test_running_it_again_changes_nothing_more(env: None, fake: FakeTwilio) -> None:
    assert configure(fake, "--base-url", BASE).exit_code == 0
    snapshot = json.dumps(fake.numbers, sort_keys=True)
    again = configure(fake, "--base-url", BASE)
    assert again.exit_code == 0, again.output
    assert json.dumps(fake.numbers, sort_keys=True) == snapshot
    assert "(was" not in again.output


def test_fallback_urls_may_live_on_another_host(env: None, fake: FakeTwilio) -> None:
    result = configure(fake, "--base-url", BASE, "--fallback-base-url", "https://spare.example.org")
    assert result.exit_code == 0, result.output
    [(_, data)] = fake.posted()
    assert data["VoiceFallbackUrl"] == "https://spare.example.org/voice/fallback"
    assert data["SmsFallbackUrl"] == "https://spare.example.org/sms/fallback"
    assert data["VoiceUrl"] == FIVE["VoiceUrl"] and data["SmsUrl"] == FIVE["SmsUrl"]


def test_dry_run_sends_nothing_and_needs_no_credentials(
    env: None, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER"):
        monkeypatch.delenv(name)
    result = configure(fake, "--dry-run", "--number", "+14045550100", "--base-url", BASE)
    assert result.exit_code == 0, result.output
    assert fake.requests == []
    assert "would set" in result.output
    for field, url in FIVE.items():
        assert re.search(rf"^  {field} +{re.escape(url)}$", result.output, re.MULTILINE), field


def test_dry_run_from_a_clean_shell(tmp_path: Path) -> None:
    """As an operator types it: a fresh process, none of the help line's variables set."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "VOICEBOT_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    args = ["twilio", "configure", "--dry-run", "--number", "+14045550100", "--base-url", BASE]
    done = subprocess.run(
        [sys.executable, "-m", "voicebot", *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split()[1] for line in done.stdout.splitlines()[1:6]] == list(FIVE.values())


def test_a_number_not_on_the_account_is_named_and_nothing_changes(
    env: None, fake: FakeTwilio
) -> None:
    result = configure(fake, "--number", "+14045550999", "--base-url", BASE)
    assert result.exit_code == 1
    assert "+14045550999 is not a number of this Twilio account" in result.output
    assert fake.posted() == []


def test_wrong_credentials_are_reported_without_them(
    env: None, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-token-5555")
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 1
    assert "HTTP 401" in result.output and "TWILIO_AUTH_TOKEN" in result.output
    assert "not-the-token-5555" not in result.output and TOKEN not in result.output
    assert fake.posted() == []


def test_credentials_are_needed_to_change_the_number(
    env: None, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 1 and "--dry-run" in result.output
    assert fake.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://help.example.org",
        "https://help.example.org/helpline",
        "help.example.org",
        "https://",
    ],
)
def test_a_base_url_twilio_could_not_use_is_refused(env: None, fake: FakeTwilio, url: str) -> None:
    result = configure(fake, "--base-url", url)
    assert result.exit_code == 2, result.output
    assert "--base-url" in result.output
    assert fake.requests == []


def test_the_public_url_is_the_default_and_a_different_one_is_warned_of(
    env: None, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_PUBLIC_URL", BASE)
    result = configure(fake, "--dry-run")
    assert result.exit_code == 0 and FIVE["SmsFallbackUrl"] in result.output
    assert "warning" not in result.output
    other = configure(fake, "--dry-run", "--base-url", "https://elsewhere.example.org")
    assert other.exit_code == 0
    assert "warning: VOICEBOT_PUBLIC_URL is https://help.example.org" in other.output


def test_an_application_on_the_number_is_pointed_out(env: None) -> None:
    fake = FakeTwilio(
        phone_number("PN" + "3" * 32, HELPLINE, voice_application_sid="AP" + "4" * 32)
    )
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 0
    assert f"warning: calls go to TwiML app AP{'4' * 32}" in result.output


# ---- with a Messaging Service (US A2P 10DLC) -----------------------------------------------


@pytest.fixture
def with_service(env: None, monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", SERVICE)
    return FakeTwilio(
        phone_number("PN" + "1" * 32, HELPLINE),
        services=(messaging_service(SERVICE, OTHER, HELPLINE),),
    )


def test_with_a_messaging_service_its_webhooks_carry_the_texts(with_service: FakeTwilio) -> None:
    fake = with_service
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 0, result.output
    number_update, service_update = fake.posted()
    # the number: its three call webhooks only
    assert number_update[0] == LIST_PATH.replace(".json", f"/PN{'1' * 32}.json")
    assert {k: v for k, v in number_update[1].items() if not k.endswith("Method")} == THREE
    assert fake.numbers["PN" + "1" * 32]["sms_url"].endswith("@old.example.net/sms")
    # the service: inbound, fallback and status callback, POST, instead of the number's
    assert service_update == (
        f"/v1/Services/{SERVICE}",
        SERVICE_URLS
        | {"InboundMethod": "POST", "FallbackMethod": "POST", "UseInboundWebhookOnNumber": "false"},
    )
    service = fake.services[SERVICE]
    assert service["inbound_request_url"] == f"{BASE}/sms"
    assert service["status_callback"] == f"{BASE}/sms/status"
    assert service["use_inbound_webhook_on_number"] is False
    assert f"Messaging Service {SERVICE}: set" in result.output
    for field, url in (THREE | SERVICE_URLS).items():
        assert re.search(rf"^  {field} +{re.escape(url)}", result.output, re.MULTILINE), field
    assert "(was https://old.example.net/texts)" in result.output
    assert "SmsUrl" not in result.output and "warning" not in result.output


def test_with_a_messaging_service_the_dry_run_shows_both(with_service: FakeTwilio) -> None:
    result = configure(with_service, "--dry-run", "--base-url", BASE)
    assert result.exit_code == 0, result.output
    assert with_service.requests == []
    assert f"Messaging Service {SERVICE}: would set" in result.output
    for field, url in (THREE | SERVICE_URLS).items():
        assert re.search(rf"^  {field} +{re.escape(url)}$", result.output, re.MULTILINE), field
    assert "SmsUrl" not in result.output


def test_a_number_outside_the_services_sender_pool_is_pointed_out(env: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", SERVICE)
    fake = FakeTwilio(
        phone_number("PN" + "1" * 32, HELPLINE), services=(messaging_service(SERVICE, OTHER),)
    )
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 0, result.output
    assert f"warning: {HELPLINE} is not a sender of Messaging Service {SERVICE}" in result.output


def test_a_messaging_service_not_on_the_account_is_named(env: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", "MG" + "f" * 32)
    fake = FakeTwilio(phone_number("PN" + "1" * 32, HELPLINE), services=())
    result = configure(fake, "--base-url", BASE)
    assert result.exit_code == 1
    assert f"Messaging Service MG{'f' * 32} is not on this Twilio account" in result.output
    assert [path for path, _ in fake.posted() if "Services" in path] == []


# ---- the fallback routes -------------------------------------------------------------------


def test_the_voice_fallback_apologises_and_dials_support(twilio: SignedClient) -> None:
    fields = {"CallSid": "CA" + "5" * 32, "From": "+14045550123", "To": HELPLINE}
    reply = Reply(twilio.post("/voice/fallback", fields | {"ErrorCode": "11200"}))
    assert reply.status == 200
    root = twiml_root(reply.xml)
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert "sorry" in reply.text.lower()
    assert reply.transfers_to == SUPPORT


def test_the_sms_fallback_texts_the_support_number(twilio: SignedClient) -> None:
    fields = {"MessageSid": "SM" + "6" * 32, "From": "+14045550123", "To": HELPLINE}
    reply = Reply(twilio.post("/sms/fallback", fields | {"Body": "what is my password"}))
    assert reply.status == 200
    assert len(reply.heard.messages) == 1 and "404-802-1000" in reply.text
    helped = Reply(twilio.post("/sms/fallback", fields | {"Body": "HELP"}))
    assert "STOP" in helped.text and "404-802-1000" in helped.text
    stopped = Reply(twilio.post("/sms/fallback", fields | {"Body": "stop"}))
    assert stopped.status == 200 and stopped.heard.messages == []


@pytest.mark.parametrize("path", ["/voice/fallback", "/sms/fallback"])
def test_the_fallbacks_refuse_requests_twilio_did_not_sign(app: Flask, path: str) -> None:
    fields = {"CallSid": "CA" + "7" * 32, "From": "+14045550123", "Body": "hi"}
    assert app.test_client().post(path, data=fields).status_code == 403
    forged = SignedClient(app, "some-other-token")
    assert forged.post(path, fields).status_code == 403


def _commands_run(server: RedisServer) -> int:
    return int(server.client().info("stats")["total_commands_processed"])


@needs_redis
def test_the_fallbacks_answer_with_redis_and_the_database_down(
    settings: Settings, tmp_path: Path, redis_server: RedisServer
) -> None:
    database = tmp_path / "db" / "voicebot.sqlite3"
    app = create_app(
        settings, upgrade_db=True, redis_url=redis_server.url, database_url=f"sqlite:///{database}"
    )
    twilio = SignedClient(app, AUTH_TOKEN)
    assert Call(twilio).start().asks  # the help line works, with both
    # Alive, Redis is not even asked: only the two INFO commands of the count are counted.
    first = _commands_run(redis_server)
    idle = _commands_run(redis_server) - first
    before = _commands_run(redis_server)
    twilio.post("/voice/fallback", {"CallSid": "CA" + "8" * 32, "From": "+14045550123"})
    twilio.post("/sms/fallback", {"From": "+14045550123", "Body": "hello"})
    assert _commands_run(redis_server) - before == idle

    redis_server.stop()
    shutil.rmtree(database.parent)
    services(app).engine.dispose()
    assert Thread(twilio).text("hello").heard.messages  # the main route: its own fallback
    for _ in range(2):
        started = time.monotonic()
        call = twilio.post("/voice/fallback", {"CallSid": "CA" + "9" * 32, "To": HELPLINE})
        voice = Reply(call)
        assert voice.status == 200 and voice.transfers_to == SUPPORT, voice.xml
        text = Reply(twilio.post("/sms/fallback", {"From": "+14045550123", "Body": "hi"}))
        assert text.status == 200 and "404-802-1000" in text.text, text.xml
        assert time.monotonic() - started < FALLBACK_BOUND

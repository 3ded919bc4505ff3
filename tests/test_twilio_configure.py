"""`voicebot twilio configure` and the two fallback routes it points the number at.

The command runs twilio-python's real REST client; only the HTTP underneath is a stand-in:
:class:`FakeTwilio`, a twilio.http.HttpClient that answers Twilio's IncomingPhoneNumbers list
and update requests from a dict, as Twilio's API would, and records every request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from tests.helpers import AUTH_TOKEN, HELPLINE, SUPPORT, Call, Reply, Thread
from tests.test_failsafe import FALLBACK_BOUND, RedisServer, needs_redis, twiml_root
from tests.test_failsafe import redis_server as redis_server  # the fixture
from voicebot.app import create_app
from voicebot.cli import main
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.services import services

ACCOUNT = "AC" + "0" * 32
TOKEN = "fake-twilio-token-9f8e7d6c5b4a"
BASE = "https://help.example.org"
OTHER = "+14045550111"
FIVE = {
    "VoiceUrl": f"{BASE}/voice",
    "VoiceFallbackUrl": f"{BASE}/voice/fallback",
    "StatusCallback": f"{BASE}/voice/status",
    "SmsUrl": f"{BASE}/sms",
    "SmsFallbackUrl": f"{BASE}/sms/fallback",
}
LIST_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json"
ONE_PATH = re.compile(rf"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/(PN\w+)\.json")


def snake(field: str) -> str:
    """Twilio's request field (VoiceFallbackUrl) as its JSON property (voice_fallback_url)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()


def phone_number(sid: str, number: str, **fields: Any) -> dict[str, Any]:
    """An IncomingPhoneNumber as Twilio's API returns it (the properties used here)."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "phone_number": number,
        "friendly_name": number,
        "voice_url": "https://old.example.net/answer",
        "voice_method": "GET",
        "voice_fallback_url": "",
        "voice_fallback_method": "POST",
        "status_callback": "",
        "status_callback_method": "POST",
        "sms_url": "https://user:hunter2secret@old.example.net/sms",
        "sms_method": "POST",
        "sms_fallback_url": "",
        "sms_fallback_method": "POST",
        "voice_application_sid": None,
        "sms_application_sid": None,
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{sid}.json",
    } | fields


class FakeTwilio(HttpClient):
    """Twilio's REST API for one account's phone numbers, in memory."""

    def __init__(self, *numbers: dict[str, Any]) -> None:
        super().__init__(logging.getLogger("tests.fake_twilio"), is_async=False)
        self.numbers = {n["sid"]: n for n in numbers}
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []

    def request(  # type: ignore[override]
        self,
        method: str,
        uri: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        parts = urlsplit(uri)
        assert parts.scheme == "https" and parts.netloc == "api.twilio.com", uri
        self.requests.append((method, parts.path, dict(params or {}), dict(data or {})))
        if auth != (ACCOUNT, TOKEN):
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if method == "GET" and parts.path == LIST_PATH:
            wanted = (params or {}).get("PhoneNumber", "")  # Twilio matches partial numbers
            found = [n for n in self.numbers.values() if wanted in n["phone_number"]]
            return self._answer(200, self._page(found, params or {}))
        matched = ONE_PATH.fullmatch(parts.path)
        if method == "POST" and matched and matched.group(1) in self.numbers:
            number = self.numbers[matched.group(1)]
            number.update({snake(field): value for field, value in (data or {}).items()})
            return self._answer(200, number)
        return self._answer(404, {"code": 20404, "message": "not found", "status": 404})

    @staticmethod
    def _page(found: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        size = int(params.get("PageSize", 50))
        return {
            "incoming_phone_numbers": found[:size],
            "start": 0,
            "end": max(len(found) - 1, 0),
            "page": 0,
            "page_size": size,
            "uri": LIST_PATH,
            "first_page_uri": LIST_PATH,
            "next_page_uri": None,
            "previous_page_uri": None,
        }

    @staticmethod
    def _answer(status: int, body: dict[str, Any]) -> TwilioResponse:
        return TwilioResponse(status, json.dumps(body))

    def posted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(path, data) for method, path, _, data in self.requests if method == "POST"]


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

"""Issue 20, the requests themselves: size and field limits refused before any parsing,
forwarded headers believed only from proxies said to be there, and secrets that can rotate.

Each test reproduces an attack from the review: a forged flood, an oversized body answered
as a call, a request signed for another host, a spoofed X-Forwarded-For, and a token
rotation that would end every text conversation.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask import Flask, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from tests.helpers import (
    AUTH_TOKEN,
    CALLER,
    HELPLINE,
    VECTOR_FIELDS,
    VECTOR_SIGNATURE,
    VECTOR_TOKEN,
    VECTOR_URL,
    Thread,
    settings_in,
)
from voicebot.app import create_app
from voicebot.channels.sms import conversation_id
from voicebot.cli.simulator import BASE_URL, SignedClient
from voicebot.config import ConfigError, Settings, load_settings
from voicebot.ops.metrics import EXTENSION
from voicebot.services import services

FORM = "application/x-www-form-urlencoded"
FIELDS = {"CallSid": "CA" + "b" * 32, "From": CALLER, "To": HELPLINE, "CallStatus": "ringing"}
ROUTES = ["/voice", "/voice/gather?turn=1", "/sms", "/voice/status", "/sms/status"]


class Untouched(io.BytesIO):
    """A request body that remembers whether anyone read it."""

    touched = False

    def read(self, *args, **kwargs) -> bytes:  # type: ignore[no-untyped-def, override]
        self.touched = True
        return super().read(*args, **kwargs)

    def readline(self, *args, **kwargs) -> bytes:  # type: ignore[no-untyped-def, override]
        self.touched = True
        return super().readline(*args, **kwargs)


def sign(url: str, fields: object, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, fields)


def fallbacks(app: Flask) -> float:
    registry = app.extensions[EXTENSION].registry
    return sum(
        registry.get_sample_value("voicebot_fallbacks_total", {"channel": channel}) or 0
        for channel in ("voice", "sms")
    )


# ---- 1. forged floods: refused before the body is read or parsed -------------------------


@pytest.mark.parametrize("signature", ["", "Zm9yZ2VkIHNpZ25hdHVyZQ=="])
def test_a_large_forged_body_is_refused_before_it_is_read(app: Flask, signature: str) -> None:
    """The attack: ~1 MB of empty fields (k0&k1&...), parsed and hashed before the 403."""
    body = Untouched(b"&".join(b"k%d" % n for n in range(120_000)))
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = app.test_client().post(
        "/voice",
        input_stream=body,
        content_length=len(body.getvalue()),
        content_type=FORM,
        headers=headers,
    )
    assert response.status_code == (413 if signature else 403)
    assert not body.touched, "the body was read before the request was refused"


def test_a_missing_signature_is_refused_before_the_body_is_read(app: Flask) -> None:
    body = Untouched(urlencode(FIELDS).encode())
    response = app.test_client().post(
        "/sms", input_stream=body, content_length=len(body.getvalue()), content_type=FORM
    )
    assert response.status_code == 403
    assert not body.touched


def test_more_form_fields_than_the_cap_are_refused_even_when_signed(
    app: Flask, settings: Settings
) -> None:
    """A small body can still hold thousands of fields; counted before parsing."""
    form = MultiDict(FIELDS)
    for number in range(settings.max_form_fields):
        form.add(f"k{number}", "")
    response = app.test_client().post(
        "/voice", data=form, headers={"X-Twilio-Signature": sign(BASE_URL + "/voice", form)}
    )
    assert response.status_code == 413


def test_a_form_of_twilios_size_is_still_answered(app: Flask) -> None:
    """About what Twilio sends with a picture message: 60 fields and a full 1,600-character
    body of accented letters (each percent-encoded to six bytes)."""
    form = MultiDict(FIELDS | {"Body": "é" * 1600, "MessageSid": "SM" + "c" * 32})
    for number in range(10):
        form.add(f"MediaUrl{number}", f"https://api.twilio.com/2010-04-01/Media/ME{number:032d}")
        form.add(f"MediaContentType{number}", "image/jpeg")
    for name in ("City", "State", "Zip", "Country"):
        form.add(f"From{name}", "x")
        form.add(f"To{name}", "x")
    response = SignedClient(app, AUTH_TOKEN).post("/sms", form)  # type: ignore[arg-type]
    assert response.status_code == 200


def test_too_many_multipart_parts_are_refused(app: Flask, settings: Settings) -> None:
    form = {f"k{number}": "" for number in range(settings.max_form_fields + 5)} | FIELDS
    response = app.test_client().post(
        "/voice",
        data=form,
        content_type="multipart/form-data",
        headers={"X-Twilio-Signature": sign(BASE_URL + "/voice", form)},
    )
    assert response.status_code == 413


def test_a_forged_form_is_walked_once(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each field of a forged request is read once to build the signed string; every URL and
    token tried costs one HMAC of it, not another walk over the whole form."""
    form = MultiDict(FIELDS | {f"k{number}": "" for number in range(100)})
    reads: list[str] = []
    original = MultiDict.getlist

    def counted(self, key, type=None):  # type: ignore[no-untyped-def]
        if isinstance(key, str) and key.startswith("k"):
            reads.append(key)
        return original(self, key, type)

    monkeypatch.setattr(MultiDict, "getlist", counted)
    response = app.test_client().post(
        "/voice", data=form, headers={"X-Twilio-Signature": "Zm9yZ2VkIHNpZ25hdHVyZQ=="}
    )
    assert response.status_code == 403
    assert len(reads) == 100, f"{len(reads)} reads of 100 fields"


def test_the_signed_string_is_twilios_own() -> None:
    """Twilio's known-good vector (twilio-python's tests), through the one-pass check, with
    the URL as Twilio sent it and with the port the validator also tries."""
    from voicebot.channels.signature import matching_token, signed_string

    url, good = VECTOR_URL, VECTOR_SIGNATURE
    text = signed_string(MultiDict(VECTOR_FIELDS))
    assert matching_token([("current", VECTOR_TOKEN)], url, text, good) == "current"
    fields = MultiDict(VECTOR_FIELDS)
    with_port = sign("https://mycompany.com:443/myapp.php?foo=1&bar=2", fields, "12345")
    assert matching_token([("current", "12345")], url, text, with_port) == "current"
    assert matching_token([("current", "12346")], url, text, good) is None


# ---- 2. oversized bodies: 413, never the call's apology and transfer ---------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("size", [40 * 1024, 2 * 1024 * 1024])
def test_an_oversized_body_is_413_without_apology_transfer_or_traceback(
    app: Flask, route: str, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    form = FIELDS | {"Body": "x" * size}
    caplog.set_level(logging.INFO)
    response = app.test_client().post(
        route, data=form, headers={"X-Twilio-Signature": sign(BASE_URL + route, form)}
    )
    assert response.status_code == 413
    assert b"<Dial" not in response.get_data() and b"<Say" not in response.get_data()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert fallbacks(app) == 0


def test_a_body_without_a_length_is_cut_off_at_the_limit(app: Flask, settings: Settings) -> None:
    body = Untouched(b"Body=" + b"x" * (settings.max_request_bytes + 1))
    response = app.test_client().post(
        "/voice",
        input_stream=body,
        content_type=FORM,
        headers={"X-Twilio-Signature": "Zm9yZ2Vk", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert fallbacks(app) == 0


# ---- 8. forwarded headers: believed only from proxies said to be there -------------------


def test_a_request_signed_for_another_host_is_refused_by_default(app: Flask) -> None:
    """A request captured on staging (same Twilio account) replayed with X-Forwarded-Host."""
    other = "https://staging.example.org/voice"
    response = app.test_client().post(
        "/voice",
        data=FIELDS,
        headers={
            "X-Twilio-Signature": sign(other, FIELDS),
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "staging.example.org",
        },
    )
    assert response.status_code == 403


def test_with_a_public_url_only_that_url_is_checked_even_behind_a_trusted_proxy(
    settings: Settings,
) -> None:
    app = create_app(
        settings, upgrade_db=True, public_url="https://help.example.org", trusted_proxies=1
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "staging.example.org"}
    client = app.test_client()
    for signed_for, expected in (
        ("https://staging.example.org/voice", 403),
        ("https://help.example.org/voice", 200),
    ):
        headers = forwarded | {"X-Twilio-Signature": sign(signed_for, FIELDS)}
        assert client.post("/voice", data=FIELDS, headers=headers).status_code == expected


def _peer(app: Flask) -> Flask:
    @app.get("/_test/peer")
    def peer() -> str:
        return request.remote_addr or ""

    return app


@pytest.mark.parametrize("proxies, seen", [(0, "10.0.0.1"), (1, "203.0.113.9")])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    settings: Settings, proxies: int, seen: str
) -> None:
    app = _peer(create_app(settings, upgrade_db=True, trusted_proxies=proxies))
    response = app.test_client().get(
        "/_test/peer",
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert response.get_data(as_text=True) == seen


def test_a_spoofed_x_forwarded_for_does_not_dodge_the_sign_in_throttle(app: Flask) -> None:
    from voicebot.agents.console import ADDRESS_FAILURES

    client = app.test_client()
    peer = {"REMOTE_ADDR": "198.51.100.4"}

    def try_once(number: int) -> int:
        page = client.get("/agents/login", environ_base=peer).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        return client.post(
            "/agents/login",
            data={"name": f"x{number}", "password": "guess", "csrf_token": token.group(1)},
            environ_base=peer,
            headers={"X-Forwarded-For": f"203.0.113.{number}"},  # a new address every try
        ).status_code

    assert [try_once(n) for n in range(ADDRESS_FAILURES)] == [401] * ADDRESS_FAILURES
    assert try_once(ADDRESS_FAILURES) == 429


def test_trusted_proxies_is_read_from_the_environment_and_checked(tmp_path: Path) -> None:
    base = {"VOICEBOT_INSTANCE_DIR": str(tmp_path)}
    assert load_settings(base).trusted_proxies == 0
    assert load_settings(base | {"VOICEBOT_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    for bad in ("-1", "one", "9"):
        with pytest.raises(ConfigError, match="VOICEBOT_TRUSTED_PROXIES"):
            load_settings(base | {"VOICEBOT_TRUSTED_PROXIES": bad})


def test_request_limits_too_small_for_twilio_stop_start_up(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    for key, value in (("max_request_bytes", 1000), ("max_form_fields", 10)):
        extra.write_text(f"[server]\n{key} = {value}\n")
        with pytest.raises(ConfigError, match=rf"\[server\] {key}"):
            load_settings({"VOICEBOT_CONFIG": str(extra)})


@pytest.mark.parametrize(
    "extra, warned",
    [
        ({}, True),
        ({"VOICEBOT_PUBLIC_URL": "https://help.example.org"}, False),
        ({"VOICEBOT_TRUSTED_PROXIES": "1"}, False),
    ],
)
def test_serve_warns_when_the_public_url_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], warned: bool
) -> None:
    from voicebot.cli import main

    environ = {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "VOICEBOT_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(tmp_path / "instance"),
    } | extra
    for name in ("REDIS_URL", "VOICEBOT_PUBLIC_URL", "VOICEBOT_TRUSTED_PROXIES", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0

    def no_server(*_: object) -> None:
        raise SystemExit(0)  # where gunicorn would start

    monkeypatch.setattr("os.execv", no_server)
    result = CliRunner().invoke(main, ["serve"])
    assert ("warning: VOICEBOT_PUBLIC_URL is not set" in result.output) is warned, result.output


# ---- 11. secrets rotation ---------------------------------------------------------------


def test_during_a_rotation_the_previous_token_is_accepted(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    previous = "previous-auth-token-" + secrets.token_hex(8)
    app = create_app(settings, upgrade_db=True, twilio_previous_auth_token=previous)
    caplog.set_level(logging.INFO, logger="voicebot.security")
    answers = {
        token: SignedClient(app, token).post("/voice", FIELDS).status_code
        for token in (AUTH_TOKEN, previous, secrets.token_hex(16))
    }
    assert list(answers.values()) == [200, 200, 403]
    said = [r.getMessage() for r in caplog.records if r.name == "voicebot.security"]
    assert any("matched the current auth token" in line for line in said), said
    assert any("matched the previous auth token" in line for line in said), said
    assert previous not in caplog.text and AUTH_TOKEN not in caplog.text


def test_without_a_rotation_the_previous_token_is_refused(app: Flask) -> None:
    assert SignedClient(app, "previous-auth-token").post("/voice", FIELDS).status_code == 403


def test_the_previous_token_is_read_from_the_environment(tmp_path: Path) -> None:
    environ = {"VOICEBOT_INSTANCE_DIR": str(tmp_path), "TWILIO_AUTH_TOKEN_PREVIOUS": " old "}
    assert load_settings(environ).twilio_previous_auth_token == "old"


def test_the_sms_conversation_survives_a_token_rotation(tmp_path: Path) -> None:
    """Same VOICEBOT_SECRET_KEY, new TWILIO_AUTH_TOKEN: the texter's thread is the same."""
    key = secrets.token_hex(32)
    for number, token in enumerate((AUTH_TOKEN, "rotated-" + AUTH_TOKEN)):
        base = settings_in(tmp_path / str(number))
        app = create_app(base, upgrade_db=True, twilio_auth_token=token, secret_key=key)
        Thread(SignedClient(app, token)).text("MENU")
        kept = services(app).store.load(conversation_id(CALLER, HELPLINE, key))
        assert kept is not None, f"no conversation under the secret key's id (token {number})"


def test_the_secret_key_is_read_once_into_the_settings(tmp_path: Path) -> None:
    environ = {"VOICEBOT_INSTANCE_DIR": str(tmp_path), "VOICEBOT_SECRET_KEY": "k" * 64}
    assert load_settings(environ).secret_key == "k" * 64


def test_without_a_secret_key_one_is_made_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOICEBOT_SECRET_KEY", raising=False)
    app = create_app(settings.with_overrides(secret_key=""), upgrade_db=True)
    made = services(app).settings.secret_key
    assert len(made) >= 32 and app.config["SECRET_KEY"] == made
    assert "VOICEBOT_SECRET_KEY is not set" in caplog.text
    assert made not in caplog.text


def test_a_secret_of_the_wrong_kind_is_named_not_shown(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    for section, key, variable in (
        ("server", "secret_key", "VOICEBOT_SECRET_KEY"),
        ("twilio", "previous_auth_token", "TWILIO_AUTH_TOKEN_PREVIOUS"),
    ):
        extra.write_text(f"[{section}]\n{key} = 918273645\n")
        with pytest.raises(ConfigError, match=variable) as error:
            load_settings({"VOICEBOT_CONFIG": str(extra)})
        assert "918273645" not in str(error.value)

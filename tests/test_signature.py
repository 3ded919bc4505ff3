"""Only Twilio may drive the help line: every Twilio route checks X-Twilio-Signature."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from tests.helpers import (
    AUTH_TOKEN,
    CALLER,
    VECTOR_FIELDS,
    VECTOR_SIGNATURE,
    VECTOR_TOKEN,
    VECTOR_URL,
)
from voicebot.app import create_app

FIELDS = {"CallSid": "CA" + "a" * 32, "From": CALLER, "To": "+14045550100"}
ROUTES = ["/voice", "/voice/gather?turn=2", "/voice/dial?turn=3", "/sms"]


def test_twilios_own_test_vector_validates() -> None:
    """The known-good vector from twilio-python's tests, so we know the validator is wired."""
    validator = RequestValidator(VECTOR_TOKEN)
    assert validator.validate(VECTOR_URL, VECTOR_FIELDS, VECTOR_SIGNATURE)


@pytest.mark.parametrize("route", ROUTES)
def test_a_request_without_a_signature_is_refused(app, route: str) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().post(route, data=FIELDS)
    assert response.status_code == 403


@pytest.mark.parametrize("route", ROUTES)
def test_a_wrong_signature_is_refused(app, route: str) -> None:  # type: ignore[no-untyped-def]
    signature = RequestValidator("some-other-token").compute_signature(
        "http://localhost" + route, FIELDS
    )
    response = app.test_client().post(route, data=FIELDS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_refusal_is_logged_with_the_url_checked_so_a_proxy_mismatch_shows(app, caplog) -> None:  # type: ignore[no-untyped-def]
    signature = RequestValidator(AUTH_TOKEN).compute_signature("https://public.example/sms", FIELDS)
    response = app.test_client().post(
        "/sms?x=1", data=FIELDS, headers={"X-Twilio-Signature": signature}, base_url="http://inside"
    )
    assert response.status_code == 403
    assert "rejected /sms: bad signature for http://inside/sms" in caplog.text
    assert "x=1" not in caplog.text


def test_a_signature_for_other_fields_is_refused(app, twilio) -> None:  # type: ignore[no-untyped-def]
    signature = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/voice", FIELDS)
    tampered = FIELDS | {"From": "+14045559999"}
    response = app.test_client().post(
        "/voice", data=tampered, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_a_repeated_field_is_signed_with_every_value(app) -> None:  # type: ignore[no-untyped-def]
    """Twilio signs each value of a repeated field: all of them must match, not just one."""
    from werkzeug.datastructures import MultiDict

    fields = MultiDict([*FIELDS.items(), ("Digits", "1"), ("Digits", "2")])
    validator = RequestValidator(AUTH_TOKEN)
    url = "http://localhost/voice/gather?turn=2"
    every = validator.compute_signature(url, fields)
    first_only = validator.compute_signature(url, FIELDS | {"Digits": "1"})
    client = app.test_client()
    answers = {
        name: client.post(url, data=fields, headers={"X-Twilio-Signature": signature})
        for name, signature in (("every value", every), ("first value only", first_only))
    }
    assert answers["every value"].status_code == 200
    assert answers["first value only"].status_code == 403


def test_a_correct_signature_is_accepted(twilio) -> None:  # type: ignore[no-untyped-def]
    assert twilio.post("/voice", FIELDS).status_code == 200


def test_behind_a_proxy_the_forwarded_url_is_the_one_checked(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, upgrade_db=True, trusted_proxies=1)  # a proxy said to be there
    public = "https://helpline.example.org/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(public, FIELDS)
    headers = {
        "X-Twilio-Signature": signature,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "helpline.example.org",
    }
    response = app.test_client().post("/voice", data=FIELDS, headers=headers)
    assert response.status_code == 200


def test_with_a_public_url_setting_that_url_is_the_one_checked(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, upgrade_db=True, public_url="https://calls.example.org:8443")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://calls.example.org:8443/voice/gather?turn=2", FIELDS
    )
    ok = app.test_client().post(
        "/voice/gather?turn=2", data=FIELDS, headers={"X-Twilio-Signature": signature}
    )
    assert ok.status_code == 200
    local = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://localhost/voice/gather?turn=2", FIELDS
    )
    refused = app.test_client().post(
        "/voice/gather?turn=2", data=FIELDS, headers={"X-Twilio-Signature": local}
    )
    assert refused.status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, upgrade_db=True, twilio_auth_token="")
    signature = RequestValidator("").compute_signature("http://localhost/voice", FIELDS)
    response = app.test_client().post(
        "/voice", data=FIELDS, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_a_refusal_never_logs_credentials_in_the_public_url(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, public_url="https://twilio:s3cret-pass@helpline.example.org")
    response = app.test_client().post(
        "/voice", data=FIELDS, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 403
    assert "https://helpline.example.org/voice" in caplog.text
    assert "s3cret" not in caplog.text and "twilio:" not in caplog.text

"""What became of the texts the help line sent: Twilio's message status callbacks.

Every text asks Twilio to report its delivery at /sms/status. A code text to a landline is
accepted and then fails with ErrorCode 30006: the conversation it belongs to is marked, the
outcome is counted, and the log says so without the text or the number. With a Messaging
Service (US A2P 10DLC), texts go out through it: checked against a stand-in of Twilio's REST
API under twilio-python's real client.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask

from tests.fake_twilio import ACCOUNT, SERVICE, TOKEN, FakeTwilio
from tests.helpers import (
    CALLER,
    HELPLINE,
    Call,
    Outbox,
    Thread,
    logged_text,
    settings_in,
)
from voicebot.app import create_app
from voicebot.channels.outbound import OutboxFile, TwilioMessages, status_callback_url
from voicebot.cli.simulator import BASE_URL, SignedClient
from voicebot.config import REPO_ROOT
from voicebot.ops.metrics import EXTENSION
from voicebot.services import services

SID = re.compile(r"SM[0-9a-f]{32}")
CODE_TEXT = "Your help line code is 482913. Don't share it."
CONVERSATION = "call:CA" + "c" * 32
PUBLIC = "https://help.example.org"


def texts_counted(app: Flask, status: str, error_code: str = "none", kind: str = "code") -> float:
    labels = {"status": status, "error_code": error_code, "kind": kind}
    value = app.extensions[EXTENSION].registry.get_sample_value(
        "voicebot_texts_status_total", labels
    )
    return value or 0


def send_code(app: Flask, outbox: Outbox) -> str:
    """The help line texts a one-time code during a call; the SID it was sent as."""
    with app.test_request_context("/voice/gather", base_url=BASE_URL):
        sent = services(app).outbound.send(
            CALLER, CODE_TEXT, allow="482913", conversation=CONVERSATION, kind="code"
        )
    assert sent
    [text] = outbox.messages()
    return text["sid"]


def status(twilio: SignedClient, sid: str, message_status: str, **extra: str):  # type: ignore[no-untyped-def]
    fields = {"MessageSid": sid, "MessageStatus": message_status, "AccountSid": ACCOUNT}
    return twilio.post("/sms/status", fields | {"To": CALLER, "From": HELPLINE} | extra)


# ---- every text asks for its delivery report -----------------------------------------------


def test_a_text_during_a_call_asks_twilio_to_report_its_delivery(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("what's the website to log in to the parent portal")
    assert "I've sent" in call.press("1").text
    [text] = outbox.messages()
    assert text["to"] == CALLER and "ic.apsk12.org" in text["body"]
    assert SID.fullmatch(text["sid"])
    assert text["status_callback"] == BASE_URL + "/sms/status"


def test_with_a_public_url_the_report_goes_there(tmp_path: Path) -> None:
    settings = settings_in(tmp_path).with_overrides(public_url=PUBLIC)
    app = create_app(settings, upgrade_db=True)
    with app.test_request_context("/voice", base_url="http://10.0.0.5:8000"):
        assert services(app).outbound.send(CALLER, "Log in at the portal.")
    [text] = Outbox(settings.outbox).messages()
    assert text["status_callback"] == PUBLIC + "/sms/status"


def test_without_a_request_or_public_url_the_text_still_goes(tmp_path: Path) -> None:
    """A text sent outside any webhook (a script): no URL to give Twilio, nothing broken."""
    assert status_callback_url("")() is None
    assert status_callback_url("https://help.example.org")() == (
        "https://help.example.org/sms/status"
    )
    app = create_app(settings_in(tmp_path), upgrade_db=True)
    with app.app_context():
        assert services(app).outbound.send(CALLER, "Log in at the portal.")
    [text] = Outbox(services(app).settings.outbox).messages()
    assert SID.fullmatch(text["sid"]) and "status_callback" not in text


def test_every_reply_to_a_text_asks_for_its_delivery_report(thread: Thread) -> None:
    for words in ("forgot my password", "HELP"):
        reply = thread.text(words)
        messages = ElementTree.fromstring(reply.xml).findall("Message")
        assert messages and reply.text
        for message in messages:
            assert message.get("statusCallback") == BASE_URL + "/sms/status?kind=reply"


def test_every_outbox_line_has_its_own_sid(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "outbox.jsonl")
    sids = {outbox.deliver(CALLER, "hello") for _ in range(5)}
    assert len(sids) == 5 and all(SID.fullmatch(sid or "") for sid in sids)


# ---- the callbacks -------------------------------------------------------------------------


def test_a_code_text_to_a_landline_marks_its_conversation(
    app: Flask, twilio: SignedClient, outbox
) -> None:  # type: ignore[no-untyped-def]
    sid = send_code(app, outbox)
    deliveries = services(app).deliveries
    for step in ("queued", "sent"):
        answer = status(twilio, sid, step)
        assert answer.status_code == 204 and answer.get_data() == b""
    assert deliveries.code_undelivered(CONVERSATION) is None
    answer = status(twilio, sid, "undelivered", ErrorCode="30006")
    assert answer.status_code == 204 and answer.get_data() == b""
    assert deliveries.code_undelivered(CONVERSATION) == "30006"
    assert deliveries.code_undelivered("call:CA" + "d" * 32) is None  # only that conversation
    assert texts_counted(app, "undelivered", "30006") == 1
    assert texts_counted(app, "sent") == 1 and texts_counted(app, "queued") == 1


def test_an_ordinary_text_that_fails_is_counted_but_marks_nothing(
    app: Flask, twilio: SignedClient, call: Call, outbox
) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("what's the website to log in to the parent portal")
    call.press("1")
    [text] = outbox.messages()
    assert status(twilio, text["sid"], "failed", ErrorCode="30007").status_code == 204
    assert texts_counted(app, "failed", "30007", kind="text") == 1
    assert services(app).deliveries.code_undelivered(f"call:{call.base['CallSid']}") is None


def test_a_delivered_code_text_marks_nothing(app: Flask, twilio: SignedClient, outbox) -> None:  # type: ignore[no-untyped-def]
    sid = send_code(app, outbox)
    assert status(twilio, sid, "delivered").status_code == 204
    assert services(app).deliveries.code_undelivered(CONVERSATION) is None
    assert texts_counted(app, "delivered") == 1


def test_an_unknown_sid_is_answered_and_counted_as_unknown(
    app: Flask, twilio: SignedClient
) -> None:
    """A text sent before a restart, or by someone else's use of the number: fine."""
    answer = status(twilio, "SM" + "e" * 32, "undelivered", ErrorCode="30003")
    assert answer.status_code == 204 and answer.get_data() == b""
    assert texts_counted(app, "undelivered", "30003", kind="unknown") == 1
    odd = status(twilio, "not-a-sid", "weird status!", ErrorCode="<b>")
    assert odd.status_code == 204
    assert texts_counted(app, "other", "none", kind="unknown") == 1


def test_a_reply_the_carrier_filtered_is_counted_as_a_reply(
    app: Flask, twilio: SignedClient
) -> None:
    fields = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "undelivered", "ErrorCode": "30007"}
    answer = twilio.post("/sms/status?kind=reply", fields | {"To": CALLER})
    assert answer.status_code == 204 and answer.get_data() == b""
    assert texts_counted(app, "undelivered", "30007", kind="reply") == 1


def test_a_callback_twilio_did_not_sign_is_refused(app: Flask, outbox) -> None:  # type: ignore[no-untyped-def]
    sid = send_code(app, outbox)
    fields = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30006"}
    assert app.test_client().post("/sms/status", data=fields).status_code == 403
    forged = SignedClient(app, "some-other-token")
    assert forged.post("/sms/status", fields).status_code == 403
    assert services(app).deliveries.code_undelivered(CONVERSATION) is None
    assert texts_counted(app, "undelivered", "30006") == 0


def test_the_log_has_the_outcome_but_not_the_text_or_the_number(
    app: Flask, twilio: SignedClient, outbox, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    sid = send_code(app, outbox)
    caplog.set_level(logging.INFO)
    caplog.clear()
    status(twilio, sid, "undelivered", ErrorCode="30006", Body=CODE_TEXT)
    logged = logged_text(caplog)
    [record] = [r for r in caplog.records if r.name == "voicebot.delivery"]
    assert record.levelno == logging.WARNING
    assert "undelivered: landline" in record.getMessage()
    assert sid in logged and "***23" in logged  # the SID and the number's last digits
    assert CALLER not in logged and CALLER[1:] not in logged and "5550123" not in logged
    assert "482913" not in logged and "help line code" not in logged


def test_a_fault_while_recording_still_answers_empty(
    app: Flask, twilio: SignedClient, outbox, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    sid = send_code(app, outbox)

    def broken(*args: object) -> None:
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(services(app).deliveries, "record", broken)
    answer = status(twilio, sid, "undelivered", ErrorCode="30006")
    assert answer.status_code == 204 and answer.get_data() == b""
    assert b"Sorry" not in answer.get_data()


# ---- through a Messaging Service (US A2P 10DLC), against Twilio's REST API -----------------


def twilio_account(tmp_path: Path, fake: FakeTwilio, service: str = SERVICE) -> Flask:
    """The help line with a Twilio account (and Messaging Service): twilio-python's own REST
    client sends its texts, with the stand-in for Twilio's API under it."""
    settings = settings_in(tmp_path).with_overrides(
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=TOKEN,  # what the fake REST API expects, and signs webhooks
        twilio_number=HELPLINE,
        twilio_messaging_service_sid=service,
    )
    app = create_app(settings, upgrade_db=True)
    transport = services(app).outbound.transport
    assert isinstance(transport, TwilioMessages)
    transport.client.http_client = fake
    return app


def text_from(app: Flask, host: str, **kind: str) -> bool:
    """The help line texts the caller while answering a webhook that came to ``host``."""
    with app.test_request_context("/voice/gather", base_url=host):
        return services(app).outbound.send(CALLER, "Log in at the portal.", **kind)


def test_texts_go_out_through_the_messaging_service(tmp_path: Path) -> None:
    fake = FakeTwilio()
    app = twilio_account(tmp_path, fake)
    assert text_from(app, PUBLIC, conversation=CONVERSATION, kind="code")
    [sent] = fake.messages
    assert sent["MessagingServiceSid"] == SERVICE and "From" not in sent
    assert sent["To"] == CALLER and sent["Body"] == "Log in at the portal."
    assert sent["StatusCallback"] == PUBLIC + "/sms/status"
    # Twilio's SID for it was remembered with its conversation
    twilio = SignedClient(app, TOKEN)
    assert status(twilio, f"SM{1:032x}", "undelivered", ErrorCode="30006").status_code == 204
    assert services(app).deliveries.code_undelivered(CONVERSATION) == "30006"


def test_a_call_texts_through_the_messaging_service(tmp_path: Path) -> None:
    fake = FakeTwilio()
    call = Call(SignedClient(twilio_account(tmp_path, fake), TOKEN))
    call.start()
    call.say("what's the website to log in to the parent portal")
    assert "I've sent" in call.press("1").text
    [sent] = fake.messages
    assert sent["MessagingServiceSid"] == SERVICE and "From" not in sent
    assert "ic.apsk12.org" in sent["Body"]


def test_without_a_messaging_service_texts_come_from_the_number(tmp_path: Path) -> None:
    fake = FakeTwilio()
    app = twilio_account(tmp_path, fake, service="")
    assert text_from(app, PUBLIC)
    [sent] = fake.messages
    assert sent["From"] == HELPLINE and "MessagingServiceSid" not in sent
    assert sent["StatusCallback"] == PUBLIC + "/sms/status"


@pytest.mark.parametrize(
    "host", ["http://localhost", "http://127.0.0.1:8000", "http://10.0.0.5", "http://helpline"]
)
def test_a_host_twilio_cannot_reach_gets_no_report_but_the_text_goes(
    tmp_path: Path, host: str
) -> None:
    """Twilio refuses a status callback it cannot reach, and the text with it (21609)."""
    fake = FakeTwilio(refuse_callbacks=True)
    app = twilio_account(tmp_path, fake)
    assert text_from(app, host)
    [sent] = fake.messages
    assert "StatusCallback" not in sent


def test_a_refused_report_url_does_not_stop_the_text(tmp_path: Path) -> None:
    fake = FakeTwilio(refuse_callbacks=True)
    app = twilio_account(tmp_path, fake)
    assert text_from(app, PUBLIC, conversation=CONVERSATION, kind="code")
    tried, sent = [data for _, path, _, data in fake.requests if path.endswith("Messages.json")]
    assert tried["StatusCallback"] == PUBLIC + "/sms/status"
    assert "StatusCallback" not in sent and [sent] == fake.messages


# ---- the sample messages the README gives for the campaign registration -------------------


def quoted_samples(path: Path, heading: str) -> list[str]:
    """The lines quoted (> ...) under one ## or ### heading of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    section = re.split(rf"\n#+ {re.escape(heading)}\n", text)[1]
    section = re.split(r"\n#+ ", section)[0]
    return [line[2:].strip() for line in section.splitlines() if line.startswith("> ")]


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        (REPO_ROOT / "README.md", "Registering your number for texting"),
        (REPO_ROOT / "docs" / "operations.md", "Texting: registration and delivery"),
    ],
)
def test_the_sample_messages_given_to_carriers_are_what_the_help_line_sends(
    app: Flask, path: Path, heading: str
) -> None:
    """Carriers compare the campaign's samples with the texts they see: each sample must be
    a prompt of flows/prompts as texted, its placeholders filled from the settings."""
    dialog, flow = services(app).dialog, services(app).flow
    texted = {
        dialog.prompt(key, lang, "sms", code="482913")
        for lang in flow.languages
        for key in flow.prompts[lang]
    }
    samples = quoted_samples(path, heading)
    assert len(samples) >= 3, "a campaign needs a code, an answer and the HELP reply"
    for sample in samples:
        assert sample in texted, f"{path.name}: not a text the help line sends: {sample}"
    assert any("482913" in sample for sample in samples)  # the code text
    assert any("Reply STOP to opt out" in sample for sample in samples)  # the HELP reply

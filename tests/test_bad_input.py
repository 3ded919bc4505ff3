"""Whatever arrives, a webhook answers 200 with valid TwiML (or 403 for a bad signature)."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import SUPPORT, Call, Reply, Thread
from voicebot.services import services

HOSTILE = [
    "",
    " ",
    "x" * 20_000,  # (larger is not Twilio's: refused with 413, tests/test_hardening_requests.py)
    "\x00\x01\x02\xff binary \x7f",
    "😀🎉🤖 activation 🔑",
    "<Say>hacked</Say><Dial>+19005551234</Dial>",
    "]]><Response><Hangup/></Response>",
    "{support_number} {0} %s %(x)s",
    "DROP TABLE opt_outs; --",
    "\u202e\u200b\ufeff",
]


def valid_twiml(reply) -> ElementTree.Element:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply
    root = ElementTree.fromstring(reply.xml)
    assert root.tag == "Response"
    return root


@pytest.mark.parametrize("words", HOSTILE)
def test_hostile_speech_gets_valid_twiml(call: Call, words: str) -> None:
    call.start()
    root = valid_twiml(call.say(words))
    assert "hacked" not in ElementTree.tostring(root, encoding="unicode")
    assert "+19005551234" not in call.last.xml


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_texts_get_valid_twiml(thread: Thread, body: str) -> None:
    valid_twiml(thread.text(body))


def test_hostile_digits_and_confidence(call: Call) -> None:
    call.start()
    valid_twiml(call._post(call._action(), {"Digits": "12345678901234567890#*abc"}))
    valid_twiml(call._post(call._action(), {"SpeechResult": "help", "Confidence": "nan"}))
    valid_twiml(call._post(call._action(), {"SpeechResult": "help", "Confidence": "-3"}))


def test_a_key_sent_twice_in_one_webhook_counts_once_the_first(call: Call) -> None:
    """A repeated field (a proxy or a forged retry) is read as its first value."""
    from werkzeug.datastructures import MultiDict

    call.start()
    fields = MultiDict([*call.base.items(), ("Digits", "3"), ("Digits", "0")])
    reply = Reply(call.twilio.post(call._action(), fields))  # type: ignore[arg-type]
    assert reply.transfers_to is None  # 0 would have been a transfer to a person
    assert "password" in reply.text.lower()


def test_a_call_with_missing_fields_still_gets_the_menu(twilio) -> None:  # type: ignore[no-untyped-def]
    reply = twilio.post("/voice", {})
    assert reply.status_code == 200 and "<Gather" in reply.get_data(as_text=True)


def test_a_text_with_missing_fields_still_gets_an_answer(twilio) -> None:  # type: ignore[no-untyped-def]
    """Valid TwiML, not a fault; empty, because a text without From is refused (issue 20:
    tests/test_hardening_sms.py)."""
    reply = twilio.post("/sms", {})
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "<Response" in body and "<Message" not in body


def test_an_anonymous_caller_is_helped(twilio) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller="anonymous")
    assert call.start().asks
    assert "Forgot Your Password" in call.say("forgot my password").text


def test_a_fault_inside_a_call_apologises_and_transfers(call: Call, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    call.start()

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the dialog broke")

    monkeypatch.setattr(services(app).conversations, "run", broken)
    reply = call.say("forgot my password")
    assert reply.status == 200
    assert reply.transfers_to == SUPPORT and "sorry" in reply.text.lower()


def test_a_fault_inside_a_text_replies_with_the_support_number(
    thread: Thread, app, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the dialog broke")

    monkeypatch.setattr(services(app).conversations, "run", broken)
    reply = thread.text("forgot my password")
    assert reply.status == 200 and "404-802-1000" in reply.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    speech=st.text(max_size=300),
    digits=st.text(alphabet="0123456789*#ab", max_size=12),
)
def test_any_speech_or_keys_get_valid_twiml(twilio, speech: str, digits: str) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio)
    call.start()
    fields = {"SpeechResult": speech, "Digits": digits}
    reply = call._post(call._action(), fields)
    root = valid_twiml(reply)
    assert (
        root.find("Gather") is not None
        or root.find("Dial") is not None
        or root.find("Hangup") is not None
    )

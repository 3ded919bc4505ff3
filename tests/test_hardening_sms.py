"""Issue 20, item 9: a text whose From is not a phone number is refused.

Twilio always sends the sender's number in From for a real text, so a signed webhook with an
empty or non-phone From is a forgery or a tool. Such texts all used to share one thread
(conversation_id("unknown", ...)): one sender could pick up where another left off.
"""

from __future__ import annotations

import logging
import secrets

import pytest

from tests.helpers import CALLER, HELPLINE, Reply, Thread, logged_text
from voicebot.cli.simulator import SignedClient
from voicebot.services import services

NOT_PHONES = ["", "anonymous", "not-a-phone", "12345", "<Say>x</Say>", "+1404555"]


def assert_refused(reply: Reply) -> None:
    """A 200 with an empty <Response/>: nothing said, nothing texted, nothing to read."""
    assert reply.status == 200, reply
    assert "<Message" not in reply.xml and reply.heard.messages == [], reply.xml
    assert reply.xml.strip().endswith(("<Response />", "<Response/>")), reply.xml


def test_two_senders_without_a_number_never_share_a_thread(twilio: SignedClient) -> None:
    """The second would have answered the first's question and got its answer."""
    first, second = Thread(twilio, sender=""), Thread(twilio, sender="not-a-phone")
    assert_refused(first.text("cant log in to infinite campus"))
    assert_refused(second.text("1"))
    assert_refused(Thread(twilio, sender="anonymous").text("2"))


@pytest.mark.parametrize("sender", NOT_PHONES)
@pytest.mark.parametrize("body", ["hi", "HELP", "STOP", "START", "forgot my password"])
def test_a_text_without_a_phone_number_gets_an_empty_answer(
    twilio: SignedClient, sender: str, body: str
) -> None:
    assert_refused(Thread(twilio, sender=sender).text(body))


def test_a_text_with_no_from_at_all_is_refused(twilio: SignedClient) -> None:
    fields = {"MessageSid": "SM" + secrets.token_hex(16), "To": HELPLINE, "Body": "hi"}
    assert_refused(Reply(twilio.post("/sms", fields)))


def test_a_refused_text_is_logged_without_its_body(
    twilio: SignedClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voicebot")
    body = "zebra quokka my password is hunter2"
    assert_refused(Thread(twilio, sender="").text(body))
    refused = [r for r in caplog.records if r.name == "voicebot.sms" and "refused" in r.message]
    assert refused and all(r.levelno == logging.INFO for r in refused)
    text = logged_text(caplog)
    for word in ("zebra", "quokka", "hunter2"):
        assert word not in text


def test_a_parent_texting_from_a_phone_is_still_answered(twilio: SignedClient) -> None:
    question = Thread(twilio, sender=CALLER).text("cant log in to infinite campus")
    assert "1 Forgot username, 2 Forgot password" in " ".join(question.heard.messages)


@pytest.mark.parametrize("word", ["STOP", "PARAR", "baja"])
def test_a_fault_while_opting_out_sends_no_text(
    twilio: SignedClient,
    app,
    monkeypatch: pytest.MonkeyPatch,
    word: str,  # type: ignore[no-untyped-def]
) -> None:
    def broken(phone: str) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(services(app).optouts, "add", broken)
    reply = Thread(twilio).text(word)
    assert reply.status == 200 and reply.heard.messages == []
    # any other fault still answers with the support number
    monkeypatch.setattr(services(app).conversations, "run", broken)
    assert "404-802-1000" in Thread(twilio).text("I forgot my password").text

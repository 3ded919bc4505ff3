"""Handing callers to people: the agent hears why, nobody rings into nothing, hours are kept."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.helpers import AUTH_TOKEN, CALLER, SUPPORT, Call, Thread
from voicebot.app import create_app
from voicebot.channels.segments import segments
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.config.hours import parse_hours
from voicebot.services import services

WEEKDAYS = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00",
            "thu": "08:00-17:00", "fri": "08:00-17:00"}  # fmt: skip
HOURS_TEXT = {"en": "Monday to Friday, 8 AM to 5 PM", "es": "de lunes a viernes, de 8 a 5"}
TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()


@pytest.fixture
def hours_app(settings: Settings) -> Flask:
    hours = parse_hours("America/New_York", WEEKDAYS, ["2026-12-25"])
    return create_app(settings, upgrade_db=True, support_hours=hours, support_hours_text=HOURS_TEXT)


def at(monkeypatch: pytest.MonkeyPatch, when: float) -> None:
    import voicebot.channels.sms as sms
    import voicebot.channels.voice as voice

    monkeypatch.setattr(voice.time, "time", lambda: when)
    monkeypatch.setattr(sms.time, "time", lambda: when)


def dial_of(reply) -> ElementTree.Element:  # type: ignore[no-untyped-def]
    dial = ElementTree.fromstring(reply.xml).find("Dial")
    assert dial is not None, reply.xml
    return dial


def test_a_transfer_shows_the_parents_number_and_whispers_to_the_agent(call: Call) -> None:
    call.start()
    call.press("1")  # activation keys
    reply = call.press("0")
    dial = dial_of(reply)
    assert dial.get("callerId") == CALLER
    assert dial.get("action", "").startswith("/voice/dial") and dial.get("timeout") == "30"
    number = dial.find("Number")
    assert number is not None and number.text == SUPPORT
    assert number.get("url", "").startswith("/voice/whisper")
    whisper = call.twilio.post(number.get("url"), {"CallSid": "CA" + "b" * 32})
    said = "".join(ElementTree.fromstring(whisper.get_data(as_text=True)).itertext())
    assert "Parent Portal help line transfer" in said
    assert "Topic: getting an activation key" in said
    assert "Caller verified: no" in said and "Language: English" in said


def test_the_whisper_names_spanish_and_the_topic(call: Call) -> None:
    call.start()
    call.press("9")
    call.say("olvidé mi nombre de usuario")
    number = dial_of(call.press("0")).find("Number")
    assert number is not None
    whisper = call.twilio.post(number.get("url"), {"CallSid": "CA" + "c" * 32})
    said = whisper.get_data(as_text=True)
    assert "Topic: a forgotten username" in said and "Language: Spanish" in said


def test_a_withheld_number_stays_withheld(twilio) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller="anonymous")
    call.start()
    assert dial_of(call.press("0")).get("callerId") is None


def test_the_whisper_route_needs_twilios_signature(app: Flask) -> None:
    response = app.test_client().post("/voice/whisper?topic=forgot_password", data={})
    assert response.status_code == 403


def test_the_whisper_never_carries_secrets(call: Call) -> None:
    url = "/voice/whisper?topic=123456789&lang=es&verified=1&ref=03142015"
    said = call.twilio.post(url, {"CallSid": "CA" + "d" * 32}).get_data(as_text=True)
    assert "123456789" not in said and "0 3 1 4" not in said and "03142015" not in said


def test_during_hours_zero_dials_support(hours_app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at(monkeypatch, TUESDAY_NOON)
    call = Call(SignedClient(hours_app, AUTH_TOKEN))
    call.start()
    assert call.press("0").transfers_to == SUPPORT


def test_outside_hours_the_caller_hears_the_hours_and_can_ask_for_a_callback(
    hours_app: Flask, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    at(monkeypatch, SATURDAY_NOON)
    call = Call(SignedClient(hours_app, AUTH_TOKEN))
    call.start()
    reply = call.press("0")
    assert reply.transfers_to is None, "nobody would answer: do not ring into nothing"
    assert "closed right now" in reply.text and "Monday to Friday, 8 AM to 5 PM" in reply.text
    done = call.say("yes please")
    assert "call you back" in done.text and done.asks


def test_outside_hours_a_withheld_number_hears_the_hours_and_no_offer(
    hours_app: Flask, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    at(monkeypatch, SATURDAY_NOON)
    call = Call(SignedClient(hours_app, AUTH_TOKEN), caller="anonymous")
    call.start()
    reply = call.press("0")
    assert "Monday to Friday, 8 AM to 5 PM" in reply.text and "call you back" not in reply.text
    assert reply.heard.hung_up and reply.transfers_to is None


def test_outside_hours_the_self_service_links_can_be_texted(hours_app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at(monkeypatch, SATURDAY_NOON)
    call = Call(SignedClient(hours_app, AUTH_TOKEN))
    call.start()
    call.press("0")
    reply = call.press("2")
    assert "sent a text message" in reply.text
    outbox = services(hours_app).settings.outbox.read_text()
    assert "ic.apsk12.org/campus/portal/atlanta.jsp" in outbox and "tinyAPS.com/?lookup" in outbox


def test_a_holiday_is_closed(hours_app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
    at(monkeypatch, christmas)
    call = Call(SignedClient(hours_app, AUTH_TOKEN))
    call.start()
    assert call.press("0").transfers_to is None


def test_no_answer_offers_a_callback_instead_of_ringing_again(call: Call) -> None:
    call.start()
    call.press("0")
    reply = call.dial_ends("busy")
    assert reply.transfers_to is None and "call you back" in reply.text
    assert "call you back" in call.press("1").text


def test_sms_agent_gives_the_number_and_whether_support_is_open(
    hours_app: Flask, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    thread = Thread(SignedClient(hours_app, AUTH_TOKEN))
    at(monkeypatch, SATURDAY_NOON)
    closed = " ".join(thread.text("AGENT").heard.messages)
    assert "404-802-1000" in closed and "closed now" in closed and closed.count("CALL ME") == 1
    assert segments(closed) <= 2
    at(monkeypatch, TUESDAY_NOON)
    opened = " ".join(thread.text("AGENT").heard.messages)
    assert "404-802-1000" in opened and "open now" in opened


@pytest.mark.parametrize(
    ("first", "agent"),
    [
        ("hi", "AGENT"),
        ("hola", "AGENTE"),
        ("hi", "when are you open"),
        ("hola", "a que hora abren"),
    ],
)
def test_sms_agent_while_closed_fits_in_one_message_in_both_languages(
    hours_app: Flask, monkeypatch: pytest.MonkeyPatch, first: str, agent: str
) -> None:
    thread = Thread(SignedClient(hours_app, AUTH_TOKEN))
    at(monkeypatch, SATURDAY_NOON)
    thread.text(first)
    messages = thread.text(agent).heard.messages
    assert len(messages) == 1 and segments(messages[0]) <= 2, messages
    assert "404-802-1000" in messages[0] and not messages[0].endswith("...")


def test_accented_hours_wording_up_to_the_limit_still_fits_one_text(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicebot.services import HOURS_TEXT_MAX

    wording = {
        "en": "Monday to Friday 8 AM to 5 PM, Saturday 9 AM to noon; closed on school holidays",
        "es": "de lunes a viernes de 8 a 5, el sábado de 9 a 12; cerrado los días festivos",
    }
    assert all(len(text) <= HOURS_TEXT_MAX for text in wording.values())
    hours = parse_hours("America/New_York", WEEKDAYS, [])
    app = create_app(settings, upgrade_db=True, support_hours=hours, support_hours_text=wording)
    at(monkeypatch, SATURDAY_NOON)
    for first, agent in [("hi", "AGENT"), ("hola", "AGENTE"), ("hola", "a que hora abren")]:
        thread = Thread(SignedClient(app, AUTH_TOKEN))
        thread.text(first)
        messages = thread.text(agent).heard.messages
        assert len(messages) == 1 and segments(messages[0]) <= 2, messages
        assert "school holidays." in messages[0] or "el sabado de 9 a 12" in messages[0]


def test_hours_wording_too_long_for_a_text_stops_start_up(settings: Settings) -> None:
    from voicebot.dialog.flow import FlowError

    hours = parse_hours("America/New_York", WEEKDAYS, [])
    wording = {"en": "weekdays", "es": "de lunes a viernes, " * 5}
    with pytest.raises(FlowError, match=r"\[support.hours_text\] es: 100 characters, at most 80"):
        create_app(settings, support_hours=hours, support_hours_text=wording)


def test_without_configured_hours_sms_agent_claims_nothing_about_them(thread: Thread) -> None:
    text = " ".join(thread.text("AGENT").heard.messages)
    assert "404-802-1000" in text and "open now" not in text and "closed" not in text


def test_asked_for_the_hours_without_any_set_the_line_gives_the_number_and_invents_none(
    call: Call, thread: Thread
) -> None:
    call.start()
    said = call.say("what are your hours").text
    assert "4 0 4, 8 0 2, 1 0 0 0" in said and "open" not in said and "AM" not in said
    text = " ".join(thread.text("what time are you open").heard.messages)
    assert "404-802-1000" in text and "open" not in text and "AM" not in text


def test_asked_for_the_hours_the_line_tells_them_and_whether_support_is_open(
    hours_app: Flask, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    at(monkeypatch, SATURDAY_NOON)
    call = Call(SignedClient(hours_app, AUTH_TOKEN))
    call.start()
    closed = call.say("when is support open").text
    assert "closed now" in closed and "Monday to Friday, 8 AM to 5 PM" in closed
    assert "Press 0" in closed and "Text CALL ME" not in closed
    at(monkeypatch, TUESDAY_NOON)
    thread = Thread(SignedClient(hours_app, AUTH_TOKEN))
    opened = " ".join(thread.text("a que hora cierran?").heard.messages)
    assert "atiende ahora" in opened and "de lunes a viernes, de 8 a 5" in opened


def test_sms_call_me_records_a_callback_request(thread: Thread) -> None:
    # "at this number" after "call me at 678-..." would promise the number they wrote
    text = " ".join(thread.text("CALL ME").heard.messages)
    assert "call you back at the number you are texting from" in text

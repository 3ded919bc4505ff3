"""Texting keywords per language (issue 21, item 7): HELP, AYUDA and INFO answer in the
thread's language; Spanish opt-out words are recorded like STOP; COMENZAR opts back in."""

from __future__ import annotations

import secrets

import pytest
from flask import Flask

from tests.helpers import CALLER, HELPLINE, Reply, Thread
from voicebot.channels.segments import is_gsm7, segments
from voicebot.channels.sms import conversation_id
from voicebot.cli.simulator import SignedClient
from voicebot.services import services

SUPPORT = "404-802-1000"
ENGLISH_HELP = ("Parent Portal help line", SUPPORT, "Reply STOP", "Msg & data rates may apply")
SPANISH_HELP = (
    "Servicio de ayuda del Parent Portal de APS",
    SUPPORT,
    "responda PARAR o STOP",
    "Pueden aplicarse tarifas de mensajes y datos",
)


def only_message(reply: Reply) -> str:
    assert reply.status == 200, reply
    assert len(reply.heard.messages) == 1, reply.xml
    return reply.heard.messages[0]


def thread_lang(app: Flask) -> str | None:
    svc = services(app)
    state = svc.store.load(conversation_id(CALLER, HELPLINE, svc.settings.secret_key))
    return state.lang if state is not None else None


def assert_spanish_help(text: str) -> None:
    for piece in SPANISH_HELP:
        assert piece in text, f"{piece!r} missing from {text!r}"
    assert "Reply STOP" not in text and "rates may apply" not in text


def assert_english_help(text: str) -> None:
    for piece in ENGLISH_HELP:
        assert piece in text, f"{piece!r} missing from {text!r}"
    assert "tarifas" not in text


@pytest.mark.parametrize("lang", ["en", "es"])
def test_help_text_carries_what_carriers_expect_in_two_plain_segments(
    app: Flask, lang: str
) -> None:
    with app.test_request_context():
        text = services(app).dialog.prompt("sms_help", lang, "sms")
    (assert_english_help if lang == "en" else assert_spanish_help)(text)
    assert is_gsm7(text), f"not plain GSM-7: {text!r}"
    assert segments(text) <= 2, text


@pytest.mark.parametrize("word", ["HELP", "help", "INFO", "Info."])
def test_help_and_info_in_a_new_thread_answer_in_english(thread: Thread, word: str) -> None:
    assert_english_help(only_message(thread.text(word)))


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_in_a_spanish_thread_answers_in_spanish(thread: Thread, app: Flask, word: str) -> None:
    thread.text("no puedo entrar al portal")
    assert thread_lang(app) == "es"
    assert_spanish_help(only_message(thread.text(word)))
    assert thread_lang(app) == "es", "HELP leaves the thread as it was"


def test_help_in_an_english_thread_answers_in_english(thread: Thread, app: Flask) -> None:
    thread.text("forgot my password")
    assert thread_lang(app) == "en"
    assert_english_help(only_message(thread.text("HELP")))


@pytest.mark.parametrize("word", ["AYUDA", "ayuda", "¡Ayuda!", "Ayúda"])
def test_a_first_text_ayuda_gets_the_spanish_help(thread: Thread, word: str) -> None:
    assert_spanish_help(only_message(thread.text(word)))


def test_ayuda_in_an_english_thread_is_answered_in_spanish(thread: Thread, app: Flask) -> None:
    thread.text("forgot my password")
    assert_spanish_help(only_message(thread.text("AYUDA")))


def test_ayuda_with_advanced_opt_out_help_type_is_still_spanish(thread: Thread) -> None:
    assert_spanish_help(only_message(thread.text("ayuda", OptOutType="HELP")))


@pytest.mark.parametrize(
    "word", ["PARAR", "parar", "Cancelar.", "¡ALTO!", "detener", "Detenér", "BAJA", " baja "]
)
def test_spanish_opt_out_words_are_recorded_like_stop(
    thread: Thread, app: Flask, word: str
) -> None:
    thread.text("no puedo entrar al portal")
    assert thread_lang(app) == "es"
    reply = thread.text(word)
    assert reply.status == 200 and reply.heard.messages == [], "no reply: the opt-out is silent"
    assert services(app).optouts.has(CALLER)
    assert thread_lang(app) is None, "the thread ends"
    assert thread.text("olvidé mi contraseña").heard.messages == []
    assert thread.text("AYUDA").heard.messages == [], "nothing, not even HELP, after an opt-out"


@pytest.mark.parametrize("body", ["no quiero parar", "mi hijo es alto", "cancelar cuenta"])
def test_spanish_opt_out_words_inside_a_sentence_are_not_an_opt_out(
    thread: Thread, app: Flask, body: str
) -> None:
    assert thread.text(body).heard.messages, "answered as an ordinary message"
    assert not services(app).optouts.has(CALLER)


@pytest.mark.parametrize("word", ["COMENZAR", "comenzar", "Comenzar!"])
def test_comenzar_opts_back_in_after_parar(thread: Thread, app: Flask, word: str) -> None:
    thread.text("PARAR")
    assert services(app).optouts.has(CALLER)
    reply = thread.text(word)
    assert reply.status == 200 and reply.heard.messages == []
    assert not services(app).optouts.has(CALLER)
    assert "Cuenta bloqueada" in only_message(thread.text("no puedo entrar al portal"))


def test_start_opts_back_in_after_parar(thread: Thread, app: Flask) -> None:
    thread.text("parar")
    assert thread.text("START").heard.messages == []
    assert not services(app).optouts.has(CALLER)


def test_comenzar_from_a_subscribed_number_is_answered_not_ignored(
    thread: Thread, app: Flask
) -> None:
    # Twilio answers START itself, but not COMENZAR: silence here would look broken.
    assert thread.text("COMENZAR").heard.messages
    assert not services(app).optouts.has(CALLER)


def test_fallback_url_answers_ayuda_in_spanish_and_parar_with_nothing(twilio: SignedClient) -> None:
    def post(body: str) -> Reply:
        fields = {"MessageSid": "SM" + secrets.token_hex(16), "From": CALLER, "To": HELPLINE}
        return Reply(twilio.post("/sms/fallback", fields | {"Body": body}))

    assert_spanish_help(only_message(post("AYUDA")))
    assert_english_help(only_message(post("HELP")))
    assert post("PARAR").heard.messages == []

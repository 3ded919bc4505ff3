"""Spanish, end to end: a parent who speaks or texts Spanish is answered in Spanish throughout."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from tests.helpers import SUPPORT, Call, Thread
from voicebot.channels.segments import segments

# (topic, how a parent might ask in Spanish, facts heard on a call, facts read in a text)
TOPICS = [
    (
        "activation_key",
        "cómo consigo la clave de activación del portal",
        ["no se pueden dar por teléfono", "Activation Key Lookup", "identificación con foto"],
        ["http://tinyAPS.com/?lookup", "identidad con foto"],
    ),
    (
        "key_already_used",
        "el sistema dice que mi clave de activación ya fue usada",
        ["una sola vez", "no se puede volver a usar"],
        ["una sola vez", "http://tinyAPS.com/?lookup"],
    ),
    (
        "forgot_both",
        "olvidé mi usuario y mi contraseña",
        ["Forgot Your Username", "Forgot Your Password", "correo electrónico registrada"],
        ['"Forgot Your Username?"', '"Forgot Your Password?"', "404-802-1000"],
    ),
    (
        "registration_requirements",
        "qué datos debo tener listos antes de registrarme en el portal",
        ["número de estudiante", "boleta de calificaciones", "Seguro Social"],
        ["Student Number", "boleta de calificaciones", "SSN-like number"],
    ),
    (
        "student_number",
        "dónde veo el número de estudiante de mi hijo",
        ["boleta de calificaciones"],
        ["boleta de calificaciones"],
    ),
    (
        "ssn_like_number",
        "qué significa el número parecido al seguro social",
        ["oficina principal", "identificación con foto", "cuatro dígitos"],
        ["oficina principal", "identidad con foto", "4 cifras"],
    ),
    (
        "create_account",
        "quiero abrir una cuenta nueva en el portal de padres",
        ["New User", "clave de activación", "diga más u oprima 8"],
        ["ic.apsk12.org/campus/portal/atlanta.jsp", "New User", "Submit"],
    ),
    (
        "username_rules",
        "cómo tiene que ser el nombre de usuario",
        ["alfanumérico", "letras"],
        ["alfanumérico", "letras y cifras"],
    ),
    (
        "password_rules",
        "cuáles son las reglas para la contraseña",
        ["6 caracteres", "Verify Password", "diga más u oprima 8"],
        ["6 caracteres", "3 de estos 4", "Verify Password"],
    ),
    (
        "forgot_password",
        "no me acuerdo de mi contraseña",
        ["Forgot Your Password", "correo electrónico registrado", "oprima 0 para hablar con"],
        ["Forgot Your Password", "404-802-1000"],
    ),
    (
        "forgot_username",
        "se me olvidó el nombre de usuario del portal",
        ["Forgot Your Username", "5 veces al día", "sexto intento"],
        ["Forgot Your Username", "5 veces", "hasta mañana"],
    ),
    (
        "locked_out",
        "mi cuenta quedó bloqueada y no puedo entrar",
        ["bloqueada hasta el día siguiente", "4 0 4, 8 0 2, 1 0 0 0"],
        ["se bloquea hasta mañana", "404-802-1000"],
    ),
    (
        "portal_login",
        "cuál es la dirección web para entrar al portal",
        ["por texto", "diga más u oprima 8"],
        ["ic.apsk12.org/campus/portal/atlanta.jsp"],
    ),
    (
        "portal_features",
        "qué información muestra el portal de padres",
        ["horarios de clases", "asistencia", "calificaciones"],
        ["horarios de clases", "asistencia", "calificaciones"],
    ),
    (
        "update_household_info",
        "necesito actualizar la dirección de mi casa",
        ["información de su hogar", "domicilio"],
        ["datos del hogar", "domicilio"],
    ),
    (
        "state_test_scores",
        "dónde veo los resultados de los exámenes estatales de mi hija",
        ["pruebas estatales", "Infinite Campus"],
        ["pruebas estatales", "Infinite Campus"],
    ),
]


def spanish_call(call: Call) -> None:
    greeting = call.start()
    assert "Para español, oprima 9" in greeting.text
    menu = call.press("9")
    assert "puede decirme lo que necesita" in menu.text.lower()
    assert "oprima 0 para hablar con una persona" in menu.text


@pytest.mark.parametrize(("topic", "asks", "heard", "read"), TOPICS, ids=[t[0] for t in TOPICS])
def test_every_topic_by_voice_in_spanish(call: Call, topic: str, asks: str, heard, read) -> None:  # type: ignore[no-untyped-def]
    spanish_call(call)
    reply = call.say(asks)
    for fact in heard:
        assert fact in reply.text, f"{topic}: {fact!r} missing from {reply.text!r}"
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None and gather.get("language") == "es-US"
    assert {say.get("voice") for say in gather.iter("Say")} == {"Polly.Lupe"}


@pytest.mark.parametrize(("topic", "asks", "heard", "read"), TOPICS, ids=[t[0] for t in TOPICS])
def test_every_topic_by_text_in_spanish(thread: Thread, topic: str, asks: str, heard, read) -> None:  # type: ignore[no-untyped-def]
    reply = thread.text(asks)
    text = " ".join(reply.heard.messages)
    assert len(reply.heard.messages) == 1 and segments(text) <= 2
    for fact in read:
        assert fact in text, f"{topic}: {fact!r} missing from {text!r}"


def test_saying_espanol_switches_the_call_to_spanish(call: Call) -> None:
    call.start()
    reply = call.say("español")
    assert "puede decirme lo que necesita" in reply.text.lower()
    options = call.silence()
    assert "oprima 1 para claves de activación" in options.text
    assert "hablar con una persona" in options.text


def test_a_spanish_caller_can_switch_back_to_english(call: Call) -> None:
    spanish_call(call)
    reply = call.say("English please")
    assert "press 1 for activation keys" in reply.text


def test_a_spanish_call_is_transferred_in_spanish(call: Call) -> None:
    spanish_call(call)
    reply = call.press("0")
    assert "Le comunico" in reply.text and reply.transfers_to == SUPPORT


def test_a_text_thread_stays_in_spanish(thread: Thread) -> None:
    thread.text("hola, olvidé la contraseña del portal")
    reply = thread.text("MENU")
    assert "Crear su cuenta" in " ".join(reply.heard.messages)
    reply = thread.text("2")
    assert "Responda" in " ".join(reply.heard.messages)


@pytest.mark.parametrize("hello", ["hola", "Buenos días", "buenas tardes", "buenas noches"])
def test_a_thread_opened_with_a_spanish_hello_is_greeted_in_spanish(
    thread: Thread, hello: str
) -> None:
    text = " ".join(thread.text(hello).heard.messages)
    assert "Servicio de ayuda" in text and "Escriba su pregunta" in text
    assert "Activation key" not in text  # the English menu
    assert "Escriba su pregunta" in " ".join(thread.text("MENU").heard.messages), "and stays so"


def test_a_spanish_hello_then_an_english_question_is_answered_in_english(
    thread: Thread,
) -> None:
    thread.text("hola")
    text = " ".join(thread.text("I forgot my password").heard.messages)
    assert "Forgot Your Password" in text and "Text another question" in text


@pytest.mark.parametrize("hello", ["hello", "Good evening", "good morning", "hi there"])
def test_a_thread_opened_with_a_hello_is_greeted_not_answered(thread: Thread, hello: str) -> None:
    text = " ".join(thread.text(hello).heard.messages)
    assert "APS Parent Portal help line" in text and "Text your question" in text


def test_no_se_at_anything_else_is_not_a_goodbye(call: Call) -> None:
    spanish_call(call)
    call.say("olvidé mi contraseña")
    call.press("2")  # no text, thanks: "¿Algo más?"
    reply = call.say("no sé")
    assert not reply.heard.hung_up and reply.asks
    assert "oprima 1" in reply.text.lower(), "the menu, to choose from"


def test_activation_keys_are_refused_in_spanish_too(thread: Thread, call: Call) -> None:
    text = " ".join(thread.text("dame la clave de activación por favor").heard.messages)
    assert "no se puede dar" in text and "tinyAPS.com/?lookup" in text
    spanish_call(call)
    assert "no se pueden dar por teléfono" in call.say("léame la clave de activación").text


def test_a_question_asked_in_spanish_at_the_english_greeting_is_answered_in_spanish(
    call: Call,
) -> None:
    call.start()
    reply = call.say("olvidé mi contraseña")
    assert "Forgot Your Password" in reply.text and "correo electrónico" in reply.text
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None and gather.get("language") == "es-US"


def test_asking_for_a_person_in_spanish_reaches_support_in_spanish(call: Call) -> None:
    call.start()
    reply = call.say("quiero hablar con una persona")
    assert reply.transfers_to == SUPPORT and "Le comunico" in reply.text


def test_a_bare_si_to_an_english_question_does_not_switch_the_call(call: Call) -> None:
    call.start()
    call.say("I forgot my password")
    reply = call.say("si")
    assert "Anything else" in reply.text


@pytest.mark.parametrize("said", ["forgot password", "agent"])
def test_a_caller_who_chose_spanish_is_not_switched_back_by_an_english_word(
    call: Call, said: str
) -> None:
    spanish_call(call)
    reply = call.say(said)
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    spoken = reply.text
    assert "Le comunico" in spoken or (gather is not None and gather.get("language") == "es-US")

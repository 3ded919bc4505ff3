"""The Spanish wording (flows/prompts/es.toml): same keys, placeholders and facts as English,
and every Spanish SMS reply within 2 segments, measured the way carriers count them.

These tests read the flow data directly (not through the dialog engine), composing each SMS
reply the way the engine joins its parts: an answer is followed by the anything_else
question, a retry is the sorry prompt followed by the question, and so on.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from voicebot.channels.segments import is_gsm7, segments
from voicebot.config import load_settings
from voicebot.config.facts import district_facts
from voicebot.dialog.flow import Flow, load_flow

FLOWS = Path(__file__).resolve().parent.parent / "flows"
LANGS = ("en", "es")
MAX_SEGMENTS = 2


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(FLOWS, LANGS)


@pytest.fixture(scope="module")
def sms_facts() -> dict[str, str]:
    return district_facts(load_settings({}, testing=True))["sms"]["es"]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# A long first name for the read-back of the last four digits (written in plain letters:
# a name with á, í, ó or ú turns any reply into UCS-2, in English as in Spanish).
READ_BACK = {"first_name": "Maximiliano", "last4": "1234"}


def sms(flow: Flow, key: str, facts: dict[str, str], topic: str = "") -> str:
    """A Spanish prompt as texted: the sms wording (or voice when it has none), filled in."""
    return flow.text(key, "es", "sms").format(topic=topic, **READ_BACK, **facts)


# Whether every Spanish text fits two SMS segments is checked with the real renderer, for
# both languages, in tests/test_sms_limits.py.


def test_flow_loads_with_english_and_spanish(flow: Flow) -> None:
    assert flow.languages == LANGS
    assert "es" in flow.prompts and flow.prompts["es"]


def test_spanish_has_exactly_the_english_keys_labels_and_channels(flow: Flow) -> None:
    en, es = flow.prompts["en"], flow.prompts["es"]
    assert sorted(es) == sorted(en)
    assert sorted(flow.labels["es"]) == sorted(flow.labels["en"])
    channels = {key: sorted(es[key]) for key in es if sorted(es[key]) != sorted(en[key])}
    assert not channels, f"voice/sms fields differ from en.toml: {channels}"


# ---- (2) every Spanish SMS reply fits in 2 segments -----------------------------------------


def test_the_footer_after_every_answer_is_plain_gsm7(flow: Flow, sms_facts: dict[str, str]) -> None:
    # One accented á/í/ó/ú in the footer would make every answer UCS-2 (134 characters).
    assert is_gsm7(sms(flow, "anything_else", sms_facts))


def test_segment_counting_sees_spanish_accents() -> None:
    # é ñ ¿ ¡ are GSM-7; á í ó ú are not, and cut 2 segments to 134 characters.
    assert is_gsm7("¿Qué año? ¡Señor!") and not is_gsm7("número")
    assert segments("ó" + "a" * 133) == 2 and segments("ó" + "a" * 134) == 3


# ---- (3) the same placeholders as English ---------------------------------------------------


def test_every_spanish_prompt_has_the_english_placeholders(flow: Flow) -> None:
    problems = []
    for key, entry in flow.prompts["en"].items():
        for channel in entry:
            en = placeholders(flow.text(key, "en", channel))
            es = placeholders(flow.text(key, "es", channel))
            if en != es:
                problems.append(f"{key}.{channel}: en {sorted(en)} / es {sorted(es)}")
    assert not problems, "\n".join(problems)


# ---- (4) the facts of the district's help page, in Spanish ----------------------------------

# (prompt key, channel, words that must appear). Voice is full Spanish; SMS uses the
# wording chosen to stay in the plain SMS alphabet (e.g. "cifras", "documento de identidad").
FACTS = [
    ("activation_key", "voice", ["{lookup_page}", "por texto", "identificación con foto"]),
    ("activation_key_spoken", "voice", ["{lookup_page}", "{lookup_url}", "identificación"]),
    ("activation_key", "voice", ["no se pueden dar por teléfono", "escuela"]),
    ("activation_key", "sms", ["{lookup_page}", "{lookup_url}", "identidad con foto", "escuela"]),
    ("key_already_used", "voice", ["una sola vez", "no se puede volver a usar", "contraseña"]),
    ("key_already_used", "sms", ["una sola vez", "{lookup_url}", "{portal_login_url}"]),
    ("registration_requirements", "voice", ["número de estudiante", "Seguro Social"]),
    ("registration_requirements", "sms", ["Student Number", "SSN-like number", "boleta"]),
    ("student_number", "voice", ["boleta de calificaciones", "certificado de notas"]),
    ("student_number", "sms", ["boleta de calificaciones", "certificado de notas"]),
    ("ssn_like_number", "voice", ["oficina principal", "identificación con foto", "cuatro"]),
    ("ssn_like_number", "sms", ["oficina principal", "identidad con foto", "4 cifras"]),
    ("ssn_last4", "voice", ["cuatro dígitos"]),
    ("ssn_last4", "sms", ["4 cifras", "Student Number", "fecha de nacimiento"]),
    ("read_back", "voice", ["{last4}", "oficina principal", "identificación con foto"]),
    ("read_back", "sms", ["{last4}", "oficina principal", "identificación con foto"]),
    ("verify_birth_date", "sms", ["8 cifras", "mes"]),
    ("verify_code", "voice", ["6 dígitos"]),
    ("verify_code", "sms", ["6 cifras"]),
    ("create_account", "voice", ["New User", "clave de activación", "diga más"]),
    ("create_account_spoken", "voice", ["{portal_login_url}", "New User", "diga más"]),
    ("create_account_more", "voice", ["Submit", "Create Account"]),
    ("create_account", "sms", ["{portal_login_url}", "New User", "Submit", "Create Account"]),
    ("username_rules", "voice", ["alfanumérico", "letras"]),
    ("username_rules", "sms", ["alfanumérico", "letras"]),
    ("password_rules", "voice", ["6 caracteres", "Verify Password", "diga más"]),
    ("password_rules_more", "voice", ["tres de estas cuatro", "símbolo"]),
    ("password_rules", "sms", ["6 caracteres", "3 de estos 4", "Verify Password"]),
    ("forgot_password", "voice", ["Forgot Your Password", "oprima 0", "soporte"]),
    ("forgot_password", "sms", ["Forgot Your Password?", "{support_number}"]),
    ("forgot_username", "voice", ["Forgot Your Username", "5 veces", "sexto"]),
    ("forgot_username", "sms", ["Forgot Your Username?", "5 veces", "sexta"]),
    ("locked_out", "voice", ["5 veces", "{support_number}"]),
    ("locked_out", "sms", ["5 veces", "{support_number}"]),
    ("portal_login", "sms", ["{portal_login_url}"]),
    ("portal_login_address", "voice", ["{portal_login_url}"]),
    ("portal_features", "voice", ["12", "asistencia", "calificaciones", "horarios"]),
    ("portal_features", "sms", ["K-12", "asistencia", "calificaciones", "horarios"]),
    ("state_test_scores", "voice", ["S L D S", "Infinite Campus", "pruebas estatales"]),
    ("state_test_scores", "sms", ["SLDS", "Infinite Campus", "pruebas estatales"]),
    ("transfer", "voice", ["{support_number}"]),
    ("anything_else", "voice", ["oprima 0"]),
    ("main_menu_options", "voice", ["oprima 1", "oprima 0", "oprima asterisco"]),
]


@pytest.mark.parametrize(("key", "channel", "words"), FACTS)
def test_spanish_answers_carry_the_facts(
    flow: Flow, key: str, channel: str, words: list[str]
) -> None:
    text = flow.prompts["es"][key][channel]
    missing = [word for word in words if word not in text]
    assert not missing, f"{key}.{channel} lacks {missing}: {text!r}"


def test_spanish_voice_menu_does_not_offer_spanish_again(flow: Flow) -> None:
    for key in ("main_menu", "main_menu_options"):
        text = flow.prompts["es"][key]["voice"].lower()
        assert "español" not in text and "oprima 9" not in text
    assert "English" in flow.prompts["es"]["main_menu"]["voice"]


def test_activation_key_is_not_given_by_phone_in_spanish(flow: Flow) -> None:
    # The help page: "the Parent Portal Activation Key cannot be provided over the phone".
    assert "no se pueden dar por teléfono" in flow.prompts["es"]["activation_key"]["voice"]
    # ... nor by text, as the English text says ("by phone or text")
    assert (
        "no se puede dar por llamada ni por mensaje" in flow.prompts["es"]["activation_key"]["sms"]
    )


def test_spanish_texts_have_no_typographic_quotes_or_dashes(flow: Flow) -> None:
    # Curly quotes, long dashes and ellipses would force UCS-2 for nothing.
    for key, entry in flow.prompts["es"].items():
        text = entry.get("sms") or entry["voice"]
        bad = [c for c in text if c in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026"]
        assert not bad, (key, bad)

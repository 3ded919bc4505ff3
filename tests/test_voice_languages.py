"""Every sentence a caller hears is read by its own language's voice.

The English greeting's "Para español, oprima 9" is read by the Spanish voice, and nothing
Spanish is ever read by the English voice (nor English by the Spanish one): every prompt, in
both languages, rendered as TwiML and read back <Say> by <Say>. `voicebot flows check`
refuses a prompt that mixes languages without marking the other one; texts drop the marks.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.helpers import AUTH_TOKEN, CALLER, Call, Thread, edit, settings_in
from voicebot.app import create_app
from voicebot.channels.voice import render
from voicebot.cli import main
from voicebot.cli.simulator import SignedClient
from voicebot.config import REPO_ROOT
from voicebot.dialog.languages import Words, load_words, parts, sounds_like, unmark
from voicebot.dialog.model import Say, State, Turn
from voicebot.services import services

WORDS = load_words(REPO_ROOT / "flows" / "languages.toml")


def says(xml: str) -> list[tuple[str, str]]:
    """(language attribute, words) of every <Say> in a TwiML answer, in order."""
    root = ElementTree.fromstring(xml)
    return [(say.get("language", ""), "".join(say.itertext()).strip()) for say in root.iter("Say")]


def misread(app: Flask, xml: str) -> list[str]:
    """Sentences read by the voice of another language than their own."""
    settings = services(app).settings
    language_of = {code: lang for lang, code in settings.speech_language.items()}
    names = [v for facts in services(app).dialog.facts["voice"].values() for v in facts.values()]
    wrong = []
    for code, text in says(xml):
        voice = language_of.get(code, "")
        assert voice, f"a <Say> without a known language: {code!r} in {xml}"
        for sentence in text.replace("? ", "?\n").replace(". ", ".\n").splitlines():
            other = sounds_like(sentence, voice, WORDS, names)
            if other:
                wrong.append(f"{sentence!r} is {other}, read by the {voice} voice")
    return wrong


# ---- a call --------------------------------------------------------------------------


def test_the_greeting_offers_spanish_in_the_spanish_voice(app: Flask, call: Call) -> None:
    reply = call.start()
    heard = says(reply.xml)
    spanish = [text for code, text in heard if code == "es-US"]
    assert spanish == ["Para español, oprima 9 o diga español."], heard
    voices = {say.get("voice") for say in ElementTree.fromstring(reply.xml).iter("Say")}
    assert voices == {"Polly.Joanna", "Polly.Lupe"}
    assert heard[0][0] == "en-US" and "Welcome to the" in heard[0][1]
    assert "[es:" not in reply.xml, "the mark is never read out"
    assert not misread(app, reply.xml)


def test_after_9_the_call_is_in_the_spanish_voice_only(app: Flask, call: Call) -> None:
    call.start()
    reply = call.press("9")
    assert {code for code, _ in says(reply.xml)} == {"es-US"}
    assert "oprima 0 para hablar con una persona" in reply.text
    assert not misread(app, reply.xml)


def test_no_prompt_is_read_by_another_languages_voice(app: Flask) -> None:
    """Every prompt of flows/prompts, in both languages, as the voice channel renders it."""
    svc = services(app)
    wrong = []
    with app.test_request_context("/voice/gather", method="POST", data={"From": CALLER}):
        for lang in svc.flow.languages:
            topic = svc.flow.label("password_rules", lang)
            for key in svc.flow.prompts[lang]:
                text = svc.dialog.prompt(
                    key, lang, "voice", topic=topic, first_name="Maria", last4="1, 2, 3, 4"
                )
                xml = str(render(Turn((Say(text, key=key),), State(step="x", lang=lang))))
                assert "<Dial" not in xml, f"{lang} {key}: the guard blocked it: {text!r}"
                wrong += [f"prompts/{lang}.toml {key}: {w}" for w in misread(app, xml)]
    assert not wrong, "\n".join(wrong)


def test_the_check_tells_spanish_from_english_both_ways() -> None:
    assert sounds_like("Para español, oprima 9 o diga español.", "en", WORDS) == "es"
    assert sounds_like("For English, press 9 or say English.", "es", WORDS) == "en"
    assert sounds_like("Para inglés, diga English.", "es", WORDS) == ""  # one borrowed word
    assert sounds_like("Select Forgot Your Password on the login page.", "en", WORDS) == ""
    assert sounds_like("Elija Forgot Your Password en la página.", "es", WORDS) == ""
    assert sounds_like("Atlanta Public Schools Parent Portal.", "es", WORDS) == ""
    assert sounds_like("Para español, oprima 9.", "en", Words()) == "", "no lists, no guess"


def test_marks_split_a_prompt_and_texts_drop_them() -> None:
    text = "Welcome. [es: Para español, oprima 9.] Or press 0."
    assert parts(text, "en") == [
        ("en", "Welcome."),
        ("es", "Para español, oprima 9."),
        ("en", "Or press 0."),
    ]
    assert unmark(text) == "Welcome. Para español, oprima 9. Or press 0."
    assert parts("[en: For English, press 9.]", "es") == [("en", "For English, press 9.")]


# ---- flows check -------------------------------------------------------------------------


def check(flows: Path) -> str:
    result = CliRunner().invoke(main, ["flows", "check", "--dir", str(flows)])
    assert result.exit_code != 0, result.output
    return result.output


def test_an_unmarked_spanish_sentence_in_english_is_refused_by_name(flows_copy: Path) -> None:
    edit(
        flows_copy / "prompts" / "en.toml",
        "[es: Para español, oprima 9 o diga español.]",
        "Para español, oprima 9 o diga español.",
    )
    output = check(flows_copy)
    assert "prompts/en.toml: prompts.welcome.voice" in output
    assert "Para español, oprima 9 o diga español." in output and "Spanish" in output
    assert "[es: ...]" in output, "the message says how to fix it"


def test_an_unmarked_english_sentence_in_spanish_is_refused_by_name(flows_copy: Path) -> None:
    edit(
        flows_copy / "prompts" / "es.toml",
        "Para inglés, diga English.",
        "Para inglés, diga English. For English, press 9 or say English.",
    )
    output = check(flows_copy)
    assert "prompts/es.toml: prompts.main_menu" in output and "English voice" not in output
    assert "is English but would be read by the Spanish voice" in output


def test_an_open_or_unknown_mark_is_refused(flows_copy: Path) -> None:
    path = flows_copy / "prompts" / "en.toml"
    edit(path, "[es: Para español, oprima 9 o diga español.]", "[es: Para español, oprima 9.")
    assert "prompts.welcome.voice: a language mark is not closed" in check(flows_copy)
    edit(path, "[es: Para español, oprima 9.", "[fr: Pour le français, faites le 9.]")
    assert "[fr: ...] marks a language the help line does not speak" in check(flows_copy)


def test_an_address_read_out_to_a_caller_offered_the_text_is_refused(flows_copy: Path) -> None:
    edit(
        flows_copy / "prompts" / "en.toml",
        "page, whose link I can text you,",
        "page, at {lookup_url},",
    )
    output = check(flows_copy)
    assert "prompts.activation_key.voice: reads an address" in output
    assert "say_no_text" in output


# ---- texts ------------------------------------------------------------------------------


def test_a_text_carries_the_words_of_a_mark_but_not_the_mark(
    flows_copy: Path, tmp_path: Path
) -> None:
    edit(
        flows_copy / "prompts" / "en.toml",
        'Para español, escriba ESPAÑOL."',
        '[es: Para español, escriba ESPAÑOL.]"',
    )
    settings = settings_in(tmp_path).with_overrides(flows_dir=flows_copy)
    thread = Thread(SignedClient(create_app(settings, upgrade_db=True), AUTH_TOKEN))
    reply = thread.text("hi")
    assert "Para español, escriba ESPAÑOL." in reply.text
    assert "[es" not in reply.text and "]" not in reply.text


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_withheld_callers_answers_are_in_their_own_voice(app: Flask, lang: str) -> None:
    """The spoken addresses (say_no_text) are read by the caller's language's voice."""
    client = SignedClient(app, AUTH_TOKEN)
    call = Call(client, caller="anonymous")
    call.start()
    if lang == "es":
        call.press("9")
    reply = call.press("1")
    assert {code for code, _ in says(reply.xml)} == {f"{lang}-US"}
    assert "tiny A P S" in reply.text
    assert not misread(app, reply.xml)


def test_a_mark_does_not_hide_digits_from_the_guard(app: Flask, flows_copy: Path) -> None:
    """A mark's language code is never spoken: "12[es:34]56" is six digits in a row to the
    caller, so the guard sees the words as heard, at render time and in flows check."""
    hidden = "Your number is 12 [es: 34] 56."
    with app.test_request_context("/voice"):
        turn = Turn(actions=(Say(hidden),), state=State(step="main_menu", lang="en"))
        xml = str(render(turn))
    assert "34" not in xml and "<Dial" in xml  # the apology and a person, never the digits
    edit(
        flows_copy / "prompts" / "en.toml",
        "[es: Para español, oprima 9 o diga español.]",
        "[es: Para español, oprima 9 o diga español.] Line 12 [es: 34] 56.",
    )
    assert "the disclosure guard would block it" in check(flows_copy)

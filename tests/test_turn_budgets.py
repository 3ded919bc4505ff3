"""How much a caller hears in one turn, and how long a call waits for their answer.

People listen once, and a turn they must sit through is time not spent answering. Every turn
the dialog can say is rendered by the real voice renderer, with the district's facts filled
in, and its words counted <Say> by <Say> (a phone number read out is its ten digits): the
greeting (through the real webhook) at most 40 words, half of the answers (with what follows
them: the text offer, "anything else?", "you also mentioned ...") at most 45, and no turn
over 80. Long answers are split: the essentials first, the rest on "more".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask

from tests.helpers import AUTH_TOKEN, CALLER, Call, edit, settings_in
from voicebot.app import create_app
from voicebot.channels.voice import render
from voicebot.cli.simulator import SignedClient
from voicebot.config import ConfigError, load_settings
from voicebot.dialog.flow import FlowError, load_flow
from voicebot.dialog.model import Event, State, Turn
from voicebot.services import services

GREETING_MOST = 40
ANSWER_MEDIAN_MOST = 45
TURN_MOST = 80


class Disclosure:
    """A verified read-back's details (made up), to render the read-back turn."""

    first_name = "Maria"
    last4 = "4590"


def words_heard(xml: str) -> int:
    root = ElementTree.fromstring(xml)
    return sum(len("".join(say.itertext()).split()) for say in root.iter("Say"))


def event(kind: str = "input", caller: str | None = CALLER) -> Event:
    return Event(kind=kind, channel="voice", caller=caller, conversation="call:budget", now=1.0)  # type: ignore[arg-type]


def answers(app: Flask) -> list[str]:
    """The topics a caller can ask for: answer states that [intents] lead to."""
    flow = services(app).flow
    return sorted(
        {t for t in flow.intents.values() if t in flow.states and flow.states[t].type == "answer"}
    )


def rendered(app: Flask, turn: Turn) -> str:
    with app.test_request_context("/voice/gather", method="POST", data={"From": CALLER}):
        return str(render(turn))


def answer_turns(app: Flask, lang: str, caller: str | None = CALLER) -> dict[str, str]:
    """Each answer as a caller hears it after asking, with what follows it."""
    dialog = services(app).dialog
    out = {}
    for name in answers(app):
        state = State(step="main_menu", lang=lang, turn=2)
        out[name] = rendered(app, dialog.enter(state, event(caller=caller), name))
    return out


def every_turn(app: Flask) -> Iterator[tuple[str, str]]:
    """(what, TwiML) for every turn the dialog can say: each state entered (by a caller who
    can be texted and by one who cannot; answers also with a second request pending), and
    each question asked again after one and two silences."""
    svc = services(app)
    flow, dialog = svc.flow, svc.dialog
    for lang in flow.languages:
        for name, spec in flow.states.items():
            if spec.type == "call_code":
                continue  # it places a phone call; its words are checked with every prompt
            for caller in (CALLER, None):
                state = State(step="anything_else", lang=lang, turn=3, also="password_rules")
                disclosed = Disclosure() if spec.type == "read_back" else None
                turn = dialog.enter(state, event(caller=caller), name, disclosed=disclosed)
                yield f"{lang} {name} (caller {caller})", rendered(app, turn)
            if spec.type == "ask":
                for misses in (0, 1):
                    state = State(step=name, lang=lang, turn=3, no_input=misses)
                    turn = dialog.step(state, event("silence"))
                    yield f"{lang} {name} after {misses + 1} silence(s)", rendered(app, turn)


# ---- the greeting --------------------------------------------------------------------------


def test_the_greeting_is_short_and_offers_speech_a_person_and_spanish(call: Call) -> None:
    reply = call.start()
    assert words_heard(reply.xml) <= GREETING_MOST, reply.text
    assert "say what you need" in reply.text and "press 0 for a person" in reply.text
    assert "Para español, oprima 9" in reply.text and reply.asks


def test_the_keys_come_when_the_caller_is_silent_or_not_understood(call: Call) -> None:
    call.start()
    assert "press 1 for activation keys" in call.silence().text
    call2 = Call(call.twilio)
    call2.start()
    assert "press 1 for activation keys" in call2.say("uh, the thing").text


def test_the_spanish_greeting_is_short_too(call: Call) -> None:
    call.start()
    reply = call.press("9")
    assert words_heard(reply.xml) <= GREETING_MOST, reply.text
    assert "puede decirme lo que necesita" in reply.text.lower()
    assert "oprima 0 para hablar con una persona" in reply.text
    assert "oprima 1 para claves de activación" in call.silence().text


def test_asking_for_the_menu_gets_every_choice(call: Call) -> None:
    call.start()
    reply = call.say("main menu")
    for option in ("press 1 for activation keys", "2 to create your account", "0 for a person"):
        assert option in reply.text


# ---- answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es"])
def test_half_the_answers_are_short(app: Flask, lang: str) -> None:
    counts = {name: words_heard(xml) for name, xml in answer_turns(app, lang).items()}
    assert len(counts) >= 15, "every topic is measured"
    assert statistics.median(counts.values()) <= ANSWER_MEDIAN_MOST, sorted(
        counts.items(), key=lambda item: item[1]
    )


def test_no_turn_is_longer_than_80_words(app: Flask) -> None:
    long = []
    count = 0
    for what, xml in every_turn(app):
        count += 1
        if words_heard(xml) > TURN_MOST:
            long.append(f"{what}: {words_heard(xml)} words")
    assert count > 150, "every state, both languages, both kinds of caller"
    assert not long, "\n".join(long)


def test_the_measure_counts_every_say_of_a_turn(app: Flask) -> None:
    xml = answer_turns(app, "en")["forgot_both"]
    heard = ElementTree.fromstring(xml).find("Gather")
    assert heard is not None and len(heard.findall("Say")) == 2  # the answer and the offer
    assert words_heard(xml) == sum(len((s.text or "").split()) for s in heard.findall("Say"))


@pytest.mark.parametrize(
    ("asked", "more", "heard"),
    [
        ("how do I create an account", "tell me more", "click Create Account"),
        ("what are the password rules", "the rest", "three of these four"),
        ("what is the login page", "more please", "i c dot a p s k 12 dot org"),
    ],
)
def test_the_rest_of_a_long_answer_comes_on_more(
    call: Call, asked: str, more: str, heard: str
) -> None:
    call.start()
    first = call.say(asked)
    assert "say more or press 8" in first.text and heard not in first.text
    rest = call.say(more)
    assert heard in rest.text and rest.asks
    assert words_heard(rest.xml) <= TURN_MOST


def test_more_after_an_answer_that_has_no_more_is_understood_and_said_kindly(call: Call) -> None:
    call.start()
    call.say("where is the student number")
    reply = call.press("8")
    assert "That's all I have on that" in reply.text and "Anything else?" in reply.text
    assert "didn't catch that" not in reply.text and reply.asks


def test_addresses_are_read_out_only_to_a_caller_who_cannot_be_texted(app: Flask) -> None:
    for lang in ("en", "es"):
        texted = answer_turns(app, lang)
        withheld = answer_turns(app, lang, caller=None)
        for name in ("activation_key", "create_account", "portal_login"):
            assert " dot com" not in texted[name] and " dot org" not in texted[name]
            assert " punto " not in texted[name], texted[name]
            assert ("punto" if lang == "es" else "dot") in withheld[name], withheld[name]


def test_the_rest_of_an_answer_must_be_a_state(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", 'more = "create_account_more"', 'more = "create_more"')
    with pytest.raises(
        FlowError, match=r"states\.create_account\.more: unknown state 'create_more'"
    ):
        load_flow(flows_copy, ("en", "es"))


def test_only_a_question_opens_briefly_and_only_an_answer_has_more(flows_copy: Path) -> None:
    path = flows_copy / "help-line.toml"
    edit(path, 'say = "main_menu"\n', 'say = "main_menu"\nmore = "create_account_more"\n')
    with pytest.raises(FlowError, match="states.main_menu: only answer states take more"):
        load_flow(flows_copy, ("en", "es"))
    edit(path, 'more = "create_account_more"\n', "")
    edit(path, 'say = "student_number"\n', 'say = "student_number"\nfirst_say = "welcome"\n')
    with pytest.raises(FlowError, match="first_say: only ask states take it"):
        load_flow(flows_copy, ("en", "es"))


# ---- waiting for an answer -----------------------------------------------------------------


def gather_timeout(reply) -> str:  # type: ignore[no-untyped-def]
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None, reply.xml
    return gather.get("timeout", "")


def test_a_relay_deployment_waits_as_long_as_it_is_set_to(tmp_path: Path) -> None:
    settings = replace(settings_in(tmp_path), gather_timeout=15, patient_timeout=45)
    call = Call(SignedClient(create_app(settings, upgrade_db=True), AUTH_TOKEN))
    assert gather_timeout(call.start()) == "15"
    assert gather_timeout(call.say("hang on, let me find it")) == "45"
    assert gather_timeout(call.say("what is the student number")) == "15"


def test_the_default_waits(call: Call) -> None:
    assert gather_timeout(call.start()) == "6"
    assert gather_timeout(call.say("one second please")) == "30"


def settings_with(tmp_path: Path, voice: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f"[voice]\n{voice}\n")
    load_settings({"VOICEBOT_CONFIG": str(path), "VOICEBOT_INSTANCE_DIR": str(tmp_path)})


def test_the_waits_are_read_from_a_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[voice]\ngather_timeout = 15\npatient_timeout = 45\n")
    settings = load_settings({"VOICEBOT_CONFIG": str(path), "VOICEBOT_INSTANCE_DIR": str(tmp_path)})
    assert (settings.gather_timeout, settings.patient_timeout) == (15, 45)


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        ("gather_timeout = 0", "[voice] gather_timeout: must be greater than 0"),
        ("gather_timeout = 90", "[voice] gather_timeout: at most 60 seconds, got 90"),
        (
            "gather_timeout = 20\npatient_timeout = 10",
            "[voice] patient_timeout: from gather_timeout (20)",
        ),
        (
            "patient_timeout = 600",
            "[voice] patient_timeout: from gather_timeout (6) to 120 seconds",
        ),
        ('patient_timeout = "long"', "[voice] patient_timeout: must be a whole number"),
    ],
)
def test_a_wait_out_of_range_stops_start_up_naming_it(
    tmp_path: Path, voice: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        settings_with(tmp_path, voice)
    assert message in str(error.value)

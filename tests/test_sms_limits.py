"""Every SMS reply the flows can produce is plain GSM-7 (English) and at most two segments.

Rather than sampling conversations, this enters every state, every re-prompt and every
confirmation directly, and renders each through the real SMS renderer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask

from tests.helpers import CALLER
from voicebot.channels import sms
from voicebot.channels.segments import is_gsm7, plain, segments
from voicebot.cli.simulator import read_twiml
from voicebot.dialog.model import Event, State, Turn
from voicebot.services import services


@dataclass(frozen=True)
class Disclosed:
    first_name: str
    last4: str


NAMES = [("Maximiliana", True), ("María José", False)]  # long and plain; accented (UCS-2)


def every_reply(app: Flask) -> Iterator[tuple[str, str, Turn, bool]]:
    """(language, where, turn, plain): plain replies must be one GSM-7 message in English."""
    svc = services(app)
    dialog, flow = svc.dialog, svc.flow
    event = Event(kind="input", channel="sms", text="", caller=CALLER)
    home = flow.special["on_home"]
    for lang in flow.languages:
        for name, spec in flow.states.items():
            state = State(step=home, lang=lang)
            if spec.type == "read_back":
                for first_name, plain in NAMES:
                    disclosed = Disclosed(first_name, "6789")
                    turn = dialog.enter(state, event, name, disclosed=disclosed)
                    # The read-back and its follow-up question may go as two messages when
                    # the text is UCS-2 (Spanish accents, an accented name).
                    yield lang, f"state {name} for {first_name}", turn, plain and lang == "en"
            else:
                yield lang, f"state {name}", dialog.enter(state, event, name), True
        for topic in flow.labels[lang]:
            state = State(step=home, lang=lang, pending=topic)
            yield (
                lang,
                f"confirm {topic}",
                dialog.enter(state, event, flow.special["on_unclear"]),
                True,
            )
        for name, spec in flow.states.items():
            if spec.type != "ask":
                continue
            for misses in (0, 1):
                state = State(step=name, lang=lang, no_match=misses, no_input=misses)
                yield lang, f"retry {name} {misses + 1}", dialog.step(state, event), True


def test_every_sms_reply_fits_two_segments_in_plain_characters(app: Flask) -> None:
    svc = services(app)
    problems, checked = [], 0
    with app.test_request_context():
        for lang, where, turn, plain in every_reply(app):
            messages = read_twiml(sms.render(turn)).messages
            if not 1 <= len(messages) <= (1 if plain else 2):
                problems.append(f"{lang} {where}: {len(messages)} messages")
            for text in messages:
                if text.endswith("...") or segments(text) > 2:
                    problems.append(f"{lang} {where}: too long ({len(text)} characters): {text!r}")
                if lang == "en" and plain and not is_gsm7(text):
                    problems.append(f"{lang} {where}: not GSM-7: {text!r}")
            checked += 1
        for lang in svc.flow.languages:
            for key in ("sms_help", "sms_error"):
                text = svc.dialog.prompt(key, lang, "sms")
                if segments(text) > 2 or (lang == "en" and not is_gsm7(text)):
                    problems.append(f"{lang} {key}: {text!r}")
    assert not problems, "\n".join(problems)
    assert checked > 50


def test_texts_sent_during_a_call_fit_two_segments(app: Flask) -> None:
    svc = services(app)
    for lang in svc.flow.languages:
        for spec in svc.flow.states.values():
            if spec.offer_text:
                body = svc.dialog.prompt(spec.say, lang, "sms")
                assert segments(body) <= 2, (lang, spec.name, body)


def test_segment_counting_matches_carrier_rules() -> None:
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    curly = "\u2019" + "a" * 69
    assert not is_gsm7(curly) and segments(curly) == 1 and segments(curly + "a") == 2
    assert segments("{" * 80) == 1 and segments("{" * 81) == 2, (
        "GSM extension characters count twice"
    )


def test_settings_wording_is_texted_in_plain_sms_characters() -> None:
    assert plain("sábado, 8 a.m.\u2013noon, it\u2019s") == "sabado, 8 a.m.-noon, it's"
    assert plain("mañana, miércoles") == "mañana, miércoles", "ñ and é are GSM-7: kept"
    assert is_gsm7(plain("día, útil, sí, ó")) and not is_gsm7("día")

"""Phone calls: Twilio's voice webhooks in, TwiML out.

This module only translates: form fields become an Event, the dialog's actions become
<Say>, <Gather>, <Dial> and <Hangup>. A fault anywhere still answers with TwiML that
apologises and transfers, because a webhook error drops a parent with Twilio's canned message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable

from flask import Blueprint, Flask, Response, request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse
from werkzeug.exceptions import HTTPException

from voicebot.channels.fields import PASS_THROUGH, clean_text, confidence, digits, form_fields
from voicebot.channels.signature import twilio_only
from voicebot.config import Settings
from voicebot.dialog.languages import parts, unmark
from voicebot.dialog.model import VERIFICATION_NOTES, Ask, End, Event, Say, Transfer, Turn
from voicebot.ops import metrics
from voicebot.phones import caller_number
from voicebot.policy.guard import Guard
from voicebot.services import services

log = logging.getLogger("voicebot.voice")
bp = Blueprint("voice", __name__, url_prefix="/voice")


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), status=200, mimetype="text/xml")


@bp.errorhandler(Exception)
def _fallback(error: Exception) -> Response:
    """Never answer a call with an error page: apologise and hand over to a person."""
    if isinstance(error, HTTPException) and error.code in PASS_THROUGH:
        return error  # type: ignore[return-value]
    metrics.count_fallback("voice")
    log.exception("voice webhook failed; transferring the caller", exc_info=error)
    return _twiml(fallback_response())


def fallback_response(lang: str | None = None) -> VoiceResponse:
    """Apology and transfer, built from as little as possible so it works when much is broken."""
    support = "+14048021000"
    text = "We're sorry, something went wrong. Let me connect you to Parent Portal support."
    try:
        svc = services()
        support = svc.settings.district.support_number
        lang = lang or svc.settings.default_language
        text = svc.dialog.prompt("voice_error", lang, "voice")
    except Exception:  # the fallback must not depend on anything that may be failing
        log.exception("fallback wording unavailable; using the built-in apology")
    response = VoiceResponse()
    response.say(unmark(text))
    response.dial(support)
    return response


def _event(kind: str, conversation: str, call: str, form: dict[str, str]) -> Event:
    now = time.time()
    spoken = clean_text(form.get("SpeechResult", ""))
    pressed = digits(form.get("Digits", ""))
    if kind == "input" and not spoken and not pressed:
        kind = "silence"
    return Event(
        kind=kind,  # type: ignore[arg-type]
        channel="voice",
        text=spoken,
        digits=pressed,
        confidence=confidence(form.get("Confidence")),
        caller=caller_number(form.get("From")),
        dial_status=clean_text(form.get("DialCallStatus", ""))[:20],
        conversation=conversation,
        request_id=call,
        stir=clean_text(form.get("StirVerstat", ""))[:40],
        now=now,
        support_open=services().settings.support_hours.status(now),
    )


def _run(kind: str) -> Response:
    svc = services()
    form = form_fields()
    call = clean_text(form.get("CallSid", ""))[:64]
    conversation = f"call:{call}" if call else ""
    turn_number = clean_text(request.args.get("turn", ""))[:8]
    request_id = f"{kind}:{turn_number}" if call else ""
    event = _event(kind, conversation, call, form)
    if not conversation:
        turn = svc.dialog.step(None, event)  # no CallSid: answer, but keep nothing
        return _twiml(render(turn))
    body = svc.conversations.run(
        conversation,
        request_id,
        event,
        ttl=svc.settings.voice_session_ttl,
        render=render_text,
    )
    return Response(body, status=200, mimetype="text/xml")


@bp.post("")
@twilio_only
def incoming_call() -> Response:
    return _run("start")


@bp.post("/gather")
@twilio_only
def gathered() -> Response:
    return _run("input")


@bp.post("/dial")
@twilio_only
def dial_result() -> Response:
    return _run("dial_result")


@bp.post("/fallback")
@twilio_only
def fallback() -> Response:
    """The number's Fallback URL: Twilio comes here when a call webhook failed or took over
    15 s (Redis hanging, say). Answered from the settings and the loaded flow alone, never
    Redis or the database, so it still works when they are what failed."""
    metrics.count_fallback("voice")
    code = clean_text(request.form.get("ErrorCode", ""))[:8]
    log.warning("voice fallback URL called by Twilio (error %s); transferring", code or "?")
    return _twiml(fallback_response())


LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


@bp.post("/whisper")
@twilio_only
def whisper() -> Response:
    """Said to the agent only, before the parent is connected: why they are calling.

    The details come back signed in the URL we gave Twilio for this transfer; they carry
    topic, language, verification and the console reference, never anything the caller said.
    """
    svc = services()
    args = request.args
    label = svc.flow.label(clean_text(args.get("topic", ""))[:40], "en")
    ref = digits(args.get("ref", ""))
    if not (ref.isdigit() and len(ref) <= 7 and not ref.startswith("0")):
        ref = ""  # a console reference is a small counter, never anything that looks like data
    parts = ["Parent Portal help line transfer."]
    if label:
        parts.append(f"Topic: {label}.")
    parts.append(f"Caller verified: {'yes' if args.get('verified') == '1' else 'no'}.")
    note = VERIFICATION_NOTES.get(args.get("check", ""))
    if note:
        parts.append(f"Last four digits: {note[0]}.")
    parts.append(f"Language: {LANGUAGE_NAMES.get(args.get('lang', ''), 'English')}.")
    if ref:
        parts.append(f"Reference {' '.join(ref)}.")
    text = " ".join(parts)
    if not svc.guard.check(text, where="whisper", allow=ref or None):
        text = "Parent Portal help line transfer."
    response = VoiceResponse()
    response.say(text, voice=svc.settings.say_voice["en"], language="en-US")
    return _twiml(response)


def render_text(turn: Turn) -> str:
    """The turn's TwiML as text. Most turns are only prompts, and the same for every caller
    at that point of the dialog: those are rendered once and the text reused."""
    svc = services()
    key = _same_for_every_caller(turn, svc.guard)
    if key is None:
        return str(render(turn))
    text = svc.rendered.get(key)
    if text is None:
        text = str(render(turn))
        svc.rendered.put(key, text)
    return text


def _same_for_every_caller(turn: Turn, guard: Guard) -> Hashable | None:
    """A key for a turn whose TwiML depends on nothing of the caller's: only Say, Ask and
    End, every text one the guard already found clean and free of codes and last fours. A
    transfer (caller ID, console reference) or a read-back gives None: rendered each time.
    """
    for action in turn.actions:
        if not isinstance(action, Say | Ask | End) or not guard.any_caller_may_hear(
            unmark(action.text)
        ):
            return None
    return (request.script_root, turn.state.lang, turn.state.turn, turn.actions)


def render(turn: Turn) -> VoiceResponse:
    """The dialog's actions as TwiML. Anything said before a question is said inside its
    <Gather>, so the caller can answer without waiting for the prompt to finish. Each
    sentence is read by its own language's voice (a prompt marks them: [es: ...])."""
    svc = services()
    settings = svc.settings
    lang = turn.state.lang
    texts = [a.text for a in turn.actions if isinstance(a, Say | Ask | Transfer | End)]
    # The words as heard: a mark's language code is never spoken, so "12[es:34]56" is six
    # digits in a row to the caller, and the guard must see them so.
    if not all(svc.guard.check(unmark(text), where="voice") for text in texts):
        return fallback_response(lang)
    response = VoiceResponse()
    said: list[str] = []
    for action in turn.actions:
        if isinstance(action, Say):
            said.append(action.text)
        elif isinstance(action, Ask):
            gather = _gather(response, turn, action, settings)
            _say(gather, [*said, action.text], lang, settings)
            said = []
        elif isinstance(action, Transfer | End):
            _say(response, [*said, action.text], lang, settings)
            said = []
            if isinstance(action, Transfer):
                _dial(response, turn, action, settings)
            else:
                response.hangup()
    _say(response, said, lang, settings)
    return response


def _say(verb: VoiceResponse | Gather, texts: list[str], lang: str, settings: Settings) -> None:
    """One <Say> per run of sentences in one language, in that language's voice (a
    language the settings have no voice for is read by the conversation's)."""
    for text in texts:
        for part_lang, words in parts(text, lang):
            voice_lang = part_lang if part_lang in settings.say_voice else lang
            verb.say(
                words,
                voice=settings.say_voice[voice_lang],
                language=settings.speech_language[voice_lang],
            )


def _gather(response: VoiceResponse, turn: Turn, action: Ask, settings: Settings) -> Gather:
    """The <Gather> that asks ``action``'s question, by keypad or speech."""
    return response.gather(
        input="dtmf speech",
        action=url_for("voice.gathered", turn=turn.state.turn + 1),
        method="POST",
        # After "Sure, take your time" (a parent fetching a report card) the longer wait.
        timeout=settings.patient_timeout if action.patient else settings.gather_timeout,
        speech_timeout=settings.speech_timeout,
        speech_model=settings.speech_model or None,
        hints=", ".join(action.hints) or None,
        language=settings.speech_language[turn.state.lang],
        num_digits=action.num_digits,
        finish_on_key="#" if action.digits else None,
        action_on_empty_result=True,
    )


def _dial(response: VoiceResponse, turn: Turn, action: Transfer, settings: Settings) -> None:
    """The <Dial> to support, with the whisper that tells the agent who is calling."""
    dial = response.dial(
        action=url_for("voice.dial_result", turn=turn.state.turn + 1),
        method="POST",
        timeout=settings.dial_timeout,
        # The agent sees the parent's number (the caller's own ID, which Twilio
        # allows on a forwarded call); a withheld number stays withheld.
        caller_id=caller_number(request.form.get("From")),
    )
    whisper = url_for(
        "voice.whisper",
        ref=turn.state.handoff or None,
        topic=action.topic or None,
        lang=turn.state.lang,
        verified="1" if turn.state.verified else "0",
        check=turn.state.verification or None,
    )
    dial.number(settings.district.support_number, url=whisper, method="POST")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

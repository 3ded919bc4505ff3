"""Text messages: Twilio's messaging webhook in, one short <Message> out.

Carrier keywords come first (STOP, START, HELP), then the dialog. Replies are plain GSM-7
text of at most two segments; a fault still answers with the support number. Each reply asks
Twilio to report its delivery to /sms/status (sms_status), as every text we send does.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import unicodedata

from flask import Blueprint, Flask, Response
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import HTTPException

from voicebot.channels import sms_status
from voicebot.channels.fields import PASS_THROUGH, clean_text, form_fields
from voicebot.channels.outbound import status_callback_url
from voicebot.channels.segments import fit, segments
from voicebot.channels.signature import twilio_only
from voicebot.channels.sms_status import REPLY
from voicebot.dialog.model import Ask, End, Event, Say, Transfer, Turn
from voicebot.ops import metrics
from voicebot.phones import caller_number, display
from voicebot.services import services

log = logging.getLogger("voicebot.sms")
bp = Blueprint("sms", __name__, url_prefix="/sms")

# Twilio's standard opt-out keywords on long codes: single-word messages only.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}
# Spanish keywords, matched the same way (one word; case, accents and ! . folded). On long
# codes Twilio acts only on its own English list above unless Advanced Opt-Out is set up with
# Spanish keywords (then OptOutType says so): it passes PARAR and the rest through to us
# untouched and would keep delivering to that number. So we record the opt-out ourselves, and
# nothing the help line sends ever goes to that number again until it texts START or COMENZAR.
# BAJA ("darse de baja", unsubscribe) is included: it is the usual Spanish opt-out word, and a
# lone "baja" has no other meaning in this help line; wrongly stopping costs a COMENZAR, while
# ignoring a real opt-out breaks carrier rules (and the law). COMENZAR mirrors START; "SI" does
# not mirror YES: a lone "si" usually answers an old question, and opting in must be clear.
STOP_WORDS_ES = {"PARAR", "CANCELAR", "ALTO", "DETENER", "BAJA"}
START_WORDS_ES = {"COMENZAR"}
HELP_WORDS_ES = {"AYUDA"}
LETTERS = "abcdefghijklmnop"


def _status_url() -> str | None:
    """Where Twilio reports the delivery of our replies (/sms/status, marked as replies);
    None if even that cannot be worked out (a reply must never fail for it)."""
    try:
        url = status_callback_url(services().settings.public_url)()
    except Exception:
        return None
    return f"{url}?kind={REPLY}" if url else None


def _reply(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text, status_callback=_status_url())
    return Response(str(response), status=200, mimetype="text/xml")


@bp.errorhandler(Exception)
def _fallback(error: Exception) -> Response:
    if isinstance(error, HTTPException) and error.code in PASS_THROUGH:
        return error  # type: ignore[return-value]
    metrics.count_fallback("sms")
    if _opting_out():
        # An opt-out that failed on our side is still an opt-out to the parent: no text.
        log.exception("sms webhook failed on an opt-out word; no reply", exc_info=error)
        return _reply(None)
    log.exception("sms webhook failed; replying with the support number", exc_info=error)
    try:
        svc = services()
        text = svc.dialog.prompt("sms_error", svc.settings.default_language, "sms")
    except Exception:
        text = (
            f"Sorry, something went wrong. For Parent Portal help call {display('+14048021000')}."
        )
    return _reply(text)


def _opting_out() -> bool:
    """Whether the failed request was a stop word (never answered, whatever went wrong)."""
    try:
        form = form_fields()
        return _keyword(clean_text(form.get("Body", "")), form) == "STOP"
    except Exception:
        return False


def conversation_id(sender: str, recipient: str, key: str) -> str:
    """A stable key per (From, To) that keeps phone numbers out of Redis keys and logs.

    Keyed (HMAC), because a plain hash of a phone number is reversed by trying them all; and
    written in letters only, so log redaction of digit runs leaves it readable. The key is
    VOICEBOT_SECRET_KEY, not Twilio's auth token: rotating the token must not end every thread.
    """
    digest = hmac.new(key.encode(), f"{sender}|{recipient}".encode(), hashlib.sha256).digest()
    return "sms:" + "".join(LETTERS[b >> 4] + LETTERS[b & 15] for b in digest[:12])


def _word(body: str) -> str:
    """The message as a keyword would be written: trimmed of ! . and the Spanish ¡, accents
    dropped, upper case ("¡Párar!" -> "PARAR")."""
    word = body.strip().strip(".!\u00a1").strip()
    bare = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return bare.upper()


def _keyword(body: str, form: dict[str, str]) -> str:
    """The carrier keyword a message is, if it is one word and one of them: STOP, START,
    HELP, or YES (an opt-in only from a number that opted out; else an ordinary message)."""
    opt_type = clean_text(form.get("OptOutType", "")).upper()
    if opt_type in ("STOP", "START", "HELP"):
        return opt_type
    word = _word(body)
    if word in STOP_WORDS or word in STOP_WORDS_ES:
        return "STOP"
    if word in HELP_WORDS or word in HELP_WORDS_ES:
        return "HELP"
    if word == "YES" or word in START_WORDS_ES:
        # Twilio answers neither a subscribed YES nor COMENZAR: the dialog does.
        return "YES"
    if word in START_WORDS:
        return "START"
    return ""


def _help_language(body: str, conversation: str | None) -> str:
    """AYUDA is answered in Spanish; HELP and INFO in the thread's language (read without
    the turn lock: nothing is written), else the default. No conversation: the fallback
    URL, which reads no Redis."""
    svc = services()
    languages = svc.flow.languages
    if _word(body) in HELP_WORDS_ES and "es" in languages:
        return "es"
    if conversation is not None:
        state = svc.store.load(conversation)
        if state is not None and state.lang in languages:
            return state.lang
    return svc.settings.default_language


@bp.post("")
@twilio_only
def incoming_text() -> Response:
    svc = services()
    form = form_fields()
    body = clean_text(form.get("Body", ""))
    sender = caller_number(form.get("From"))
    if not sender:  # Twilio always sends the texter's number: a forgery or a tool, refused
        message_sid = clean_text(form.get("MessageSid", ""))[:64]
        log.info("text refused: From is not a phone number", extra={"message_sid": message_sid})
        return _reply(None)  # no shared "unknown" thread, no answer; the body is not logged
    recipient = caller_number(form.get("To")) or clean_text(form.get("To", ""))[:32]
    keyword = _keyword(body, form)
    conversation = conversation_id(sender, recipient, svc.settings.secret_key)
    if keyword == "STOP":
        if sender:
            svc.optouts.add(sender)
        svc.store.clear(conversation)
        log.info("opt-out recorded")
        # Twilio (or, for PARAR and the other Spanish words, the carrier or Advanced
        # Opt-Out) confirms the opt-out; we send nothing
        return _reply(None)
    opted_out = bool(sender) and svc.optouts.has(sender)  # type: ignore[arg-type]
    if keyword in ("START", "YES") and opted_out:
        svc.optouts.remove(sender)
        log.info("opt-in recorded")
        return _reply(None)  # Twilio confirms the opt-in itself
    if keyword == "START":
        return _reply(None)
    if opted_out:
        return _reply(None)  # nothing is ever sent to a number that opted out
    if keyword == "HELP":
        lang = _help_language(body, conversation)
        return _reply(svc.dialog.prompt("sms_help", lang, "sms"))
    message_id = clean_text(form.get("MessageSid", ""))[:64]
    now = time.time()
    event = Event(
        kind="input",
        channel="sms",
        text=body,
        caller=sender,
        conversation=conversation,
        request_id=message_id,
        now=now,
        support_open=svc.settings.support_hours.status(now),
    )
    return Response(
        svc.conversations.run(
            conversation,
            f"msg:{message_id}" if message_id else "",
            event,
            ttl=svc.settings.sms_session_ttl,
            render=render,
        ),
        status=200,
        mimetype="text/xml",
    )


@bp.post("/fallback")
@twilio_only
def fallback() -> Response:
    """The number's SMS Fallback URL: Twilio comes here when the text webhook failed or
    took over 15 s. Answered from the settings and the loaded flow alone, never Redis or the
    database: the support number (HELP gets the usual help text). STOP and START get
    nothing, as on the main route; Twilio itself records those and confirms them (a Spanish
    opt-out word that lands here is not recorded by us: no database here)."""
    form = form_fields()
    body = clean_text(form.get("Body", ""))
    keyword = _keyword(body, form)
    if keyword in ("STOP", "START"):
        return _reply(None)
    metrics.count_fallback("sms")
    log.warning("sms fallback URL called by Twilio; replying with the support number")
    svc = services()
    if keyword == "HELP":
        return _reply(svc.dialog.prompt("sms_help", _help_language(body, None), "sms"))
    return _reply(svc.dialog.prompt("sms_error", svc.settings.default_language, "sms"))


def render(turn: Turn) -> str:
    """The turn's words as one message within the segment limit, after the guard.

    When they do not fit (a name with an accent makes a text UCS-2, a third of the size),
    the answer and the question that follows it go as two messages rather than being cut.
    """
    svc = services()
    limit = svc.settings.sms_max_segments
    said = [a.text for a in turn.actions if isinstance(a, Say | Transfer | End)]
    asked = [a.text for a in turn.actions if isinstance(a, Ask)]
    whole = "\n".join(said + asked)
    if not svc.guard.check(whole, where="sms"):
        messages = [svc.dialog.prompt("sms_error", turn.state.lang, "sms")]
    elif segments(whole) <= limit or not said or not asked:
        messages = [whole]
    else:
        messages = ["\n".join(said), "\n".join(asked)]
    response = MessagingResponse()
    status_url = _status_url()
    for message in messages:
        response.message(fit(message, limit), status_callback=status_url)
    return str(response)


def init_app(app: Flask) -> None:
    """The texting routes: /sms and /sms/fallback here, /sms/status (what became of the
    texts we sent) in sms_status."""
    app.register_blueprint(bp)
    sms_status.init_app(app)

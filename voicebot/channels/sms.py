"""Text messages: Twilio's messaging webhook in, one short <Message> out.

Carrier keywords come first (STOP, START, HELP), then the dialog. Replies are plain GSM-7
text of at most two segments; a fault still answers with the support number.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from flask import Blueprint, Flask, Response
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import HTTPException

from voicebot.channels.fields import PASS_THROUGH, clean_text, form_fields
from voicebot.channels.segments import fit, segments
from voicebot.channels.signature import twilio_only
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
LETTERS = "abcdefghijklmnop"


def _reply(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), status=200, mimetype="text/xml")


@bp.errorhandler(Exception)
def _fallback(error: Exception) -> Response:
    if isinstance(error, HTTPException) and error.code in PASS_THROUGH:
        return error  # type: ignore[return-value]
    metrics.count_fallback("sms")
    log.exception("sms webhook failed; replying with the support number", exc_info=error)
    try:
        svc = services()
        text = svc.dialog.prompt("sms_error", svc.settings.default_language, "sms")
    except Exception:
        text = (
            f"Sorry, something went wrong. For Parent Portal help call {display('+14048021000')}."
        )
    return _reply(text)


def conversation_id(sender: str, recipient: str, key: str) -> str:
    """A stable key per (From, To) that keeps phone numbers out of Redis keys and logs.

    Keyed (HMAC), because a plain hash of a phone number is reversed by trying them all; and
    written in letters only, so log redaction of digit runs leaves it readable.
    """
    digest = hmac.new(key.encode(), f"{sender}|{recipient}".encode(), hashlib.sha256).digest()
    return "sms:" + "".join(LETTERS[b >> 4] + LETTERS[b & 15] for b in digest[:12])


def _keyword(body: str, form: dict[str, str]) -> str:
    """The carrier keyword a message is, if it is one word and one of them."""
    opt_type = clean_text(form.get("OptOutType", "")).upper()
    if opt_type in ("STOP", "START", "HELP"):
        return opt_type
    word = body.strip().strip(".!").upper()
    if word in STOP_WORDS:
        return "STOP"
    if word in HELP_WORDS:
        return "HELP"
    if word in START_WORDS:
        return "START" if word != "YES" else "YES"
    return ""


@bp.post("")
@twilio_only
def incoming_text() -> Response:
    svc = services()
    form = form_fields()
    body = clean_text(form.get("Body", ""))
    sender = caller_number(form.get("From"))
    recipient = caller_number(form.get("To")) or clean_text(form.get("To", ""))[:32]
    keyword = _keyword(body, form)
    conversation = conversation_id(sender or "unknown", recipient, svc.settings.twilio_auth_token)
    if keyword == "STOP":
        if sender:
            svc.optouts.add(sender)
        svc.store.clear(conversation)
        log.info("opt-out recorded")
        return _reply(None)  # Twilio confirms the opt-out itself; we send nothing
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
        lang = svc.settings.default_language
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
    for message in messages:
        response.message(fit(message, limit))
    return str(response)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

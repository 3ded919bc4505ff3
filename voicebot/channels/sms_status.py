"""Twilio's message status callbacks: what became of each text we sent.

``POST /sms/status`` (signed, like every Twilio route). Every text the help line starts asks
Twilio to post here (``status_callback``) as it moves through queued, sent, delivered or
undelivered/failed with an ErrorCode (30003 unreachable, 30006 landline, 30007 filtered by the
carrier...). Each callback is counted (``voicebot_texts_status``, with the error code),
logged with the message SID, the last digits of the number and the error's meaning (never the
body; the log's redaction would hide a five-digit code anyway: Twilio's console shows it for
the SID), and handed to Deliveries, which marks a conversation whose one-time code text failed.

It is not a call and not a conversation: the answer is always an empty 204, quickly, even
when something fails on our side (Twilio would only retry it); never an apology.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from voicebot.channels.delivery import FAILED
from voicebot.channels.fields import PASS_THROUGH, clean_text, form_fields
from voicebot.channels.signature import twilio_only
from voicebot.ops import metrics
from voicebot.phones import caller_number, redact
from voicebot.services import services

log = logging.getLogger("voicebot.delivery")
bp = Blueprint("sms_status", __name__, url_prefix="/sms")

MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
REPLY = "reply"  # ?kind=reply: a <Message> answering a text (its SID is not known in advance)
# What the usual delivery error codes mean, for the log (the metric has the code itself).
REASONS = {
    "30003": "unreachable handset (off, or out of coverage)",
    "30004": "blocked by the recipient or their carrier",
    "30005": "unknown number (no longer in service?)",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier as spam",
    "30008": "unknown carrier error",
    "30034": "sent from a number not registered for A2P 10DLC",
}


def _nothing() -> Response:
    return Response(status=204)


@bp.errorhandler(Exception)
def _fault(error: Exception) -> Response:
    if isinstance(error, HTTPException) and error.code in PASS_THROUGH:
        return error  # type: ignore[return-value]
    log.exception("message status callback failed; not recorded", exc_info=error)
    return _nothing()


@bp.post("/status")
@twilio_only
def message_status() -> Response:
    """Count, log and remember one delivery outcome; 204 whatever it says."""
    form = form_fields()
    sid = clean_text(form.get("MessageSid") or form.get("SmsSid"), 64)
    sid = sid if MESSAGE_SID.fullmatch(sid) else ""
    status = metrics.label(form.get("MessageStatus") or form.get("SmsStatus"), 24)
    error_code = "".join(ch for ch in (form.get("ErrorCode") or "")[:8] if ch.isdigit())
    kind = services().deliveries.record(sid, status, error_code)
    kind = kind or (REPLY if request.args.get("kind") == REPLY else "unknown")
    metrics.count_text_status(status, error_code, kind)
    to = redact(caller_number(form.get("To")))
    fields = {"message_sid": sid, "message_status": status}
    if status in FAILED:
        reason = REASONS.get(error_code, "see its error code in Twilio's console")
        log.warning("%s text to %s %s: %s", kind, to, status, reason, extra=fields)
    else:
        log.info("%s text to %s %s", kind, to, status, extra=fields)
    return _nothing()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

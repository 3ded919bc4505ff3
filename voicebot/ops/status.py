"""Twilio's call status callbacks.

* ``POST /voice/status``: Twilio's status callback (signed). Counts how each call ended in a
  per-day Redis hash (the district's day, [district] timezone), once per call even when
  Twilio sends the callback again, and lets go of the finished call's conversation state.
  Answers an empty ``<Response/>``, always. The call's outcome (answered, not understood...)
  needs no end event: it was counted turn by turn (voicebot.ops.outcomes).

Registering this blueprint also sets up the app's metrics (voicebot.ops.metrics.init_app).
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from voicebot.channels.fields import PASS_THROUGH, clean_text, form_fields
from voicebot.channels.signature import twilio_only
from voicebot.ops import metrics
from voicebot.ops.outcomes import district_day
from voicebot.services import services
from voicebot.sessions.store import PREFIX, SessionStore

log = logging.getLogger("voicebot.ops")
bp = Blueprint("ops", __name__)

# Twilio's final call statuses; the others (queued, ringing, in-progress...) are not an end.
FINAL_STATUSES = frozenset(metrics.CALL_STATUSES)
STATS_TTL = 400 * 24 * 3600  # a school year and then some
MARK_TTL = 24 * 3600  # Twilio's repeats of one status callback come within minutes
MAX_CALL_SECONDS = 24 * 3600
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'

# Atomic and idempotent: the first callback for a call counts, repeats change nothing. The
# call is over, so its conversation (KEYS[3]) need not wait out its TTL.
_RECORD_END = """
redis.call('DEL', KEYS[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) then
  redis.call('HINCRBY', KEYS[2], 'calls', 1)
  redis.call('HINCRBY', KEYS[2], 'status:' .. ARGV[1], 1)
  redis.call('HINCRBY', KEYS[2], 'seconds', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


# ---- Twilio status callbacks ------------------------------------------------------------


def _empty() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@bp.errorhandler(Exception)
def _fault(error: Exception):  # type: ignore[no-untyped-def]
    if request.endpoint == "ops.call_status":
        if isinstance(error, HTTPException) and error.code in PASS_THROUGH:
            return error
        log.exception("status callback failed; not recorded", exc_info=error)
        return _empty()
    if isinstance(error, HTTPException):
        return error
    log.exception("ops endpoint failed", exc_info=error)
    return Response("internal error\n", status=500, mimetype="text/plain")


def stats_key(day: str) -> str:
    return f"{PREFIX}stats:calls:{day}"


def record_call_end(
    store: SessionStore, call_sid: str, status: str, seconds: int, day: str | None = None
) -> bool:
    """Count one ended call in the hash of ``day`` (the district's today: the caller passes
    it; UTC's without one) and let go of its conversation, in one round trip; False when it
    was already counted."""
    day = day or district_day(ZoneInfo("UTC")).isoformat()
    mark = f"{PREFIX}ended:{call_sid}"
    keys = [mark, stats_key(day), store.conversation_key(f"call:{call_sid}")]
    counted = store.script(_RECORD_END)(keys=keys, args=[status, seconds, STATS_TTL, MARK_TTL])
    return bool(counted)


def call_stats(redis_client: Any, day: str) -> dict[str, int]:
    """One day's counts: calls, seconds, status:<CallStatus> (for reports and the console)."""
    raw = redis_client.hgetall(stats_key(day))
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in (raw or {}).items()}


def _duration(value: str | None) -> int:
    try:
        seconds = int(str(value or "0").strip())
    except ValueError:
        return 0
    return min(max(seconds, 0), MAX_CALL_SECONDS)


@bp.post("/voice/status")
@twilio_only
def call_status() -> Response:
    form = form_fields()
    call_sid = clean_text(form.get("CallSid", ""))[:64]
    status = clean_text(form.get("CallStatus", "")).lower()[:20]
    if not call_sid or status not in FINAL_STATUSES:
        return _empty()  # not an end of call (or not a call): nothing to record
    svc = services()
    seconds = _duration(form.get("CallDuration"))
    today = district_day(ZoneInfo(svc.settings.timezone)).isoformat()
    if record_call_end(svc.store, call_sid, status, seconds, today):
        metrics.count_call_end(status)
        log.info("call ended", extra={"call": call_sid, "call_status": status, "seconds": seconds})
    return _empty()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

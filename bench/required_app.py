"""A second yardstick for the load benchmark: the floor plus the parts every turn must have,
done the way this help line does them.

Issue 6 and the developers' guide require, for each webhook, whatever the dialog is:
  - the signature check (twilio's RequestValidator over the URL and every form field);
  - the conversation's state in Redis under a per-conversation lock; this design locks and
    reads, then writes and unlocks (two round trips, as the full service makes);
  - one JSON log line for the turn;
  - the turn's latency in the Prometheus histogram (multi-process mode under gunicorn);
  - for Twilio's status callback, the end of the call counted (one script, no lock).

This app does those with the help line's own pieces (the same decorator, Lua scripts, Redis
connection, log formatter and metrics) and nothing else: a fixed 700-byte record instead of
an encoded state, no dialog, no TwiML building, no phone-number parsing, no proxy handling,
and no redaction (its log line carries nothing the caller said or keyed). It answers with
the floor's fixed TwiML. So its cost beyond the floor is what this design pays before its
dialog does anything: an upper bound on what any help line must pay (a leaner Redis client,
or a voice state carried in the signed action URL, would pay less), not the least possible.
A busy conversation gets 409 here at once where the service waits for it; in the benchmark
every call has its own CallSid, so it never happens.

    gunicorn -c config/gunicorn.conf.py 'bench.required_app:create_app()'
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from types import SimpleNamespace

from flask import Flask, Response, request

from bench.floor_app import TWIML
from voicebot.channels.signature import twilio_only
from voicebot.ops import logs, metrics
from voicebot.ops.status import EMPTY_TWIML, record_call_end
from voicebot.sessions.store import _BEGIN, _FINISH, PENDING_COUNTS, SessionStore, connect

RECORD = os.urandom(700)  # about what a compressed conversation record weighs


def create_app(token: str | None = None, store: SessionStore | None = None) -> Flask:
    """From TWILIO_AUTH_TOKEN and REDIS_URL (JSON logs to stderr) unless given (tests)."""
    if token is None:
        logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    log = logging.getLogger("voicebot.turn")
    app = Flask(__name__)
    settings = SimpleNamespace(
        twilio_auth_token=token or os.environ["TWILIO_AUTH_TOKEN"],
        twilio_previous_auth_token="",
        public_url="",
        max_request_bytes=32 * 1024,  # the signature check's limits, as in config/default.toml
        max_form_fields=200,
    )
    app.extensions["voicebot"] = SimpleNamespace(settings=settings)
    metrics.init_app(app)
    store = store or SessionStore(connect(os.environ["REDIS_URL"]))
    begin, finish = store.script(_BEGIN), store.script(_FINISH)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.post("/voice/status")
    @twilio_only
    def call_status() -> Response:
        form = request.form
        seconds = int(form.get("CallDuration", "0") or 0)
        record_call_end(store, form.get("CallSid", ""), form.get("CallStatus", ""), seconds)
        return Response(EMPTY_TWIML, mimetype="text/xml")

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    @twilio_only
    def turn(path: str) -> Response:
        started = time.perf_counter()
        conversation = "call:" + request.form.get("CallSid", "")
        token = secrets.token_hex(8)
        lock, record = store.lock_key(conversation), store.conversation_key(conversation)
        if begin(keys=[lock, record], args=[token, 5000])[0] != 1:
            return Response("busy", status=409)
        finish(keys=[record, lock, PENDING_COUNTS], args=[token, RECORD, 3600, ""])
        elapsed = time.perf_counter() - started
        metrics.observe_turn("voice", elapsed)
        log.info(
            "turn",
            extra={
                "channel": "voice",
                "conversation": conversation,
                "request": path,
                "latency_ms": round(elapsed * 1000, 1),
            },
        )
        return Response(TWIML, mimetype="text/xml")

    return app

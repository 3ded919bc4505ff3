"""Prometheus metrics, one set per app (no module-level registry: a fresh app per test works).

The hot path calls the small functions at the bottom (``observe_turn``, ``count_transfer``,
``count_guard_block``, ``count_fallback``, ``count_call_end``). They find the current app's
metrics through Flask's ``current_app`` and do nothing outside an app, or when metrics were
never set up for it, and they never raise: a metric must not turn a good answer into a fault.

Under gunicorn every worker is its own process, so counters live in prometheus-client's
multi-process mode: with ``PROMETHEUS_MULTIPROC_DIR`` set *before prometheus_client is first
imported* (config/gunicorn.conf.py does it), each worker writes its values to files there and
``/metrics`` adds up all workers. Without it (tests, ``voicebot chat``) values live in the
app's own ``CollectorRegistry``.
"""

from __future__ import annotations

import hmac
import logging
import os
import re

from flask import Blueprint, Flask, Response, abort, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

log = logging.getLogger("voicebot.metrics")
bp = Blueprint("metrics", __name__)

EXTENSION = "voicebot.metrics"
CHANNELS = ("voice", "sms")
# Turn latency: Twilio gives up at 15 s; the target is tens of milliseconds.
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
# Twilio's MessageStatus values (status callbacks of the texts we send); others read "other".
MESSAGE_STATUSES = (
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
    "failed", "read", "canceled", "partially_delivered",
)  # fmt: skip
TEXT_KINDS = ("code", "text", "reply", "unknown")
_LABEL = re.compile(r"[^a-z0-9_-]+")


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def label(value: object, limit: int = 40) -> str:
    """A bounded, harmless label value: label cardinality must not grow with caller input."""
    text = _LABEL.sub("_", str(value or "").strip().lower())[:limit].strip("_")
    return text or "unknown"


class Metrics:
    """The metric objects of one app."""

    def __init__(self, token: str = "") -> None:
        self.token = token
        self.registry = CollectorRegistry(auto_describe=True)
        self.turn_seconds = Histogram(
            "voicebot_turn_seconds",
            "Time to answer one webhook turn (lock, state, dialog, render), by channel.",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.transfers = Counter(
            "voicebot_transfers",
            "Conversations handed to a person at support, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.guard_blocks = Counter(
            "voicebot_guard_blocks",
            "Outgoing texts the disclosure guard refused to let out.",
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "voicebot_fallbacks",
            "Webhooks answered by the fault fallback (apology + support), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.calls_ended = Counter(
            "voicebot_calls_ended",
            "Calls that ended, by Twilio's final CallStatus (from status callbacks).",
            ["status"],
            registry=self.registry,
        )
        self.texts_status = Counter(
            "voicebot_texts_status",
            "Delivery outcomes of the texts we sent (Twilio's message status callbacks), by "
            "MessageStatus, ErrorCode (30006 landline, 30007 filtered...; none) and kind "
            "(code, text, reply to a text, unknown).",
            ["status", "error_code", "kind"],
            registry=self.registry,
        )
        # Series that exist from the start read as 0 instead of being absent.
        for channel in CHANNELS:
            self.turn_seconds.labels(channel)
            self.fallbacks.labels(channel)
        for status in CALL_STATUSES:
            self.calls_ended.labels(status)

    def allows(self, authorization: str) -> bool:
        """True for ``Authorization: Bearer <token>`` with the configured token."""
        if not self.token:
            return False
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text format: all workers' values in multi-process mode, else this app's."""
        directory = multiprocess_dir()
        if directory:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def init_app(app: Flask, token: str | None = None) -> Metrics:
    """Attach a Metrics to the app (once) and serve it at /metrics. The token comes from
    METRICS_TOKEN."""
    existing = app.extensions.get(EXTENSION)
    if existing is not None:
        return existing
    metrics = Metrics(os.environ.get("METRICS_TOKEN", "") if token is None else token)
    app.extensions[EXTENSION] = metrics
    app.register_blueprint(bp)
    return metrics


def current() -> Metrics | None:
    """The current app's metrics, or None outside an app or when not set up."""
    try:
        from flask import current_app, has_app_context

        if not has_app_context():
            return None
        return current_app.extensions.get(EXTENSION)
    except Exception:  # pragma: no cover - metrics never break a turn
        return None


# ---- the hot path: one call each, never raising ----------------------------------------


def observe_turn(channel: str, seconds: float) -> None:
    metrics = current()
    if metrics is None:
        return
    try:
        metrics.turn_seconds.labels(channel if channel in CHANNELS else "other").observe(seconds)
    except Exception:
        log.exception("metrics: observe_turn failed")


def count_transfer(reason: str) -> None:
    metrics = current()
    if metrics is None:
        return
    try:
        metrics.transfers.labels(label(reason)).inc()
    except Exception:
        log.exception("metrics: count_transfer failed")


def count_guard_block() -> None:
    metrics = current()
    if metrics is None:
        return
    try:
        metrics.guard_blocks.inc()
    except Exception:
        log.exception("metrics: count_guard_block failed")


def count_fallback(channel: str) -> None:
    metrics = current()
    if metrics is None:
        return
    try:
        metrics.fallbacks.labels(channel if channel in CHANNELS else "other").inc()
    except Exception:
        log.exception("metrics: count_fallback failed")


def count_call_end(status: str) -> None:
    metrics = current()
    if metrics is None:
        return
    try:
        metrics.calls_ended.labels(status if status in CALL_STATUSES else "other").inc()
    except Exception:
        log.exception("metrics: count_call_end failed")


def count_text_status(status: str, error_code: str, kind: str) -> None:
    """One status callback of a text we sent. The error code is Twilio's (digits only, at
    most 5: label values stay few); "none" when there is none."""
    metrics = current()
    if metrics is None:
        return
    try:
        code = error_code if error_code.isdigit() and len(error_code) <= 5 else "other"
        metrics.texts_status.labels(
            status if status in MESSAGE_STATUSES else "other",
            code if error_code else "none",
            kind if kind in TEXT_KINDS else "unknown",
        ).inc()
    except Exception:
        log.exception("metrics: count_text_status failed")


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    mine = current()
    if mine is None or not mine.token:
        abort(404)
    if not mine.allows(request.headers.get("Authorization", "")):
        return Response(
            "unauthorized\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = mine.exposition()
    return Response(body, status=200, headers={"Content-Type": content_type})

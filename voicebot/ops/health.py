"""Liveness and readiness, for load balancers and `voicebot serve` smoke checks.

* ``GET /healthz``: the process is up.
* ``GET /readyz``: 200 when Redis and the database answer, else 503 naming which is down
  (by name and error class only: no URLs, hosts or passwords).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from voicebot.services import services

log = logging.getLogger("voicebot.ops")
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    return "ok\n", 200, {"Content-Type": "text/plain"}


def _check_redis() -> str:
    current = services()
    try:
        current.store.ping()
    except Exception as exc:  # the class name only: messages can carry hosts and URLs
        log.warning("readyz: redis unavailable (%s)", type(exc).__name__)
        return f"down ({type(exc).__name__})"
    # No REDIS_URL: the stand-in answers, but only this process shares its conversations.
    return "ok" if current.settings.redis_url else "in-process (this worker only)"


def _check_database() -> str:
    try:
        with services().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readyz: database unavailable (%s)", type(exc).__name__)
        return f"down ({type(exc).__name__})"
    return "ok"


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = {"redis": _check_redis(), "database": _check_database()}
    down = sorted(name for name, result in checks.items() if result.startswith("down"))
    body = {"status": "unavailable" if down else "ready", "checks": checks}
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

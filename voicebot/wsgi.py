"""The WSGI entry point: ``gunicorn -c config/gunicorn.conf.py`` (which names voicebot.wsgi:app).

Imported in each gunicorn worker (no preload), after config/gunicorn.conf.py has set
PROMETHEUS_MULTIPROC_DIR, so metrics use prometheus-client's multi-process mode and no Redis or
database connection is shared across a fork. Settings come from the environment, checked as
`voicebot serve` checks them: a missing TWILIO_AUTH_TOKEN or an out-of-date schema stops the
worker from booting with a message that says why.
"""

from __future__ import annotations

import os

from voicebot.ops import logs
from voicebot.policy import redact

logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
redact.install("voicebot")

from voicebot.app import create_app  # noqa: E402  (logging first: app start-up logs too)
from voicebot.config import load_settings, require_for_serving  # noqa: E402
from voicebot.records import db  # noqa: E402


def build():  # type: ignore[no-untyped-def]
    settings = load_settings()
    require_for_serving(settings)
    engine = db.make_engine(settings.database_url)
    try:
        db.check_schema(engine)
    finally:
        engine.dispose()
    return create_app(settings)


app = build()

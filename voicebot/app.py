"""The application factory: settings in, a wired Flask app out. No module-level state.

As in Flask's tutorial and CTFd: `create_app` builds the services, then calls each area's
`init_app` explicitly, so what an app is made of can be read in one place.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from voicebot import services
from voicebot.agents import console
from voicebot.channels import sms, voice
from voicebot.config import Settings, load_settings
from voicebot.ops import health, metrics, status
from voicebot.policy import redact


def create_app(
    settings: Settings | None = None, upgrade_db: bool = False, **overrides: Any
) -> Flask:
    """Build the web app. Tests pass their own Settings; production reads the environment."""
    settings = settings or load_settings()
    if overrides:
        settings = settings.with_overrides(**overrides)
    settings = _with_secret_key(settings)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        TESTING=settings.testing,
        SECRET_KEY=settings.secret_key,
        # Twilio's webhooks are a few KB: larger bodies are refused (413) before being read.
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        MAX_FORM_PARTS=settings.max_form_fields,
    )
    _trust_proxies(app, settings)
    services.init_app(app, services.build_services(settings, upgrade_db=upgrade_db))
    metrics.init_app(app)
    health.init_app(app)
    status.init_app(app)
    voice.init_app(app)
    sms.init_app(app)
    console.init_app(app)
    logging.getLogger("voicebot").setLevel(logging.INFO)
    redact.install("voicebot")  # every path (serve, chat, tests) logs scrubbed records
    return app


def _with_secret_key(settings: Settings) -> Settings:
    """VOICEBOT_SECRET_KEY, or a key made for this process: the agents' sessions and the SMS
    conversation ids need one, and a fixed default would be known to everyone. (Commands that
    serve no console, chat and flows test, set the variable after reading the settings.)"""
    if settings.secret_key:
        return settings
    late = os.environ.get("VOICEBOT_SECRET_KEY", "").strip()
    if late:
        return settings.with_overrides(secret_key=late)
    logging.getLogger("voicebot.agents").warning(
        "VOICEBOT_SECRET_KEY is not set: agents' sessions, SMS conversations and one-time "
        "codes use a random key that ends with this process (and is not shared between "
        "workers, so a code cannot be said in a call by another one); set it in production"
    )
    return settings.with_overrides(secret_key=secrets.token_hex(32))


def _trust_proxies(app: Flask, settings: Settings) -> None:
    """X-Forwarded-* only from the proxies the operator says are there: anyone can send those
    headers, and they decide the address the agents' sign-in throttle counts and, without
    VOICEBOT_PUBLIC_URL, the URL a Twilio signature is checked against (a request signed for
    another host of the same Twilio account must not pass here)."""
    hops = settings.trusted_proxies
    if not hops:
        return
    rebuild = 0 if settings.public_url else hops  # the public URL, when set, is the only one
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, x_for=hops, x_proto=rebuild, x_host=rebuild, x_port=rebuild, x_prefix=rebuild
    )

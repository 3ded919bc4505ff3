"""The application factory: settings in, a wired Flask app out. No module-level state.

As in Flask's tutorial and CTFd: `create_app` builds the services, then calls each area's
`init_app` explicitly, so what an app is made of can be read in one place.
"""

from __future__ import annotations

import logging
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
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(TESTING=settings.testing, MAX_CONTENT_LENGTH=1024 * 1024)
    # Behind one proxy or tunnel: the client's address from X-Forwarded-For (the agents'
    # sign-in counts failures per address) and, unless VOICEBOT_PUBLIC_URL says it, the public
    # URL Twilio signed, rebuilt from the other X-Forwarded-* headers.
    rebuild = 0 if settings.public_url else 1
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, x_for=1, x_proto=rebuild, x_host=rebuild, x_port=rebuild, x_prefix=rebuild
    )
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

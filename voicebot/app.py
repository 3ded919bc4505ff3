"""The application factory: settings in, a wired Flask app out. No module-level state."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from voicebot import redact
from voicebot.config import Settings, load_settings
from voicebot.conversations import Conversations
from voicebot.dialog.engine import Dialog
from voicebot.dialog.flow import Flow
from voicebot.dialog.intents import CONFIRM_BELOW
from voicebot.flows_check import load_checked, public_guard
from voicebot.guard import Guard
from voicebot.memo import Bounded
from voicebot.outbound import Outbound, OutboxFile, Transport, TwilioMessages
from voicebot.records import db
from voicebot.records.handoffs import Handoffs
from voicebot.records.optouts import OptOuts
from voicebot.sessions.store import SessionStore, connect
from voicebot.verification import Verifier
from voicebot.wording import district_facts


@dataclass
class Services:
    """Everything a request needs, built once per app (app.extensions["voicebot"])."""

    settings: Settings
    flow: Flow
    dialog: Dialog
    store: SessionStore
    engine: Engine
    optouts: OptOuts
    guard: Guard
    outbound: Outbound
    conversations: Conversations
    handoffs: Handoffs
    # Answers that are the same for every caller, rendered once (voice.render_text).
    rendered: Bounded[Hashable, str] = field(default_factory=lambda: Bounded(1024))


def build_services(settings: Settings, upgrade_db: bool = False) -> Services:
    guard = public_guard(settings)
    flow, matcher = load_checked(settings, guard=guard)
    engine = db.make_engine(settings.database_url)
    if upgrade_db:
        db.upgrade(engine)
    sessions = db.make_sessions(engine)
    optouts = OptOuts(sessions)
    handoffs = Handoffs(sessions)
    transport: Transport
    if settings.twilio_account_sid and settings.twilio_number and settings.twilio_auth_token:
        transport = TwilioMessages(
            settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_number
        )
    else:
        transport = OutboxFile(settings.outbox)
    outbound = Outbound(transport, optouts, guard)
    store = SessionStore(connect(settings.redis_url))
    dialog = Dialog(
        flow=flow,
        classifier=matcher,
        facts=district_facts(settings),
        max_retries=settings.max_retries,
        confirm_below=CONFIRM_BELOW,
        verifier=Verifier(sessions, store.redis, outbound),
    )
    return Services(
        settings=settings,
        flow=flow,
        dialog=dialog,
        store=store,
        engine=engine,
        optouts=optouts,
        guard=guard,
        outbound=outbound,
        conversations=Conversations(dialog, store, outbound, handoffs=handoffs),
        handoffs=handoffs,
    )


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
    app.wsgi_app = ProxyFix(
        app.wsgi_app, x_for=1, x_proto=rebuild, x_host=rebuild, x_port=rebuild, x_prefix=rebuild
    )
    app.extensions["voicebot"] = build_services(settings, upgrade_db=upgrade_db)

    from voicebot.channels import health, ops, sms, voice

    app.register_blueprint(health.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(sms.bp)
    from voicebot.agents import console

    app.register_blueprint(console.bp)
    logging.getLogger("voicebot").setLevel(logging.INFO)
    redact.install("voicebot")  # every path (serve, chat, tests) logs scrubbed records
    return app

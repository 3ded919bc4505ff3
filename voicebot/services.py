"""What a request needs, built once per app, and the one way a view reaches it.

`create_app` builds a :class:`Services` from the settings (flow and intents checked, the
database, Redis, the verifier, the outbound texts) and keeps it on the app;
:func:`services` is how blueprints, CLI commands and tests get it back, typed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from voicebot.channels.calls import CallTransport, CodeCalls, OutboxCalls, TwilioCalls
from voicebot.channels.delivery import Deliveries
from voicebot.channels.outbound import (
    Outbound,
    OutboxFile,
    TextLimits,
    Transport,
    TwilioMessages,
    status_callback_url,
)
from voicebot.channels.segments import plain
from voicebot.config import Settings
from voicebot.config.facts import district_facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.flow import Flow, FlowError, load_flow
from voicebot.dialog.flows_check import check_flow
from voicebot.dialog.intents import CONFIRM_BELOW, IntentDataError, IntentMatcher
from voicebot.dialog.languages import load_words
from voicebot.memo import Bounded
from voicebot.policy.guard import Guard
from voicebot.records import db
from voicebot.records.handoffs import Handoffs
from voicebot.records.optouts import OptOuts
from voicebot.sessions.conversations import Conversations
from voicebot.sessions.store import SessionStore, connect
from voicebot.verification import Verifier

EXTENSION = "voicebot"

# The longest hours wording (in plain SMS characters) that still lets "AGENT" while support
# is closed, and "what are your hours?", be answered in one text of at most two segments.
HOURS_TEXT_MAX = 80


@dataclass
class Services:
    """Everything a request needs, built once per app (see :func:`services`)."""

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
    # What became of the texts sent (Twilio's message status callbacks).
    deliveries: Deliveries
    # Answers that are the same for every caller, rendered once (voice.render_text).
    rendered: Bounded[Hashable, str] = field(default_factory=lambda: Bounded(1024))


def services(app: Flask | None = None) -> Services:
    """The app's services: the current app's inside a request or app context."""
    return (app or current_app).extensions[EXTENSION]


def init_app(app: Flask, built: Services) -> None:
    app.extensions[EXTENSION] = built


def public_guard(settings: Settings) -> Guard:
    """The disclosure guard, with the district's own public numbers allowed."""
    return Guard([settings.district.support_number, settings.district.helpline_number])


def _check_hours_text(settings: Settings) -> None:
    for lang, text in settings.support_hours_text.items():
        length = len(plain(text))  # as texted
        if length > HOURS_TEXT_MAX:
            raise FlowError(
                f"[support.hours_text] {lang}: {length} characters, at most "
                f"{HOURS_TEXT_MAX}: the texts that tell parents the hours would not fit in "
                "one message"
            )


def load_checked(
    settings: Settings, directory: Path | None = None, guard: Guard | None = None
) -> tuple[Flow, IntentMatcher]:
    """The flow and the intent matcher from `directory` (default: the configured one),
    checked as the app checks them: `voicebot flows check`, `voicebot serve` and
    `create_app` all load flows/ through here."""
    directory = directory or settings.flows_dir
    _check_hours_text(settings)
    flow = load_flow(directory, settings.languages)
    try:
        matcher = IntentMatcher.from_directory(directory / "intents")
    except IntentDataError as exc:
        raise FlowError(str(exc)) from exc
    words = load_words(directory / "languages.toml")  # tells a Spanish sentence from English
    check_flow(flow, district_facts(settings), guard or public_guard(settings), words)
    return flow, matcher


def _transport(settings: Settings) -> Transport:
    """Twilio's REST API with an account configured; otherwise the outbox file (trials)."""
    if settings.twilio_account_sid and settings.twilio_number and settings.twilio_auth_token:
        return TwilioMessages(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
        )
    return OutboxFile(settings.outbox)


def _call_transport(settings: Settings) -> CallTransport | None:
    """How a one-time code is said in a phone call: Twilio's REST API from the help line's
    number with an account configured (None without a number to call from: no calls);
    otherwise the outbox file, like the texts."""
    if settings.twilio_account_sid and settings.twilio_auth_token:
        if not settings.twilio_number:
            return None
        return TwilioCalls(
            settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_number
        )
    return OutboxCalls(settings.outbox)


def _verifier(
    settings: Settings, sessions: sessionmaker, store: SessionStore, outbound: Outbound
) -> Verifier:
    """The verifier, its codes derived from the secret key, able to say a code in a call in
    the caller's language (the voices the help line itself speaks with)."""
    transport = _call_transport(settings)
    voices = {
        lang: (settings.say_voice[lang], settings.speech_language[lang])
        for lang in settings.say_voice
    }
    calls = CodeCalls(transport, outbound, outbound.guard, voices) if transport else None
    return Verifier(sessions, store.redis, outbound, secret=settings.secret_key, calls=calls)


def build_services(settings: Settings, upgrade_db: bool = False) -> Services:
    guard = public_guard(settings)
    flow, matcher = load_checked(settings, guard=guard)
    engine = db.make_engine(settings.database_url)
    if upgrade_db:
        db.upgrade(engine)
    sessions = db.make_sessions(engine)
    optouts = OptOuts(sessions)
    handoffs = Handoffs(sessions, zone=ZoneInfo(settings.timezone))
    store = SessionStore(connect(settings.redis_url))
    # Texts per number are counted in the store's Redis: shared by every web process.
    limits = TextLimits(
        settings.texts_per_hour, settings.texts_per_day, settings.code_calls_per_day
    )
    deliveries = Deliveries(store.redis)
    outbound = Outbound(
        _transport(settings),
        optouts,
        guard,
        store.redis,
        limits,
        key=settings.secret_key,
        deliveries=deliveries,
        status_callback=status_callback_url(settings.public_url),
    )
    dialog = Dialog(
        flow=flow,
        classifier=matcher,
        facts=district_facts(settings),
        max_retries=settings.max_retries,
        confirm_below=CONFIRM_BELOW,
        verifier=_verifier(settings, sessions, store, outbound),
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
        conversations=Conversations(
            dialog,
            store,
            outbound,
            handoffs=handoffs,
            zone=ZoneInfo(settings.timezone),
            deliveries=deliveries,
        ),
        handoffs=handoffs,
        deliveries=deliveries,
    )

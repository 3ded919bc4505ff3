"""The support agents' web console, under /agents.

Security, in one place:

* **Sign-in** with a name and password from ``voicebot agents add NAME``; passwords are
  hashed with Werkzeug's scrypt (``werkzeug.security``). Five failed sign-ins lock the
  account for fifteen minutes; twenty from one address (any names) refuse that address for
  fifteen minutes, counted in Redis; the page never says whether a name exists.
* **Sessions** are Flask's signed cookie: HttpOnly, SameSite=Lax, Secure (except in tests
  and on plain http to localhost), twelve hours at most, cleared at sign-in (no fixation)
  and dropped when the agent's password changes.
* **CSRF**: every POST under /agents needs a token (Flask-WTF's ``generate_csrf`` /
  ``validate_csrf``, applied in this blueprint only, so Twilio's webhooks are untouched)
  and, when the browser sends one, a same-origin ``Origin`` header.
* **Twilio and agents never mix**: nothing here looks at X-Twilio-Signature, and the
  webhooks check only the signature, never this session.
* **Headers**: a Content-Security-Policy without inline script (the refresh script carries a
  per-response nonce), X-Frame-Options DENY, no caching, no sniffing, no referrer.
* **No secrets on a page**: transcripts are scrubbed again when shown
  (:func:`voicebot.records.handoffs.console_safe`) and escaped by Jinja.

The secret key comes from ``VOICEBOT_SECRET_KEY`` (or the app's own SECRET_KEY); without one a
random key is made per process, with a warning: sessions then end on restart and are not
shared between workers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import ValidationError

from voicebot.records.handoffs import Handoffs, console_safe, is_locked
from voicebot.services import services

log = logging.getLogger("voicebot.agents")

bp = Blueprint(
    "agents",
    __name__,
    url_prefix="/agents",
    template_folder="templates",
    static_folder="static",
)

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
# Failed sign-ins from one address, whatever the names, before that address is refused for
# LOCK_FOR: the per-account lock alone lets one address try 4 passwords on every account.
ADDRESS_FAILURES = 20
SESSION_HOURS = 12  # a sign-in lasts one shift, however often the list refreshes
REFRESH_SECONDS = 10
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
PUBLIC_ENDPOINTS = {"agents.sign_in", "agents.static"}
# Compared against when a name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


# ---- app setup ---------------------------------------------------------------------------


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure unless testing or on plain http to this machine.

    Only the console has sessions: Twilio's webhooks (nearly every request) get Flask's
    null session and no cookie work.
    """

    def open_session(self, app: Flask, req: Request) -> Any:  # type: ignore[override]
        prefix = bp.url_prefix or "/agents"
        if req.path != prefix and not req.path.startswith(prefix + "/"):
            return None  # Flask then uses make_null_session: nothing to read or sign
        return super().open_session(app, req)

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        if app.testing:
            return bool(app.config.get("SESSION_COOKIE_SECURE"))
        try:
            host = (urlsplit(request.host_url).hostname or "").lower()
            if request.scheme == "http" and host in LOOPBACK:
                return False
        except RuntimeError:  # outside a request
            pass
        return True


def init_app(app: Flask) -> None:
    """The console's blueprint, its session cookie and its secret key."""
    key = os.environ.get("VOICEBOT_SECRET_KEY") or app.config.get("SECRET_KEY")
    if not key:
        log.warning(
            "VOICEBOT_SECRET_KEY is not set: agents' sessions use a random key that ends "
            "with this process (and is not shared between workers); set it in production"
        )
        key = secrets.token_hex(32)
    app.config.update(
        SECRET_KEY=key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="vb_agent",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", SESSION_HOURS * 3600)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = ConsoleSessionInterface()
    app.register_blueprint(bp)


def _handoffs() -> Handoffs:
    return services().handoffs


def _fingerprint(password_hash: str) -> str:
    """Ties a session to the password it was opened with: a new password ends it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _zone() -> ZoneInfo:
    """Times on the console are the district's (support hours' time zone)."""
    return ZoneInfo(services().settings.support_hours.timezone)


# ---- every request -----------------------------------------------------------------------


@bp.before_request
def _guard() -> Any:
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            log.warning("agents: cross-origin %s refused", request.method)
            abort(403)
        try:
            validate_csrf(request.form.get("csrf_token", ""))
        except ValidationError as exc:
            raise CSRFError(str(exc.args[0] if exc.args else "CSRF check failed")) from exc
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    agent = _signed_in_agent()
    if agent is None:
        session.clear()
        if request.endpoint == "agents.live_fragment" or request.method != "GET":
            abort(401)
        return redirect(url_for("agents.sign_in"))
    g.agent_name = agent.name
    return None


def _signed_in_agent():  # type: ignore[no-untyped-def]
    agent_id = session.get("agent_id")
    if not isinstance(agent_id, int):
        return None
    since = session.get("since")
    # (a minute's grace before: another server's clock may run a little ahead)
    if not isinstance(since, int) or not -60 <= time.time() - since < SESSION_HOURS * 3600:
        return None  # a shift's sign-in: the list's refreshes must not keep it open for ever
    agent = _handoffs().agent_by_id(agent_id)
    if agent is None or session.get("agent_key") != _fingerprint(agent.password_hash):
        return None
    return agent


@bp.after_request
def _headers(response: Response) -> Response:
    nonce = getattr(g, "csp_nonce", "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    response.vary.add("Cookie")
    return response


NEEDS_HTTPS = (
    "This page was opened over plain HTTP, and the console's session cookie is only sent "
    "over HTTPS, so signing in cannot work here. Open it with https:// instead."
)


def _over_plain_http() -> bool:
    """The session cookie is Secure but this request is plain HTTP (a LAN or staging
    address): the browser will never send it back, so every form would "expire"."""
    if services().settings.public_url.startswith("https://"):
        return False  # TLS ends at a proxy in front (VOICEBOT_PUBLIC_URL says https)
    return request.scheme == "http" and bool(
        current_app.session_interface.get_cookie_secure(current_app)
    )


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    log.warning("agents: CSRF check failed on %s", request.path)
    message = (
        NEEDS_HTTPS
        if _over_plain_http()
        else "This form expired. Go back, reload the page and try again."
    )
    return render_template("agents/error.html", message=message), 400


@bp.app_template_global("csrf_field")
def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


@bp.app_template_filter("console_time")
def console_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # with the zone ("EST"): an agent elsewhere, or a log in UTC, must not be misread
    return value.astimezone(_zone()).strftime("%a %b %d, %I:%M %p %Z").replace(" 0", " ")


@bp.app_template_filter("topic_label")
def topic_label(topic: str) -> str:
    """A topic as the help line names it ("the last four digits of the SSN..."), not its id."""
    name = str(topic or "")
    return services().flow.label(name, "en") or name.replace("_", " ")


@bp.app_template_filter("console_safe")
def _console_safe(value: str) -> str:
    return console_safe(value)


# ---- sign-in -----------------------------------------------------------------------------

FAILED = (
    "Wrong name or password, or too many tries. "
    "After 5 failed tries an account is locked for 15 minutes."
)
TOO_MANY = "Too many failed sign-ins from this network. Please try again in 15 minutes."


def _address_key() -> str:
    """Where failed sign-ins from this address are counted (the address itself is hashed).
    Behind a proxy it is the client's, from X-Forwarded-For (ProxyFix, see create_app)."""
    address = (request.remote_addr or "unknown").encode()
    return "vb:signin:" + hashlib.sha256(address).hexdigest()[:24]


def _address_refused() -> bool:
    """Too many failures from here lately. Redis down: not refused (the per-account lock
    still holds), and the operator sees why in the log."""
    try:
        counted = services().store.redis.get(_address_key())
        return int(counted or 0) >= ADDRESS_FAILURES
    except Exception:
        log.exception("agents: could not read the sign-in count for this address")
        return False


def _count_address_failure() -> None:
    try:
        pipe = services().store.redis.pipeline()
        pipe.set(_address_key(), 0, ex=int(LOCK_FOR.total_seconds()), nx=True)
        pipe.incr(_address_key())
        pipe.execute()
    except Exception:
        log.exception("agents: could not count a failed sign-in for this address")


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Any:
    if request.method == "GET":
        return render_template(
            "agents/login.html", error=NEEDS_HTTPS if _over_plain_http() else None
        )
    if _address_refused():  # before any password hashing: that is what a flood costs us
        log.warning("agents: sign-in refused (too many failures from this address)")
        return render_template("agents/login.html", error=TOO_MANY), 429
    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")[:1024]
    handoffs = _handoffs()
    agent = handoffs.agent(name) if name else None
    if agent is None:
        check_password_hash(_DUMMY_HASH, password)
        _count_address_failure()
        log.info("agents: sign-in refused (unknown name)")
        return render_template("agents/login.html", error=FAILED), 401
    if is_locked(agent):
        _count_address_failure()
        log.warning("agents: sign-in refused for agent %s (locked)", agent.id)
        return render_template("agents/login.html", error=FAILED), 401
    if not check_password_hash(agent.password_hash, password):
        handoffs.sign_in_failed(agent.id, MAX_FAILURES, LOCK_FOR)
        _count_address_failure()
        log.warning("agents: sign-in refused for agent %s (password)", agent.id)
        return render_template("agents/login.html", error=FAILED), 401
    handoffs.sign_in_succeeded(agent.id)
    session.clear()
    session.permanent = True
    session["agent_id"] = agent.id
    session["agent_key"] = _fingerprint(agent.password_hash)
    session["since"] = int(time.time())
    log.info("agents: agent %s signed in", agent.id)
    return redirect(url_for("agents.live"), code=303)


@bp.post("/logout")
def sign_out() -> Any:
    session.clear()
    return redirect(url_for("agents.sign_in"), code=303)


# ---- the live list -----------------------------------------------------------------------


def _live_context() -> dict[str, Any]:
    handoffs = _handoffs()
    return {
        "transfers": handoffs.recent(limit=100),
        "callbacks": handoffs.callbacks(open_only=True),
        "done": handoffs.callbacks(open_only=False, limit=400),
    }


@bp.get("/")
def live() -> str:
    context = _live_context()
    context["done"] = [c for c in context["done"] if c["done_at"] is not None][:20]
    return render_template("agents/live.html", refresh=REFRESH_SECONDS, **context)


@bp.get("/live")
def live_fragment() -> str:
    context = _live_context()
    context["done"] = [c for c in context["done"] if c["done_at"] is not None][:20]
    return render_template("agents/_live.html", **context)


@bp.post("/callbacks/<int:callback_id>/done")
def mark_done(callback_id: int) -> Any:
    if not _handoffs().mark_done(callback_id, g.agent_name):
        abort(404)
    log.info("agents: callback %s marked done", callback_id)
    return redirect(url_for("agents.live"), code=303)


# ---- statistics --------------------------------------------------------------------------


def _calls_for_day(day: str) -> int:
    from voicebot.ops.status import call_stats

    store = services().store
    return call_stats(store.redis, day).get("calls", 0)


def _day_bars(days: list[Any], width: int = 640, height: int = 200) -> dict[str, Any]:
    """Grouped bars per day: calls and texts."""
    peak = max([max(d.calls, d.texts) for d in days] + [1])
    slot = width / len(days)
    bar = max(2.0, slot * 0.38)
    bars = []
    for index, day in enumerate(days):
        x = index * slot + slot * 0.1
        for offset, (kind, value) in enumerate((("calls", day.calls), ("texts", day.texts))):
            h = round(height * value / peak, 1)
            bars.append(
                {
                    "x": round(x + offset * bar, 1),
                    "y": round(height - h, 1),
                    "w": round(bar, 1),
                    "h": h,
                    "kind": kind,
                    "title": f"{day.day:%b %d}: {value} {kind}",
                }
            )
    labels = [
        {"x": round(i * slot + slot / 2, 1), "text": f"{d.day:%m/%d}"}
        for i, d in enumerate(days)
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0
    ]
    return {"width": width, "height": height, "bars": bars, "labels": labels, "peak": peak}


def _containment_bars(days: list[Any], width: int = 640, height: int = 160) -> dict[str, Any]:
    slot = width / len(days)
    bars = []
    for index, day in enumerate(days):
        share = day.containment
        if share is None:
            continue
        h = round(height * share, 1)
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "y": round(height - h, 1),
                "w": round(slot * 0.7, 1),
                "h": h,
                "title": f"{day.day:%b %d}: {share:.0%} of {day.conversations} resolved",
            }
        )
    labels = [
        {"x": round(i * slot + slot / 2, 1), "text": f"{d.day:%m/%d}"}
        for i, d in enumerate(days)
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0
    ]
    return {"width": width, "height": height, "bars": bars, "labels": labels}


def _horizontal(items: list[tuple[str, int]], width: int = 640, row: int = 26) -> dict[str, Any]:
    peak = max([n for _, n in items] + [1])
    label_width = 260
    rows = []
    for index, (label, value) in enumerate(items):
        rows.append(
            {
                "y": index * row,
                "label": label,
                "w": round((width - label_width - 50) * value / peak, 1),
                "value": value,
            }
        )
    return {
        "width": width,
        "height": max(row, row * len(items)),
        "rows": rows,
        "x0": label_width,
        "row": row,
    }


@bp.get("/stats")
def stats() -> str:
    try:
        days = int(request.args.get("days", "14"))
    except ValueError:
        days = 14
    days = days if days in (7, 14, 30, 90) else 14
    services().conversations.flush_counts()  # up to the minute
    numbers = _handoffs().stats(days=days, calls_for_day=_calls_for_day)
    topics = [(topic_label(topic), n) for topic, n in numbers.transfers_by_topic]
    questions = [(f"{console_safe(text)} ({lang})", n) for text, lang, n in numbers.unrecognised]
    return render_template(
        "agents/stats.html",
        numbers=numbers,
        days=days,
        per_day=_day_bars(numbers.days),
        containment=_containment_bars(numbers.days),
        topics=_horizontal(topics),
        questions=_horizontal(questions),
    )

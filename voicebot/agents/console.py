"""The support agents' web console, under /agents.

Security, in one place:

* **Sign-in** with a name and password from ``voicebot agents add NAME``; passwords are
  hashed with Werkzeug's scrypt (``werkzeug.security``). Five failed sign-ins lock the
  account for fifteen minutes; twenty tries that fail from one address (any names, any kind
  of failure) refuse that address for fifteen minutes: each try is counted in Redis by one
  Lua script before any hashing, and a success gives its try back. The page never says
  whether a name exists, and its timing does not either: every answer (a name that does not
  exist, a locked account, a wrong or the right password) does one scrypt check, and every
  refusal the same counting.
* **Lockouts cannot keep an agent out**: the addresses an agent signed in from in the last
  30 days are remembered in Redis as keyed hashes (:mod:`voicebot.agents.gate`). The right
  password from one of them signs a locked agent in and lifts the lock, unless five wrong
  passwords for that agent came from that address within the lock's fifteen minutes. From
  any other address a locked account is refused with the same message as a wrong password.
  So a stranger can still lock an agent out of new places (a hotel, a new phone network),
  not out of the school or home they work from.
* **Sessions** are Flask's signed cookie: HttpOnly, SameSite=Lax, Secure (except in tests
  and on plain http to localhost), twelve hours at most, cleared at sign-in (no fixation)
  and dropped when the agent's password changes or the account is removed (the cookie holds
  a fingerprint of the password hash). The cookie also holds a random session id that must
  be open in Redis (``vb:console:session:<id>``, twelve hours) on every request; signing out
  deletes it, so a copy of the cookie stops working then. Redis unreachable: pages answer
  503 and keep the cookie.
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
shared between workers, and known addresses (hashed with it) are forgotten.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import redis as redis_lib
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

from voicebot.agents import gate
from voicebot.ops.outcomes import counts as outcome_counts
from voicebot.ops.outcomes import district_day
from voicebot.records.handoffs import Agent, Day, Handoffs, Stats, console_safe, is_locked
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
# Compared against when a name is unknown, so a wrong name takes as long as a wrong password
# (made like agents' hashes, so it costs the same).
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16), method="scrypt")


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
    """The console's blueprint and its session cookie, signed with the settings' secret key
    (VOICEBOT_SECRET_KEY, or the one create_app made, with its warning)."""
    app.config.update(
        SECRET_KEY=services(app).settings.secret_key,
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


def _redis() -> redis_lib.Redis:
    return services().store.redis


def _fingerprint(password_hash: str) -> str:
    """Ties a session to the password it was opened with: a new password ends it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _zone() -> ZoneInfo:
    """Times and days on the console are the district's ([district] timezone)."""
    return ZoneInfo(services().settings.timezone)


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
    try:
        agent = _signed_in_agent()
    except redis_lib.RedisError:  # the cookie is kept: the session may well be fine
        log.exception("agents: could not check a session")
        return render_template("agents/error.html", message=UNAVAILABLE), 503
    if agent is None:
        session.clear()
        if request.endpoint == "agents.live_fragment" or request.method != "GET":
            abort(401)
        return redirect(url_for("agents.sign_in"))
    g.agent_name = agent.name
    return None


def _signed_in_agent() -> Agent | None:
    """The cookie's agent, if its session is still open on the server (not signed out),
    within its shift, and opened with the agent's current password."""
    agent_id, session_id = session.get("agent_id"), session.get("sid")
    if not isinstance(agent_id, int) or not isinstance(session_id, str):
        return None
    since = session.get("since")
    # (a minute's grace before: another server's clock may run a little ahead)
    if not isinstance(since, int) or not -60 <= time.time() - since < SESSION_HOURS * 3600:
        return None  # a shift's sign-in: the list's refreshes must not keep it open for ever
    if gate.session_agent(_redis(), session_id) != agent_id:
        return None  # signed out (a copy of the cookie must not outlive it), or expired
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
UNAVAILABLE = "The console cannot reach its session store just now. Please try again shortly."


def _refused(agent: Agent | None, where: str, why: str) -> tuple[str, int]:
    """Every wrong name or password does the same work: a per-account count in SQL (none
    for a name that does not exist, or while locked) and one per (agent, address) in Redis."""
    _handoffs().sign_in_failed(agent.id if agent else 0, MAX_FAILURES, LOCK_FOR)
    try:
        gate.count_miss(_redis(), where, LOCK_FOR)
    except redis_lib.RedisError:
        log.exception("agents: could not count a wrong password for this address")
    if agent is None:
        log.info("agents: sign-in refused (unknown name)")
    else:
        log.warning("agents: sign-in refused for agent %s (%s)", agent.id, why)
    return render_template("agents/login.html", error=FAILED), 401


def _lock_lifted(agent: Agent, where: str) -> bool:
    """A locked agent with the right password from an address they signed in from before
    (and few wrong passwords from there lately) gets in. Redis down: it stays locked."""
    try:
        return gate.may_lift_lock(_redis(), agent.id, where, MAX_FAILURES)
    except redis_lib.RedisError:
        log.exception("agents: could not read the known addresses")
        return False


def _open_session(agent: Agent, where: str, lifted: bool) -> Any:
    """A fresh cookie (no fixation) holding a new server-side session id."""
    redis = _redis()
    try:
        session_id = gate.open_session(redis, agent.id, timedelta(hours=SESSION_HOURS))
        previous = session.get("sid")
        if isinstance(previous, str):
            gate.close_session(redis, previous)  # this browser's earlier sign-in ends
    except redis_lib.RedisError:
        log.exception("agents: could not open a session for agent %s", agent.id)
        return render_template("agents/error.html", message=UNAVAILABLE), 503
    _handoffs().sign_in_succeeded(agent.id)  # also lifts a lockout
    try:
        gate.give_back_try(redis, request.remote_addr or "unknown")
        gate.remember(redis, agent.id, where)
    except redis_lib.RedisError:
        log.exception("agents: could not note a sign-in for this address")
    session.clear()
    session.permanent = True
    session["agent_id"] = agent.id
    session["agent_key"] = _fingerprint(agent.password_hash)
    session["since"] = int(time.time())
    session["sid"] = session_id
    note = " from a known address (lock lifted)" if lifted else ""
    log.info("agents: agent %s signed in%s", agent.id, note)
    return redirect(url_for("agents.live"), code=303)


def _take_try(address: str) -> bool:
    """Counts this try from this address, or says it is one too many. Redis down: taken
    (the per-account lock still holds), and the operator sees why in the log."""
    try:
        return gate.take_try(_redis(), address, ADDRESS_FAILURES, LOCK_FOR)
    except redis_lib.RedisError:
        log.exception("agents: could not count a sign-in try for this address")
        return True


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Any:
    if request.method == "GET":
        return render_template(
            "agents/login.html", error=NEEDS_HTTPS if _over_plain_http() else None
        )
    # Behind a proxy the address is the client's, from X-Forwarded-For (ProxyFix, create_app).
    address = request.remote_addr or "unknown"
    if not _take_try(address):  # before any password hashing: that is what a flood costs us
        log.warning("agents: sign-in refused (too many failures from this address)")
        return render_template("agents/login.html", error=TOO_MANY), 429
    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")[:1024]
    agent = _handoffs().agent(name) if name else None
    # One scrypt check on every path (unknown name, locked, wrong or right password), so the
    # time of the answer does not tell a locked agent from a name that does not exist.
    right = check_password_hash(agent.password_hash if agent else _DUMMY_HASH, password)
    where = gate.pseudonym(
        current_app.secret_key or "",
        agent.id if agent else 0,
        agent.created_at if agent else None,
        address,
    )
    locked = agent is not None and is_locked(agent)
    if agent is None or not right:
        return _refused(agent, where, "locked" if locked else "password")
    if locked and not _lock_lifted(agent, where):
        log.warning("agents: sign-in refused for agent %s (locked, new address)", agent.id)
        return render_template("agents/login.html", error=FAILED), 401
    return _open_session(agent, where, lifted=locked)


@bp.post("/logout")
def sign_out() -> Any:
    """Ends the session on the server too: a copy of the cookie stops working now."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        try:
            gate.close_session(_redis(), session_id)
        except redis_lib.RedisError:
            log.exception("agents: could not end a session on the server")
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
# What the page and its CSV show, one row per day: (heading, how to read it off a Day).
OUTCOME_LABELS = {
    "answered": "Answered",
    "handed_to_person": "Handed to a person",
    "callback": "Callback asked",
    "abandoned": "Abandoned",
    "not_understood": "Not understood",
}
COLUMNS: tuple[tuple[str, Callable[[Day], Any]], ...] = (
    ("Calls", lambda d: d.calls),
    ("Texts", lambda d: d.texts),
    ("Transfers", lambda d: d.transfers),
    ("Callback requests", lambda d: d.callbacks),
    *((label, partial(Day.outcome, name=name)) for name, label in OUTCOME_LABELS.items()),
    ("Contained", lambda d: share(d.contained)),
)
DEFAULT_DAYS = 14
MOST_DAYS = 366
PERIODS = (7, 14, 30, 90)


def share(value: float | None) -> str:
    """A share as the page writes it: "33%", or "n/a" with nothing to divide by."""
    return "n/a" if value is None else f"{value * 100:.0f}%"


class PeriodError(ValueError):
    """A from/to the page cannot show; the message is for the agent."""


def _today() -> date:
    return district_day(_zone())


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(f"The {name} date must be a date written YYYY-MM-DD.") from None


def period(args: Any, today: date) -> tuple[date, date]:
    """The days asked for: ?from=YYYY-MM-DD&to=YYYY-MM-DD (either may be left out), or
    ?days=7|14|30|90 up to today; by default the last 14 days."""
    start, end = str(args.get("from", "") or ""), str(args.get("to", "") or "")
    if not start and not end:
        days = str(args.get("days", ""))
        count = int(days) if days.isdigit() and int(days) in PERIODS else DEFAULT_DAYS
        return today - timedelta(days=count - 1), today
    last = _day(end, "to") if end else today
    first = _day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodError("The from date is after the to date.")
    if (last - first).days + 1 > MOST_DAYS:
        raise PeriodError(f"A period can be at most {MOST_DAYS} days long.")
    return first, last


def _numbers(first: date, last: date) -> Stats:
    svc = services()
    svc.conversations.flush_counts()  # up to the minute
    return _handoffs().stats(
        first=first,
        last=last,
        zone=_zone(),
        outcomes_for=lambda a, b: outcome_counts(svc.store.redis, a, b),
    )


def _period_or_error() -> tuple[date, date, str]:
    today = _today()
    try:
        first, last = period(request.args, today)
    except PeriodError as error:
        return today - timedelta(days=DEFAULT_DAYS - 1), today, str(error)
    return first, last, ""


@bp.get("/stats")
def stats() -> Any:
    first, last, error = _period_or_error()
    numbers = _numbers(first, last)
    topics = [(topic_label(topic), n) for topic, n in numbers.transfers_by_topic]
    questions = [(f"{console_safe(text)} ({lang})", n) for text, lang, n in numbers.unrecognised]
    html = render_template(
        "agents/stats.html",
        numbers=numbers,
        first=first,
        last=last,
        error=error,
        asked={"from": request.args.get("from", ""), "to": request.args.get("to", "")},
        periods=PERIODS,
        zone_name=services().settings.timezone,
        columns=COLUMNS,
        outcome_labels=OUTCOME_LABELS,
        share=share,
        per_day=_day_bars(numbers.days),
        outcomes=_outcome_bars(numbers.days),
        topics=_horizontal(topics),
        questions=_horizontal(questions),
    )
    return (html, 400) if error else html


@bp.get("/stats.csv")
def stats_csv() -> Response:
    """The page's per-day table as CSV. Only numbers and dates: nothing a caller said (the
    unrecognised questions stay on the page), so no cell can start a spreadsheet formula."""
    try:
        first, last = period(request.args, _today())
    except PeriodError as error:
        return Response(f"{error}\n", status=400, mimetype="text/plain")
    numbers = _numbers(first, last)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Day", *(heading for heading, _ in COLUMNS)])
    for day in numbers.days:
        writer.writerow([day.day.isoformat(), *(_cell(read(day)) for _, read in COLUMNS)])
    name = f"help-line-statistics-{first.isoformat()}-to-{last.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet never runs as a formula (=, +, -, @ first: quoted)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _labels(days: list[Any], slot: float) -> list[dict[str, Any]]:
    return [
        {"x": round(i * slot + slot / 2, 1), "text": f"{d.day:%m/%d}"}
        for i, d in enumerate(days)
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0
    ]


def _day_bars(days: list[Any], width: int = 640, height: int = 200) -> dict[str, Any]:
    """Grouped bars per day: calls and texts."""
    peak = max([max(d.calls, d.texts) for d in days] + [1])
    slot = width / len(days)
    bar = max(0.5, slot * 0.38)
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
    return _chart(width, height, bars, _labels(days, slot), peak)


def _chart(
    width: int, height: int, bars: list[dict[str, Any]], labels: Any, peak: float
) -> dict[str, Any]:
    """What a bar chart's template needs."""
    return {"width": width, "height": height, "bars": bars, "labels": labels, "peak": peak}


def _outcome_bars(days: list[Day], width: int = 640, height: int = 160) -> dict[str, Any]:
    """One bar per day, its height the day's conversations, in one part per outcome."""
    peak = max([d.ended for d in days] + [1])
    slot = width / len(days)
    bars = []
    for index, day in enumerate(days):
        top = float(height)
        for name, label in OUTCOME_LABELS.items():
            count = day.outcome(name)
            if not count:
                continue
            h = round(height * count / peak, 1)
            top -= h
            bars.append(
                {
                    "x": round(index * slot + slot * 0.15, 1),
                    "y": round(top, 1),
                    "w": round(max(0.5, slot * 0.7), 1),
                    "h": h,
                    "kind": name,
                    "title": f"{day.day:%b %d}: {count} {label.lower()}",
                }
            )
    return _chart(width, height, bars, _labels(days, slot), peak)


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

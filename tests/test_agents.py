"""The agents' console: sign-in, lockout, CSRF, cookies, pages, and that no secret shows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.helpers import AUTH_TOKEN, Call, Thread
from voicebot.agents.console import ADDRESS_FAILURES, hash_password
from voicebot.app import create_app
from voicebot.cli.agents import agents as agents_cli
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.records import db
from voicebot.records.handoffs import Agent, Handoffs, clean_question, console_safe
from voicebot.services import services

PASSWORD = "correct horse battery staple"
SECRETS = ["123-45-6789", "123456789", "03/14/2015", "482913", "6789", "2015-03-14"]
LEAKY = [
    "Caller asked about: a forgotten password",
    "Caller said: my SSN is 123-45-6789, or 123456789",
    "Caller said: birth date 03/14/2015 (2015-03-14)",
    "Caller keyed the code 482913 and last four 6789",
    "<script>alert('x')</script> & more",
]


def wire(app: Flask) -> Handoffs:
    """The console's records, as create_app wires them."""
    return services(app).handoffs


@pytest.fixture
def handoffs(app: Flask) -> Handoffs:
    handoffs = wire(app)
    handoffs.add_agent("amy", hash_password(PASSWORD))
    return handoffs


@pytest.fixture
def client(app: Flask, handoffs: Handoffs) -> FlaskClient:
    return app.test_client()


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, name: str = "amy", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/agents/login")
    return client.post(
        "/agents/login",
        data={"name": name, "password": password, "csrf_token": token(page.get_data(as_text=True))},
    )


def signed_in(client: FlaskClient) -> FlaskClient:
    response = sign_in(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def assert_no_secrets(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html, f"{secret!r} appears in the console"
    # What callers said (transcripts, questions) holds no run of three or more digits at all.
    for cell in re.findall(r'<td class="transcript">(.*?)</td>', html, flags=re.S):
        text = re.sub(r"<[^>]+>", " ", cell)
        assert not re.search(r"\d(?:[\s\-./]*\d){2,}", text), text


# ---- sign-in -----------------------------------------------------------------------------


def test_the_console_needs_a_signed_in_agent(client: FlaskClient) -> None:
    response = client.get("/agents/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/agents/login")
    assert client.get("/agents/stats").status_code == 302
    assert client.get("/agents/live").status_code == 401


def sign_in_from(client: FlaskClient, address: str, name: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/agents/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/agents/login",
        data={"name": name, "password": password, "csrf_token": token(page.get_data(as_text=True))},
        environ_base={"REMOTE_ADDR": address},
    )


def test_many_failed_sign_ins_from_one_address_refuse_that_address_only(
    client: FlaskClient, handoffs: Handoffs
) -> None:
    for number in range(ADDRESS_FAILURES):  # a spray over many names: no account gets locked
        failed = sign_in_from(client, "203.0.113.7", f"agent{number}", "guess")
        assert failed.status_code == 401
    refused = sign_in_from(client, "203.0.113.7", "amy", PASSWORD)
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.get_data(
        as_text=True
    )
    assert sign_in_from(client, "198.51.100.2", "amy", PASSWORD).status_code == 303


@pytest.mark.parametrize("public_url", ["", "https://help.example.org"])
def test_the_address_behind_a_proxy_is_the_one_counted(settings: Settings, public_url: str) -> None:
    app = create_app(settings, upgrade_db=True, public_url=public_url, trusted_proxies=1)
    wire(app).add_agent("amy", hash_password(PASSWORD))
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for number in range(ADDRESS_FAILURES):
        page = client.get("/agents/login", environ_base=proxy)
        client.post(
            "/agents/login",
            data={"name": f"x{number}", "password": "guess", "csrf_token": token(page.text)},
            environ_base=proxy,
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert sign_in_from(client, "10.0.0.1", "amy", PASSWORD).status_code == 303, (
        "others behind the same proxy still sign in"
    )


def test_sign_in_with_the_right_password_opens_the_console(client: FlaskClient) -> None:
    response = sign_in(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/agents/")
    page = client.get("/agents/")
    assert page.status_code == 200
    assert "Live list" in page.get_data(as_text=True)
    assert "amy" in page.get_data(as_text=True)


def test_signing_in_over_plain_http_away_from_this_machine_says_to_use_https(
    app: Flask, handoffs: Handoffs
) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True  # as in production, where the cookie is Secure
    lan = app.test_client()
    page = lan.get("/agents/login", base_url="http://helpline.lan:8000")
    assert "Open it with https://" in page.get_data(as_text=True)
    browser = app.test_client()  # a browser sends no Secure cookie back over http
    posted = browser.post(
        "/agents/login",
        data={
            "name": "amy",
            "password": PASSWORD,
            "csrf_token": token(page.get_data(as_text=True)),
        },
        base_url="http://helpline.lan:8000",
    )
    assert posted.status_code == 400 and "Open it with https://" in posted.get_data(as_text=True)
    secure = app.test_client().get("/agents/login", base_url="https://helpline.example.org")
    assert "Open it with https://" not in secure.get_data(as_text=True)


def test_behind_a_tls_proxy_named_by_the_public_url_there_is_no_https_warning(
    settings: Settings,
) -> None:
    proxied = create_app(settings, upgrade_db=True, public_url="https://helpline.example.org")
    proxied.config["SESSION_COOKIE_SECURE"] = True
    page = proxied.test_client().get("/agents/login", base_url="http://10.0.0.5:8000")
    assert "Open it with https://" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "password"), [("amy", "wrong password!"), ("nobody", PASSWORD), ("", "")]
)
def test_a_wrong_name_or_password_is_refused_the_same_way(
    client: FlaskClient, name: str, password: str
) -> None:
    response = sign_in(client, name, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong name or password" in html
    assert client.get("/agents/").status_code == 302


def test_five_failures_lock_the_account_for_fifteen_minutes(
    client: FlaskClient, handoffs: Handoffs
) -> None:
    for _ in range(5):
        assert sign_in(client, "amy", "not the password").status_code == 401
    # Locked: even the right password is refused.
    assert sign_in(client, "amy", PASSWORD).status_code == 401
    agent = handoffs.agent("amy")
    assert agent is not None and agent.locked_until is not None
    locked_until = agent.locked_until.replace(tzinfo=agent.locked_until.tzinfo or UTC)
    assert timedelta(minutes=14) < locked_until - datetime.now(UTC) <= timedelta(minutes=15)
    # Fifteen minutes later it opens again.
    with handoffs.sessions.begin() as session:
        session.execute(
            update(Agent)
            .where(Agent.name == "amy")
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert sign_in(client, "amy", PASSWORD).status_code == 303


def test_a_success_clears_the_failure_count(client: FlaskClient, handoffs: Handoffs) -> None:
    for _ in range(4):
        sign_in(client, "amy", "nope nope nope")
    assert sign_in(client, "amy", PASSWORD).status_code == 303
    agent = handoffs.agent("amy")
    assert agent is not None and agent.failed_logins == 0 and agent.locked_until is None


def test_passwords_are_stored_hashed_with_scrypt(handoffs: Handoffs) -> None:
    agent = handoffs.agent("amy")
    assert agent is not None
    assert agent.password_hash.startswith("scrypt:")
    assert PASSWORD not in agent.password_hash


def test_a_new_password_ends_open_sessions(client: FlaskClient, handoffs: Handoffs) -> None:
    signed_in(client)
    assert client.get("/agents/").status_code == 200
    handoffs.set_password("amy", hash_password("another long password"))
    assert client.get("/agents/").status_code == 302


def test_a_sign_in_lasts_one_shift_however_often_the_list_refreshes(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from voicebot.agents.console import SESSION_HOURS

    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the cookie's own clock moves too
    signed_in(client)
    for _ in range(SESSION_HOURS - 1):
        now[0] += 3600
        assert client.get("/agents/").status_code == 200  # each refresh renews the cookie
    now[0] += 3600 + 1
    response = client.get("/agents/")
    assert response.status_code == 302 and "/agents/login" in response.headers["Location"]
    signed_in(client)  # signing in again opens a new shift
    assert client.get("/agents/").status_code == 200


def test_sign_out(client: FlaskClient) -> None:
    signed_in(client)
    page = client.get("/agents/").get_data(as_text=True)
    assert client.post("/agents/logout", data={"csrf_token": token(page)}).status_code == 303
    assert client.get("/agents/").status_code == 302


# ---- CSRF, cookies, headers --------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/agents/login")
    response = client.post("/agents/login", data={"name": "amy", "password": PASSWORD})
    assert response.status_code == 400
    response = client.post(
        "/agents/login", data={"name": "amy", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert client.get("/agents/").status_code == 302


def test_mark_done_without_csrf_is_refused(client: FlaskClient, handoffs: Handoffs) -> None:
    callback = handoffs.add_callback("+14045550123", "forgot_password", "en", None)
    signed_in(client)
    assert client.post(f"/agents/callbacks/{callback}/done").status_code == 400
    assert handoffs.callbacks(open_only=True)[0]["id"] == callback


def test_a_cross_origin_post_is_refused(client: FlaskClient, handoffs: Handoffs) -> None:
    callback = handoffs.add_callback("+14045550123", "forgot_password", "en", None)
    signed_in(client)
    page = client.get("/agents/").get_data(as_text=True)
    response = client.post(
        f"/agents/callbacks/{callback}/done",
        data={"csrf_token": token(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert handoffs.callbacks(open_only=True)


def test_the_session_cookie_is_http_only_same_site_and_secure_outside_tests(
    app: Flask, handoffs: Handoffs
) -> None:
    app.testing = False
    client = app.test_client()
    page = client.get("/agents/login", base_url="https://console.example.org")
    cookie = page.headers.get("Set-Cookie", "")
    assert cookie.startswith("vb_agent=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie
    # Plain http on this machine (a developer trying it): no Secure, or the browser drops it.
    local = app.test_client().get("/agents/login", base_url="http://localhost")
    assert "Secure" not in local.headers.get("Set-Cookie", "")
    assert "HttpOnly" in local.headers.get("Set-Cookie", "")


def test_console_pages_send_security_headers(client: FlaskClient) -> None:
    signed_in(client)
    for path in ("/agents/login", "/agents/", "/agents/stats", "/agents/live"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "no-store" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_only_script_carries_the_responses_nonce(client: FlaskClient) -> None:
    signed_in(client)
    response = client.get("/agents/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert nonce
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts == [f' nonce="{nonce.group(1)}"']
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    assert " style=" not in html


# ---- Twilio and the console never mix ----------------------------------------------------


def test_a_twilio_signature_never_opens_the_console(app: Flask, handoffs: Handoffs) -> None:
    twilio = SignedClient(app, AUTH_TOKEN)
    response = twilio.post("/agents/", {"CallSid": "CA" + "0" * 32})
    assert response.status_code in (400, 401, 405)  # no CSRF token, no session
    signer = twilio.validator
    for path in ("/agents/", "/agents/stats", "/agents/live"):
        signature = signer.compute_signature("http://localhost" + path, {})
        response = app.test_client().get(path, headers={"X-Twilio-Signature": signature})
        assert response.status_code in (302, 401), path
        assert "Live list" not in response.get_data(as_text=True)


def test_an_agent_session_never_satisfies_a_webhook(client: FlaskClient) -> None:
    signed_in(client)
    for path in ("/voice", "/sms", "/voice/status"):
        response = client.post(
            path,
            data={"CallSid": "CA" + "1" * 32, "From": "+14045550123", "Body": "hi"},
        )
        assert response.status_code == 403, path


# ---- the live list -----------------------------------------------------------------------


def test_the_live_list_shows_transfers_with_their_context(
    client: FlaskClient, handoffs: Handoffs
) -> None:
    first = handoffs.record("sms", "SMx", "caller_asked", "activation_key", "en", True, ["a"])
    reference = handoffs.record(
        "voice", "CA" + "2" * 32, "not_understood", "forgot_username", "es", False, LEAKY
    )
    handoffs.set_outcome(reference, "no-answer")
    handoffs.add_callback("+14045550123", "forgot_username", "es", reference)
    signed_in(client)
    for path in ("/agents/", "/agents/live"):
        html = client.get(path).get_data(as_text=True)
        row = html[html.index(f'id="transfer-{reference}"') :]
        row = row[: row.index("</tr>")]
        for expected in ("a forgotten username", "not understood", "Spanish", "no-answer", "call"):
            assert expected in row, expected
        assert '<td class="no">no</td>' in row
        assert "Caller asked about: a forgotten password" in row
        assert html.index(f'id="transfer-{reference}"') < html.index(f'id="transfer-{first}"')
        assert "+14045550123" in html  # agents need the number to call back
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert" in html
        assert_no_secrets(html)


def test_mark_done(client: FlaskClient, handoffs: Handoffs) -> None:
    callback = handoffs.add_callback("+14045550123", "forgot_password", "en", None)
    signed_in(client)
    page = client.get("/agents/").get_data(as_text=True)
    assert f'id="callback-{callback}"' in page
    response = client.post(f"/agents/callbacks/{callback}/done", data={"csrf_token": token(page)})
    assert response.status_code == 303
    assert handoffs.callbacks(open_only=True) == []
    done = handoffs.callbacks(open_only=False)[0]
    assert done["done_by"] == "amy" and done["done_at"] is not None
    page = client.get("/agents/").get_data(as_text=True)
    assert f'id="callback-{callback}"' not in page
    assert f'id="done-callback-{callback}"' in page
    # Twice, or an unknown one: 404.
    again = client.post(f"/agents/callbacks/{callback}/done", data={"csrf_token": token(page)})
    assert again.status_code == 404


# ---- statistics --------------------------------------------------------------------------


def test_the_statistics_page_draws_its_charts(client: FlaskClient, handoffs: Handoffs) -> None:
    for _ in range(3):
        handoffs.note_conversation("voice")
    handoffs.note_conversation("sms")
    handoffs.record("voice", "CA1", "caller_asked", "forgot_password", "en", False, [])
    handoffs.note_unrecognised("Where is the school bus?", "en")
    handoffs.note_unrecognised("where is the school bus", "en")
    handoffs.note_unrecognised("my code is 482913", "en")
    handoffs.note_unrecognised("born 03/14/2015", "en")
    signed_in(client)
    html = client.get("/agents/stats").get_data(as_text=True)
    assert html.count("<svg") == 4
    assert "a forgotten password" in html
    assert "where is the school bus (en)" in html
    # counted straight into the records: no conversation ran, so none has an outcome yet
    assert 'id="contained">n/a<' in html
    assert_no_secrets(html)
    assert client.get("/agents/stats?days=90").status_code == 200
    assert client.get("/agents/stats?days=nonsense").status_code == 200


def test_stats_read_each_days_outcomes(handoffs: Handoffs) -> None:
    today = date(2026, 1, 10)
    handoffs.note_conversation("sms", when=today)
    outcomes = {today: {"sms:answered": 1, "voice:not_understood": 1}}
    numbers = handoffs.stats(days=2, outcomes_for=lambda first, last: outcomes, today=today)
    assert [(d.calls, d.texts) for d in numbers.days] == [(0, 0), (0, 1)]
    assert numbers.contained == 0.5  # one answered of two
    assert handoffs.stats(days=1, today=date(2020, 1, 1)).contained is None


# ---- scrubbing ---------------------------------------------------------------------------


@pytest.mark.parametrize("line", LEAKY)
def test_console_safe_keeps_no_secret(line: str) -> None:
    cleaned = console_safe(line)
    for secret in SECRETS:
        assert secret not in cleaned


def test_number_words_are_scrubbed_too() -> None:
    assert "seven" not in console_safe("last four six seven eight nine")
    assert console_safe("I have two kids") == "I have two kids"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Where is my kid's   report card?", "where is my kid's report card"),
        ("code 123", None),
        ("one two three four five", None),
        ("March 14, 2015", None),
        ("may fourteenth twenty fifteen", None),  # a birth date in words, "may" as the month
        ("born in march on the fourteenth twenty fifteen i think", None),
        ("fourteenth of the third twenty fifteen", None),
        ("en marzo el dia catorce", None),
        ("una pregunta sobre el almuerzo", "una pregunta sobre el almuerzo"),
        ("hello?", None),  # a greeting, not a question
        ("no sé", None),
        ("x" * 300, "x" * 100),
        ("   ", None),
    ],
)
def test_unrecognised_questions_are_kept_only_when_safe(text: str, kept: str | None) -> None:
    assert clean_question(text) == kept


def test_words_are_kept_as_questions_only_where_callers_ask_their_own(
    app: Flask, twilio: SignedClient
) -> None:
    from tests.helpers import Call, Thread

    call = Call(twilio)
    call.start()
    call.say("I need the last four of my daughter's social")
    call.say("her name is maria lopez")  # at the student-number question
    other = Call(twilio, CallSid="CA" + "8" * 32)
    other.start()
    other.say("I can't log in")
    other.say("it's for maria lopez")  # at "username, password or locked?"
    thread = Thread(twilio)
    thread.text("last 4 of my kid's social please")
    thread.text("maria lopez grady high")
    elsewhere = Call(twilio, CallSid="CA" + "9" * 32)
    elsewhere.start()
    elsewhere.say("purple elephants dancing")  # at the main menu: kept, to improve the line
    kept = kept_questions(app)
    assert "purple elephants dancing" in kept
    assert not any("maria" in text for text in kept), kept


def test_portal_questions_the_help_page_does_not_answer_are_kept_too(
    app: Flask, twilio: SignedClient
) -> None:
    call = Call(twilio)
    call.start()
    reply = call.say("is there an app for the parent portal on my phone")
    assert "don't have an answer" in reply.text
    assert "is there an app for the parent portal on my phone" in kept_questions(app)


def kept_questions(app: Flask) -> list[str]:
    return [text for text, _, _ in services(app).handoffs.stats(days=1).unrecognised]


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("does Maria Lopez get aftercare", "does [name] [name] get aftercare"),
        ("is sam's teacher nice", "is [name]'s teacher nice"),
        ("Maria Lopez", None),  # nothing but a child's name: not a question
        ("Ana Maria de la Cruz aftercare", "ana [name] [name] aftercare"),  # De La Cruz
        ("will the portal bill me", "will the portal bill me"),  # a pupil called Will Portal
        ("purple elephants dancing", "purple elephants dancing"),
        # written without the roster's accents, apostrophes, hyphens or capitals
        ("does jose nunez get aftercare", "does [name] [name] get aftercare"),
        ("is o'brien in aftercare", "is [name] in aftercare"),
        ("does ZOË have aftercare", "does [name] have aftercare"),
        ("does xavier lee get aftercare", "does [name] get aftercare"),  # Xavier-Lee
        ("is o'brien's teacher nice", "is [name] teacher nice"),
        ("is o brien in aftercare", "is [name] in aftercare"),
        ("does jose\u0301 get aftercare", "does [name] get aftercare"),  # accent as a mark
        ("does soren get aftercare", "does [name] get aftercare"),  # Søren
        ("is mary ann lee in aftercare", "is [name] in aftercare"),  # Mary Ann, Ann Lee
        ("aftercare " * 9 + "ok for maria", "aftercare " * 9 + "ok for"),  # no half a name
    ],
)
def test_a_childs_name_in_an_unrecognised_question_is_shown_as_name(
    app: Flask, roster: None, tmp_path: Path, said: str, kept: str | None
) -> None:
    from tests.helpers import ROSTER
    from voicebot.records.roster import import_roster

    more = tmp_path / "more.csv"  # names that are also the help line's words, and a long one
    more.write_text(
        ROSTER.splitlines()[0]
        + "\n2222222,Will,Portal,2014-01-01,,Ann Portal,404-555-0199,,Grady HS\n"
        + "3333333,Maria,De La Cruz,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
        + "4444444,José,Núñez,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
        + "5555556,Zoë,O'Brien,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
        + "6666666,Xavier-Lee,Brown,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
        + "7777777,Søren,Mary Ann,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
        + "8888888,Ann Lee,Smith,2014-01-01,,Lu Cruz,404-555-0198,,Grady HS\n"
    )
    svc = services(app)
    assert import_roster(svc.engine, more).committed
    svc.handoffs.note_unrecognised(said, "en", svc.conversations.dialog.classifier.knows)
    assert kept_questions(app) == ([kept] if kept else [])


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        (
            "hi my name is Rosa Díaz and I need aftercare",
            "hi my name is [name] and i need aftercare",
        ),
        ("this is Rosa, where is the bus", "this is [name], where is the bus"),
        ("me llamo Rosa Díaz y necesito ayuda", "me llamo [name] y necesito ayuda"),
        (
            "I'm Rosa's grandmother, is there aftercare",
            "i'm [name] grandmother, is there aftercare",
        ),
        ("this is about the bus", "this is about the bus"),  # the help line's words stay
        # however the name is written, and whatever its words are
        ("im Rosa Diaz and I need aftercare", "im [name] and i need aftercare"),
        ("my name is J. Smith where is the bus", "my name is [name] where is the bus"),
        ("my name is Mary-Jane Watson, aftercare?", "my name is [name], aftercare"),
        ("me llamo María José García López", "me llamo [name]"),
        ("my name is Will Kowalski", "my name is [name]"),
        ("my name is Rosa de la Cruz", "my name is [name]"),
        ("my name is Иван Петров", "my name is [name]"),
        ("this is 李明 about aftercare", "this is [name] about aftercare"),
    ],
)
def test_a_callers_own_name_is_kept_as_name_though_the_roster_lacks_it(
    app: Flask, said: str, kept: str
) -> None:
    svc = services(app)
    svc.handoffs.note_unrecognised(said, "en", svc.conversations.dialog.classifier.knows)
    assert kept_questions(app) == [kept]


def test_a_child_named_in_a_question_at_the_menu_is_kept_as_name(
    app: Flask, roster: None, twilio: SignedClient
) -> None:
    call = Call(twilio)
    call.start()
    call.say("purple elephants ate Maria Lopez")  # at the main menu: not understood, kept
    assert kept_questions(app) == ["purple elephants ate [name] [name]"]


def test_a_failed_name_lookup_logs_no_word_the_caller_said(
    app: Flask, roster: None, twilio: SignedClient, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    from tests.helpers import logged_text

    with services(app).engine.begin() as db:
        db.execute(text("ALTER TABLE students RENAME TO students_away"))
    caplog.set_level("DEBUG")
    call = Call(twilio)
    call.start()
    reply = call.say("purple elephants ate Maria Lopez")
    assert reply.asks  # the caller carries on
    assert "could not keep" in caplog.text  # the failure itself is logged...
    logged = logged_text(caplog).lower()
    assert "maria" not in logged and "elephants" not in logged  # ...but not their words


def test_without_the_help_lines_words_no_name_is_looked_up(
    handoffs: Handoffs, roster: None
) -> None:
    handoffs.note_unrecognised("does maria get aftercare", "en")
    assert [text for text, _, _ in handoffs.stats(days=1).unrecognised] == [
        "does maria get aftercare"
    ]


def test_transcripts_are_scrubbed_when_stored(handoffs: Handoffs) -> None:
    reference = handoffs.record("voice", "CA3", "error", "other", "en", False, LEAKY)
    with handoffs.sessions() as session:
        from voicebot.records.handoffs import Handoff

        stored = session.scalar(select(Handoff.transcript).where(Handoff.id == reference))
    for secret in SECRETS:
        assert secret not in stored


def test_add_callback_wants_e164(handoffs: Handoffs) -> None:
    with pytest.raises(ValueError):
        handoffs.add_callback("404-555-0123", "x", "en", None)
    reference = handoffs.record("voice", "CA4", "caller_asked", "other", "en", False, [])
    handoffs.set_outcome(reference, "exploded<script>")
    assert handoffs.recent()[0]["outcome"] == "unknown"


# ---- the command -------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'agents.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VOICEBOT_OUTBOX", str(tmp_path / "outbox.jsonl"))
    monkeypatch.setenv("VOICEBOT_INSTANCE_DIR", str(tmp_path / "instance"))
    db.upgrade(db.make_engine(url))
    return url


def test_agents_add_prompts_twice_and_hashes(cli_env: str) -> None:
    runner = CliRunner()
    result = runner.invoke(agents_cli, ["add", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    handoffs = Handoffs(db.make_sessions(db.make_engine(cli_env)))
    agent = handoffs.agent("bob")
    assert agent is not None and agent.password_hash.startswith("scrypt:")
    again = runner.invoke(agents_cli, ["add", "bob", "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "exists" in again.output
    mismatch = runner.invoke(agents_cli, ["add", "carl"], input=f"{PASSWORD}\nother one!!!!\n")
    assert mismatch.exit_code != 0


def test_agents_add_from_stdin_and_rules(cli_env: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(agents_cli, ["add", "dee", "--password-stdin"], input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    short = runner.invoke(agents_cli, ["add", "eve", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    bad = runner.invoke(agents_cli, ["add", "<b>", "--password-stdin"], input=PASSWORD + "\n")
    assert bad.exit_code != 0
    reset = runner.invoke(
        agents_cli, ["reset", "dee", "--password-stdin"], input="a brand new password\n"
    )
    assert reset.exit_code == 0, reset.output


def test_agents_list_shows_who_can_sign_in_and_remove_takes_access_away(cli_env: str) -> None:
    runner = CliRunner()
    for name in ("dee", "fay"):
        added = runner.invoke(agents_cli, ["add", name, "--password-stdin"], input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
    handoffs = Handoffs(db.make_sessions(db.make_engine(cli_env)))
    fay = handoffs.agent("fay")
    assert fay is not None
    for _ in range(5):
        handoffs.sign_in_failed(fay.id, max_failures=5, lock_for=timedelta(minutes=15))
    listed = runner.invoke(agents_cli, ["list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("dee\tactive") and lines[1].startswith("fay\tlocked until")
    assert lines[1].endswith(f"id {fay.id}")
    assert PASSWORD not in listed.output and "scrypt" not in listed.output
    removed = runner.invoke(agents_cli, ["remove", "fay"])
    assert removed.exit_code == 0 and handoffs.agent("fay") is None
    missing = runner.invoke(agents_cli, ["remove", "fay"])
    assert missing.exit_code != 0 and "no agent 'fay'" in missing.output


def test_a_text_transfer_shows_the_number_was_texted_and_times_carry_their_zone(
    client: FlaskClient, handoffs: Handoffs
) -> None:
    reference = handoffs.record(
        "sms", "sms:abc", "caller_asked", "forgot_password", "en", False, ["Asked about: x"]
    )
    signed_in(client)
    html = client.get("/agents/").get_data(as_text=True)
    row = html[html.index(f'id="transfer-{reference}"') :]
    row = row[: row.index("</tr>")]
    assert "number texted" in row and "pending" not in row
    assert re.search(r"\d{1,2}:\d\d [AP]M E[SD]T<", row), row


def test_a_removed_agents_session_ends_at_the_next_page(
    client: FlaskClient, handoffs: Handoffs
) -> None:
    signed_in(client)
    assert client.get("/agents/").status_code == 200
    assert handoffs.remove_agent("amy")
    page = client.get("/agents/")
    assert page.status_code in (302, 303) and "/agents/login" in page.headers["Location"]


# ---- a real transfer through the voice webhook ---------------------------------------------


def test_a_transfer_through_the_voice_webhook_reaches_the_console(
    app: Flask, client: FlaskClient, handoffs: Handoffs
) -> None:
    call = Call(SignedClient(app, AUTH_TOKEN))
    call.start()
    # A caller who blurts out secrets before asking for a person.
    reply = call.say("my social is 123-45-6789 and she was born 03/14/2015")
    if reply.asks:
        call.press("0")
    transfers = handoffs.recent()
    assert transfers, "the voice webhook recorded no handoff"
    signed_in(client)
    html = client.get("/agents/").get_data(as_text=True)
    row = html[html.index(f'id="transfer-{transfers[0]["reference"]}"') :]
    assert '<td class="no">no</td>' in row[: row.index("</tr>")]  # the caller was not verified
    assert_no_secrets(html)


@pytest.mark.parametrize(
    "said",
    [
        "my password is bluesky",
        "mi contraseña es gatito",
        "the key they gave me is abc",
        "email ana@example.org",
    ],
)
def test_unrecognised_questions_that_may_hold_a_credential_are_not_kept(said: str) -> None:
    from voicebot.records.handoffs import clean_question

    assert clean_question(said) is None
    assert clean_question("when does the bus come") == "when does the bus come"


def counted_today(app: Flask) -> tuple[int, int]:
    """Today's (calls, texts) as the database has them."""
    today = services(app).handoffs.stats(days=1).days[-1]
    return today.calls, today.texts


def test_calls_and_texts_are_counted_on_the_statistics_page(
    app: Flask, client: FlaskClient, twilio: SignedClient
) -> None:
    """New conversations are counted in Redis during the turn and moved to SQL in batches;
    the statistics page moves what is pending before it reads."""
    Call(twilio).start()
    second = Call(twilio)
    second.start()
    second.say("I forgot my password")  # a later turn of a call is not a new conversation
    Thread(twilio).text("hi")

    signed_in(client)
    html = client.get("/agents/stats?days=7").get_data(as_text=True)

    assert counted_today(app) == (2, 1)
    # 3 conversations: only the password question was answered (the others left at the menu)
    assert 'id="contained">33%<' in html


def test_counts_that_cannot_reach_the_database_wait_for_the_next_move(
    app: Flask, twilio: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(app)
    Call(twilio).start()
    Thread(twilio).text("hi")

    def database_down(*args: object, **kwargs: object) -> None:
        raise OSError("database is down")

    with monkeypatch.context() as patched:
        patched.setattr(svc.handoffs, "note_conversation", database_down)
        svc.conversations.flush_counts()  # logs, never raises
    assert counted_today(app)[0] == 0

    svc.conversations.flush_counts()
    svc.conversations.flush_counts()  # nothing is added twice
    assert counted_today(app) == (1, 1)


def test_each_web_process_moves_its_counts_to_the_database_by_itself(
    app: Flask, twilio: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(app)
    svc.conversations.flush_every = 0  # every turn is "a minute later"

    assert Call(twilio).start().asks
    assert counted_today(app)[0] == 1

    def redis_down() -> None:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(svc.store, "drain_counts", redis_down)
    reply = Thread(twilio).text("hi")
    assert reply.status == 200 and reply.heard.messages, "a failed move never costs a parent"


def test_counts_moved_before_a_failure_are_not_added_again(
    app: Flask, twilio: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(app)
    Call(twilio).start()
    Thread(twilio).text("hi")
    written: list[str] = []
    real = svc.handoffs.note_conversation

    def second_write_fails(channel: str, when: object = None, count: int = 1) -> None:
        if written:
            raise OSError("database is down")
        written.append(channel)
        real(channel, when, count)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(svc.handoffs, "note_conversation", second_write_fails)
        svc.conversations.flush_counts()
    svc.conversations.flush_counts()

    assert len(written) == 1
    assert counted_today(app) == (1, 1)

"""The agents' console in a real headless browser: Debian's chromium driven by Playwright.

A real server (werkzeug's make_server in a thread) on 127.0.0.1 serves the same app the test
records into. Needs `apt-get install chromium` and `pip install playwright` (never
`playwright install`: the browser is Debian's).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import make_server

from tests.helpers import AUTH_TOKEN, Call
from tests.test_agents import LEAKY, PASSWORD, SECRETS, wire
from voicebot.cli.agents import agents as agents_cli
from voicebot.cli.simulator import SignedClient
from voicebot.config import Settings
from voicebot.records.handoffs import Handoffs
from voicebot.services import services

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is absent: apt-get install chromium to run the browser test",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright to run the browser test"
)


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    wire(app)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def agent(settings: Settings, monkeypatch: pytest.MonkeyPatch, app: Flask) -> str:
    """An account made the way an administrator makes one: `voicebot agents add NAME`."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VOICEBOT_OUTBOX", str(settings.outbox))
    monkeypatch.setenv("VOICEBOT_INSTANCE_DIR", str(settings.instance_dir))
    result = CliRunner().invoke(agents_cli, ["add", "amy"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return "amy"


def assert_no_secrets(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html, f"{secret!r} appears in the page"


def test_an_agent_signs_in_sees_a_transfer_and_marks_a_callback_done(
    app: Flask, server: str, browser, agent: str
) -> None:  # type: ignore[no-untyped-def]
    handoffs: Handoffs = services(app).handoffs
    context = browser.new_context()
    page = context.new_page()
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.set_default_timeout(15_000)

    # Not signed in: the console sends the browser to the sign-in form.
    page.goto(server + "/agents/")
    assert page.url.endswith("/agents/login")

    # A wrong password is refused.
    page.fill("#name", agent)
    page.fill("#password", "not the password")
    page.click("#sign-in")
    assert "Wrong name or password" in page.text_content("#signin-error")

    # The right one opens the live list.
    page.fill("#name", agent)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(server + "/agents/")
    assert "Live list" in page.text_content("h1")
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["vb_agent"]["httpOnly"] is True
    assert cookies["vb_agent"]["sameSite"] == "Lax"

    # A transfer happens while the page is open: the list refreshes itself (no reload).
    reference = handoffs.record(
        "voice", "CA" + "7" * 32, "caller_asked", "forgot_username", "es", False, LEAKY
    )
    handoffs.set_outcome(reference, "no-answer")
    callback = handoffs.add_callback("+14045550123", "forgot_username", "es", reference)
    row = page.locator(f"#transfer-{reference}")
    row.wait_for(state="visible", timeout=20_000)
    text = row.inner_text()
    for expected in ("a forgotten username", "Spanish", "no", "no-answer", "Caller asked about"):
        assert expected in text, expected
    assert page.locator(f"#transfer-{reference} td.no").inner_text() == "no"
    assert_no_secrets(page.content())

    # Mark the callback done.
    page.click(f"#done-{callback}")
    page.wait_for_url(server + "/agents/")
    assert page.locator(f"#callback-{callback}").count() == 0
    assert handoffs.callbacks(open_only=True) == []
    assert handoffs.callbacks(open_only=False)[0]["done_by"] == agent

    # The statistics page draws its charts.
    handoffs.note_conversation("voice")
    handoffs.note_unrecognised("where do I see bus routes", "en")
    page.goto(server + "/agents/stats")
    assert page.locator("svg.chart").count() >= 3
    assert "a forgotten username" in page.content()
    assert_no_secrets(page.content())

    # The script ran under the Content-Security-Policy: nothing was blocked.
    assert csp_errors == []
    context.close()


def test_a_transfer_through_the_voice_webhook_appears_in_the_browser(
    app: Flask, server: str, browser, agent: str
) -> None:  # type: ignore[no-untyped-def]
    call = Call(SignedClient(app, AUTH_TOKEN))
    call.start()
    # A caller who blurts out secrets before asking for a person.
    reply = call.say("my social is 123-45-6789 and she was born 03/14/2015")
    if reply.asks:
        call.press("0")
    transfers = services(app).handoffs.recent()
    assert transfers, "the voice webhook recorded no handoff"
    reference = transfers[0]["reference"]
    page = browser.new_page()
    page.goto(server + "/agents/login")
    page.fill("#name", agent)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(server + "/agents/")
    row = page.locator(f"#transfer-{reference}")
    assert row.is_visible()
    assert "call" in row.inner_text()
    assert page.locator(f"#transfer-{reference} td.no").inner_text() == "no"  # not verified
    assert_no_secrets(page.content())
    page.close()

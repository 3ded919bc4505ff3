"""The agents' console in a real headless browser: Debian's chromium driven by Playwright.

A real server (werkzeug's make_server in a thread) on 127.0.0.1 serves the same app the test
records into. Needs `apt-get install chromium` and `pip install playwright` (never
`playwright install`: the browser is Debian's). The accessibility check runs axe-core from the
axe-playwright-python package (its own copy of axe.min.js, injected with page.evaluate: no CDN).
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
from voicebot.agents import console
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


# ---- accessibility -----------------------------------------------------------------------


@pytest.fixture
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> int:
    """The live list refreshes every second, so the tests do not wait ten."""
    monkeypatch.setattr(console, "REFRESH_SECONDS", 1)
    return 1


def sign_in(page, server: str, agent: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/agents/login")
    page.fill("#name", agent)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(server + "/agents/")


def is_refresh(request) -> bool:  # type: ignore[no-untyped-def]
    return request.url.endswith("/agents/live")


def serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe  # a test extra: missing = failure

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(str(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_console_page_passes_axe(app: Flask, server: str, browser, agent: str) -> None:  # type: ignore[no-untyped-def]
    handoffs: Handoffs = services(app).handoffs
    first = handoffs.record("sms", "SMx", "caller_asked", "activation_key", "en", True, ["a"])
    reference = handoffs.record(
        "voice", "CA" + "7" * 32, "caller_asked", "forgot_username", "es", False, LEAKY
    )
    handoffs.set_outcome(reference, "no-answer")
    handoffs.add_callback("+14045550123", "forgot_username", "es", reference)
    done = handoffs.add_callback("+14045550155", "forgot_password", "en", first)
    handoffs.mark_done(done, agent)
    handoffs.note_conversation("voice", count=3)
    handoffs.note_conversation("sms")
    handoffs.note_unrecognised("where do I see bus routes", "en")
    page = browser.new_page()
    page.set_default_timeout(15_000)
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    found: dict[str, list[str]] = {}

    page.goto(server + "/agents/login")
    found["sign-in"] = serious_violations(page)
    page.fill("#name", agent)
    page.fill("#password", "not the password")
    page.click("#sign-in")
    page.wait_for_selector("#signin-error")
    found["sign-in, refused"] = serious_violations(page)

    sign_in(page, server, agent)
    page.locator("details summary").first.click()  # the recently done callbacks, shown
    assert page.locator(f"#done-callback-{done}").is_visible()
    assert page.locator(f"#transfer-{reference}").is_visible()
    found["live list and callbacks"] = serious_violations(page)

    page.goto(server + "/agents/stats")
    page.locator("details summary").last.click()  # the numbers as a table
    assert page.locator("svg.chart").count() >= 4
    found["statistics"] = serious_violations(page)
    page.fill("#from", "2026-12-06")  # the period form, as an agent uses it: a from after the to
    page.fill("#to", "2026-12-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#period-error")
    assert "after the to date" in page.locator("#period-error").inner_text()
    found["statistics, a period that cannot be"] = serious_violations(page)

    assert {name: v for name, v in found.items() if v} == {}
    assert csp_errors == []  # axe ran without loosening the Content-Security-Policy
    page.close()


def test_the_pause_button_stops_and_restarts_the_refresh(
    app: Flask, server: str, browser, agent: str, fast_refresh: int
) -> None:  # type: ignore[no-untyped-def]
    handoffs: Handoffs = services(app).handoffs
    page = browser.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, server, agent)
    with page.expect_request(is_refresh):  # the list refreshes itself
        pass
    # A real button, named, reached and pressed with the keyboard.
    pause = page.get_by_role("button", name="Pause automatic updates")
    assert pause.evaluate("el => el.tagName") == "BUTTON"
    pause.focus()
    page.keyboard.press("Enter")
    resume = page.get_by_role("button", name="Resume automatic updates")
    resume.wait_for()
    assert "paused" in page.inner_text(".hint").lower()
    refreshes: list[str] = []
    page.on(
        "request", lambda request: refreshes.append(request.url) if is_refresh(request) else None
    )
    reference = handoffs.record("sms", "SMp", "caller_asked", "activation_key", "en", True, ["a"])
    page.wait_for_timeout(4 * fast_refresh * 1000)
    assert refreshes == []  # paused: nothing fetched...
    assert page.locator(f"#transfer-{reference}").count() == 0  # ...and nothing changed

    resume.focus()
    page.keyboard.press(" ")
    page.get_by_role("button", name="Pause automatic updates").wait_for()
    page.locator(f"#transfer-{reference}").wait_for(state="visible", timeout=5_000)
    assert refreshes
    page.close()


def test_only_new_rows_are_announced(
    app: Flask, server: str, browser, agent: str, fast_refresh: int
) -> None:  # type: ignore[no-untyped-def]
    handoffs: Handoffs = services(app).handoffs
    old = handoffs.record("sms", "SMo", "caller_asked", "activation_key", "en", True, ["a"])
    page = browser.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, server, agent)
    # The table is not a live region (it would be read out whole at every refresh)...
    assert (
        page.evaluate(
            """() => document.getElementById("transfers")
                 .closest("[aria-live], [role=status], [role=log], [role=alert]")"""
        )
        is None
    )
    # ...a separate, visually hidden status is.
    status = page.get_by_role("status")
    assert status.count() == 1
    assert status.get_attribute("aria-live") in (None, "polite")
    assert status.evaluate("el => el.closest('#live')") is None  # not replaced by refreshes
    assert status.evaluate("el => el.getBoundingClientRect().width") <= 1  # visually hidden
    # Refreshes that bring nothing new say nothing.
    page.evaluate(
        """() => { window.__said = [];
                   new MutationObserver(() => window.__said.push(
                       document.querySelector("[role=status]").textContent.trim()))
                   .observe(document.querySelector("[role=status]"),
                            {childList: true, characterData: true, subtree: true}); }"""
    )
    for _ in range(2):
        with page.expect_response(lambda r: r.url.endswith("/agents/live")):
            pass
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__said.filter(Boolean)") == []
    assert (status.text_content() or "").strip() == ""

    # Two transfers arrive (while paused, so no refresh falls between them): "2 new
    # transfers", once.
    pause = page.get_by_role("button", name="Pause automatic updates")
    resume = page.get_by_role("button", name="Resume automatic updates")
    pause.click()
    refs = [
        handoffs.record(
            "voice", "CA" + str(n) * 32, "caller_asked", "forgot_password", "en", False, ["b"]
        )
        for n in (1, 2)
    ]
    resume.click()
    for ref in refs:
        page.locator(f"#transfer-{ref}").wait_for(state="visible", timeout=5_000)
    page.wait_for_function(
        """() => document.querySelector("[role=status]").textContent.trim().length > 0"""
    )
    assert (status.text_content() or "").strip() == "2 new transfers"
    assert page.locator(f"#transfer-{old}").is_visible()
    for _ in range(2):  # later refreshes do not repeat it
        with page.expect_response(lambda r: r.url.endswith("/agents/live")):
            pass
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__said.filter(Boolean)") == ["2 new transfers"]

    # A callback request, and one transfer.
    pause.click()
    callback = handoffs.add_callback("+14045550123", "forgot_password", "en", refs[0])
    third = handoffs.record("sms", "SMn", "caller_asked", "activation_key", "en", True, ["c"])
    resume.click()
    page.locator(f"#callback-{callback}").wait_for(state="visible", timeout=5_000)
    page.locator(f"#transfer-{third}").wait_for(state="visible", timeout=5_000)
    page.wait_for_function(
        """() => document.querySelector("[role=status]").textContent.includes("callback")"""
    )
    assert (status.text_content() or "").strip() == "1 new callback request, 1 new transfer"
    page.close()

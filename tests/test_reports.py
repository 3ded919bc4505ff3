"""The agents' statistics: how each conversation ended, counted honestly, on the district's
days, over any days, and the same numbers as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import AUTH_TOKEN, CALLER, SUPPORT, Call, Thread
from tests.test_agents import PASSWORD, signed_in
from voicebot.agents.console import hash_password
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.config import ConfigError, Settings, load_settings
from voicebot.config.hours import parse_hours
from voicebot.ops import outcomes as outcome_counts
from voicebot.ops.outcomes import district_day
from voicebot.services import services

NEW_YORK = ZoneInfo("America/New_York")
GIBBERISH = "purple elephant trombone"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    services(app).handoffs.add_agent("amy", hash_password(PASSWORD))
    return app.test_client()


def today(app: Flask) -> date:
    return district_day(ZoneInfo(services(app).settings.timezone))


def outcomes_on(app: Flask, day: date | None = None) -> dict[str, int]:
    """The day's conversations by "channel:outcome", as Redis counts them (zeros left out)."""
    day = day or today(app)
    counted = outcome_counts.counts(services(app).store.redis, day, day)[day]
    return {field: n for field, n in counted.items() if n}


def hang_up(call: Call, status: str = "completed") -> None:
    """The caller hangs up: Twilio's signed status callback says the call is over."""
    fields = call.base | {"CallStatus": status, "CallDuration": "30"}
    assert call.twilio.post("/voice/status", fields).status_code == 200


# ---- calls --------------------------------------------------------------------------------


def test_a_call_that_ends_after_didnt_catch_that_is_not_understood(app: Flask, call: Call) -> None:
    call.start()
    assert "didn't catch that" in call.say(GIBBERISH).text
    hang_up(call)
    assert outcomes_on(app) == {"voice:not_understood": 1}


def test_an_answer_then_words_not_understood_is_still_not_understood(
    app: Flask, call: Call
) -> None:
    call.start()
    assert "password" in call.say("I forgot my password").text.lower()
    assert "didn't catch that" in call.say(GIBBERISH).text
    hang_up(call)
    assert outcomes_on(app) == {"voice:not_understood": 1}


def test_a_hang_up_in_the_middle_of_a_question_is_abandoned(app: Flask, call: Call) -> None:
    assert call.start().asks
    hang_up(call)
    quiet = Call(call.twilio)
    quiet.start()
    assert "didn't hear anything" in quiet.silence().text  # silence is not misunderstanding
    hang_up(quiet)
    assert outcomes_on(app) == {"voice:abandoned": 2}


def test_an_answered_call_is_answered_and_counted_once(app: Flask, call: Call) -> None:
    call.start()
    call.say("I forgot my password")
    call.silence()  # no reply to "anything else?": the answer stands
    hang_up(call)
    hang_up(call)  # Twilio sends the callback again
    assert outcomes_on(app) == {"voice:answered": 1}


def test_the_last_four_digits_read_back_are_an_answer(
    app: Flask, call: Call, roster: None, outbox
) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import BIRTH, STUDENT

    call.start()
    call.press("4")  # numbers
    call.press("3")  # the last four digits: verification first
    call.press(STUDENT + "#")
    call.press(BIRTH + "#")
    assert outcomes_on(app) == {"voice:abandoned": 1}, "explaining the verification is no answer"
    code = re.search(r"\b(\d{6})\b", outbox.messages()[-1]["body"])
    assert code is not None
    assert "6, 7, 8, 9" in call.press(code.group(1) + "#").text
    hang_up(call)
    assert outcomes_on(app) == {"voice:answered": 1}


def test_a_transfer_is_handed_to_person(app: Flask, call: Call) -> None:
    call.start()
    call.say("I forgot my password")
    assert call.press("0").transfers_to == SUPPORT
    call.dial_ends("completed")
    hang_up(call)
    assert outcomes_on(app) == {"voice:handed_to_person": 1}


def test_giving_up_on_a_caller_it_cannot_understand_is_not_understood(
    app: Flask, call: Call
) -> None:
    call.start()
    call.say(GIBBERISH)
    call.say(GIBBERISH)
    assert call.say(GIBBERISH).transfers_to == SUPPORT  # escalated, not asked for
    call.dial_ends("completed")
    hang_up(call)
    assert outcomes_on(app) == {"voice:not_understood": 1}


def test_a_callback_request_is_a_callback(app: Flask, call: Call) -> None:
    call.start()
    call.press("0")
    assert "call you back" in call.dial_ends("no-answer").text
    call.press("1")
    hang_up(call)
    assert outcomes_on(app) == {"voice:callback": 1}
    assert services(app).handoffs.callbacks()[0]["phone"] == CALLER


def test_support_closed_or_its_number_asked_for_is_handed_to_person(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_handoff import HOURS_TEXT, SATURDAY_NOON, WEEKDAYS, at

    hours = parse_hours("America/New_York", WEEKDAYS, [])
    app = create_app(settings, upgrade_db=True, support_hours=hours, support_hours_text=HOURS_TEXT)
    twilio = SignedClient(app, AUTH_TOKEN)
    at(monkeypatch, SATURDAY_NOON)
    call = Call(twilio)
    call.start()
    assert "closed right now" in call.press("0").text  # no transfer: nobody would answer
    hang_up(call)
    asked = Thread(twilio).text("what is the phone number for support")
    assert "404-802-1000" in asked.text
    assert outcomes_on(app, date(2026, 12, 5)) == {
        "voice:handed_to_person": 1,
        "sms:handed_to_person": 1,
    }


# ---- texts --------------------------------------------------------------------------------


def test_text_threads_end_the_same_ways(app: Flask, twilio: SignedClient) -> None:
    Thread(twilio, "+14045550101").text("hi")  # and nothing more
    puzzled = Thread(twilio, "+14045550102")
    puzzled.text("hi")
    assert "didn't understand" in puzzled.text(GIBBERISH).text
    Thread(twilio, "+14045550103").text("I forgot my password")
    assert SUPPORT[-4:] in Thread(twilio, "+14045550104").text("AGENT").text.replace("-", "")
    assert "call you back" in Thread(twilio, "+14045550105").text("CALL ME").text.lower()
    assert outcomes_on(app) == {
        "sms:abandoned": 1,
        "sms:not_understood": 1,
        "sms:answered": 1,
        "sms:handed_to_person": 1,
        "sms:callback": 1,
    }


def test_a_thread_understood_at_last_moves_to_its_new_outcome(app: Flask, thread: Thread) -> None:
    thread.text("hi")
    thread.text(GIBBERISH)
    assert outcomes_on(app) == {"sms:not_understood": 1}
    thread.text("I forgot my password")
    assert outcomes_on(app) == {"sms:answered": 1}  # one thread, counted once


def test_the_counts_hold_nothing_about_the_caller(app: Flask, twilio: SignedClient) -> None:
    thread = Thread(twilio)
    thread.text("my student 1234567 was born 03/14/2015")
    Call(twilio).start()
    redis = services(app).store.redis
    keys = [k.decode() for k in redis.keys("vb:stats:outcomes:*")]
    assert keys == [f"vb:stats:outcomes:{today(app).isoformat()}"]
    stored = " ".join(f"{k}={v}" for k, v in outcomes_on(app).items())
    for secret in ("1234567", "03/14/2015", CALLER, CALLER[-4:], "sms:", "call:"):
        assert secret not in keys[0]
    assert re.fullmatch(r"((voice|sms):[a-z_]+=\d+ ?)+", stored), stored


# ---- the district's days ------------------------------------------------------------------


def test_a_call_at_half_past_eleven_in_new_york_counts_on_that_day(
    app: Flask, client: FlaskClient, twilio: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voicebot.channels.voice as voice

    evening = datetime(2026, 12, 5, 23, 30, tzinfo=NEW_YORK).timestamp()  # Dec 6 in UTC
    monkeypatch.setattr(voice.time, "time", lambda: evening)
    call = Call(twilio)
    call.start()
    call.say("I forgot my password")
    hang_up(call)

    assert outcomes_on(app, date(2026, 12, 5)) == {"voice:answered": 1}
    assert outcomes_on(app, date(2026, 12, 6)) == {}
    signed_in(client)
    page = client.get("/agents/stats?from=2026-12-05&to=2026-12-06").get_data(as_text=True)
    assert cells(page, "2026-12-05")[:1] == ["1"]  # calls
    assert cells(page, "2026-12-06")[:1] == ["0"]


def test_the_time_zone_is_one_district_setting(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[district]\ntimezone = "America/Chicago"\n')
    settings = load_settings({"VOICEBOT_CONFIG": str(site)})
    assert settings.timezone == "America/Chicago"
    assert settings.support_hours.timezone == "America/Chicago"  # support's hours too

    site.write_text('[support]\ntimezone = "America/Denver"\n')  # an older settings file
    assert load_settings({"VOICEBOT_CONFIG": str(site)}).timezone == "America/Denver"

    site.write_text('[district]\ntimezone = "Mars/Olympus_Mons"\n')
    with pytest.raises(ConfigError, match=r"\[district\] timezone: unknown time zone"):
        load_settings({"VOICEBOT_CONFIG": str(site)})

    site.write_text(
        '[district]\ntimezone = "America/Chicago"\n[support]\ntimezone = "America/Denver"\n'
    )
    with pytest.raises(ConfigError, match=r"set only \[district\] timezone"):
        load_settings({"VOICEBOT_CONFIG": str(site)})


# ---- the page: any days, and the CSV ------------------------------------------------------


def cells(page: str, day: str) -> list[str]:
    """The per-day table's cells for one day, after the day itself."""
    row = re.search(rf'<tr id="day-{day}">(.*?)</tr>', page, flags=re.S)
    assert row, f"no row for {day}"
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def headings(page: str) -> list[str]:
    table = page[page.index('id="days-table"') :]
    head = table[: table.index("</thead>")]
    return re.findall(r'<th scope="col">(.*?)</th>', head)


def test_the_page_shows_each_outcome_and_contained_is_answered_only(
    app: Flask, client: FlaskClient, twilio: SignedClient
) -> None:
    answered, puzzled, gone = Call(twilio), Call(twilio), Call(twilio)
    answered.start()
    answered.say("I forgot my password")
    puzzled.start()
    puzzled.say(GIBBERISH)
    gone.start()
    for call in (answered, puzzled, gone):
        hang_up(call)
    Thread(twilio).text("AGENT")

    signed_in(client)
    page = client.get("/agents/stats").get_data(as_text=True)
    assert 'id="contained">25%<' in page  # 1 answered of 4: the others were not contained
    for name, calls, texts in (
        ("answered", 1, 0),
        ("handed_to_person", 0, 1),
        ("callback", 0, 0),
        ("abandoned", 1, 0),
        ("not_understood", 1, 0),
    ):
        row = re.search(rf'<tr id="outcome-{name}">(.*?)</tr>', page, flags=re.S)
        assert row, name
        assert re.findall(r"<td>(.*?)</td>", row.group(1))[:3] == [
            str(calls),
            str(texts),
            str(calls + texts),
        ], name
    calls_texts_transfers_callbacks = ["3", "1", "1", "0"]
    five_outcomes_and_contained = ["1", "1", "0", "1", "1", "25%"]
    assert cells(page, today(app).isoformat()) == [
        *calls_texts_transfers_callbacks,
        *five_outcomes_and_contained,
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01&to=2026-12-05", "The from date must be a date written YYYY-MM-DD."),
        ("from=2026-12-05&to=yesterday", "The to date must be a date written YYYY-MM-DD."),
        ("from=2026-12-06&to=2026-12-05", "The from date is after the to date."),
        ("from=2024-01-01&to=2026-12-05", "A period can be at most 366 days long."),
    ],
)
def test_a_bad_period_is_explained_on_the_page(
    client: FlaskClient, query: str, message: str
) -> None:
    signed_in(client)
    response = client.get(f"/agents/stats?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page
    assert page.count('<tr id="day-') == 14  # the last 14 days instead
    csv_response = client.get(f"/agents/stats.csv?{query}")
    assert csv_response.status_code == 400 and message in csv_response.get_data(as_text=True)


def test_any_period_up_to_a_year_and_fourteen_days_by_default(client: FlaskClient) -> None:
    signed_in(client)
    page = client.get("/agents/stats").get_data(as_text=True)
    assert page.count('<tr id="day-') == 14
    assert '<label for="from">From</label>' in page and '<label for="to">To</label>' in page
    year = client.get("/agents/stats?from=2025-12-06&to=2026-12-06").get_data(as_text=True)
    assert year.count('<tr id="day-') == 366
    one = client.get("/agents/stats?from=2026-02-28&to=2026-03-01").get_data(as_text=True)
    assert re.findall(r'<tr id="day-([\d-]+)">', one) == ["2026-02-28", "2026-03-01"]


def test_the_csv_has_the_pages_numbers(
    app: Flask, client: FlaskClient, twilio: SignedClient
) -> None:
    call = Call(twilio)
    call.start()
    call.say("I forgot my password")
    hang_up(call)
    Thread(twilio).text("CALL ME")
    services(app).handoffs.note_unrecognised("=HYPERLINK(evil) where is the bus", "en")
    first = (today(app) - timedelta(days=2)).isoformat()
    last = today(app).isoformat()

    signed_in(client)
    page = client.get(f"/agents/stats?from={first}&to={last}").get_data(as_text=True)
    assert f'href="/agents/stats.csv?from={first}&amp;to={last}"' in page
    response = client.get(f"/agents/stats.csv?from={first}&to={last}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Day", *headings(page)[1:]]
    assert [row[0] for row in rows[1:]] == [
        (today(app) - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]
    for row in rows[1:]:
        assert row[1:] == cells(page, row[0]), row[0]
    assert rows[-1][1:3] == ["1", "1"]  # a call and a text today
    assert "HYPERLINK" not in response.get_data(as_text=True)  # callers' words stay off it


def test_the_csv_needs_a_signed_in_agent(app: Flask, client: FlaskClient) -> None:
    response = client.get("/agents/stats.csv")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/agents/login")
    assert "text/csv" not in response.headers.get("Content-Type", "")


def test_a_csv_cell_never_starts_a_formula() -> None:
    from voicebot.agents.console import _cell

    assert [_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "12", "n/a")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "12",
        "n/a",
    ]


# ---- the definitions, as a plain function of the dialog's state ---------------------------


def test_a_person_or_a_callback_once_reached_stays_the_outcome(app: Flask) -> None:
    from voicebot.dialog.model import RequestCallback, Say, State, Transfer, Turn
    from voicebot.dialog.outcomes import Marks, outcome_of, progress

    marks = Marks.of(services(app).flow)
    assert "welcome" not in marks.answers and "ssn_last4" not in marks.answers
    assert {"forgot_password", "read_back"} <= marks.answers
    state = State(step="anything_else", lang="en")

    def after(previous: str, *actions: object) -> str:
        return progress(previous, state, Turn(tuple(actions), state), marks)  # type: ignore[arg-type]

    answer = Say("To reset your password...", key="forgot_password")
    assert after("", answer) == "answered"
    assert after("handed_to_person", answer) == "handed_to_person"
    assert after("answered", Transfer("connecting", reason="caller_asked")) == "handed_to_person"
    assert after("answered", Transfer("connecting", reason="not_understood")) == "not_understood"
    assert after("handed_to_person", RequestCallback()) == "callback"
    assert after("callback", Transfer("connecting", reason="caller_asked")) == "callback"

    assert outcome_of(State(step="main_menu", lang="en")) == "abandoned"
    assert outcome_of(State(step="main_menu", lang="en", no_match=1)) == "not_understood"
    assert outcome_of(State(step="main_menu", lang="en", no_input=2)) == "abandoned"
    lasting = State(step="main_menu", lang="en", no_match=1, outcome="handed_to_person")
    assert outcome_of(lasting) == "handed_to_person"

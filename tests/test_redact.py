"""Log redaction: digit runs, dates and phone numbers never reach a log handler in clear,
from any voicebot logger, however the message was built."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicebot.policy import redact
from voicebot.policy.redact import RedactingFilter, scrub

EXISTING = logging.getLogger("voicebot.test_redact")


@pytest.fixture
def installed() -> Iterator[None]:
    redact.install("voicebot")
    yield
    redact.uninstall("voicebot")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("caller +14045550123 called", "caller ***23 called"),
        ("student 1234567 asked", "student [digits] asked"),
        ("ssn 123-45-6789", "ssn [digits]"),
        ("said one two three four five six", "said [digits]"),
        ("born 03/14/2015", "born [date]"),
        ("born March 14, 2015 at", "born [date] at"),
        ("nació el 14 de marzo de 2015", "nació el [date]"),
        ("press 1 then 2", "press 1 then 2"),
        ("last 6789 ok", "last 6789 ok"),
        ("the last four 6789", "the last [digits]"),  # "four" is a digit too
        ("call CA0123456789abcdef0123456789abcdef ended", None),
        ("conversation sms:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", None),
        ("not hex 12345678901234567890", "not hex [digits]"),
        # a secret that runs into something shaped like an identifier is still found
        ("code 4829-13ffffffffffffffff", "code [digits]ffffffffffffffff"),
        ("dob 03/14/2015abcdefabcdefabcd", "dob [date]abcdefabcdefabcd"),
        ("ref a1b2c3d4e5f6a7b8c9d0482 913", "ref a1b2c3d4e5f6a7b8c9d[digits]"),
    ],
)
def test_scrub(raw: str, clean: str | None) -> None:
    assert scrub(raw) == (raw if clean is None else clean)


@given(
    st.sampled_from(["", "call:"]),
    st.sampled_from(["CA", "SM", "MM", "UN", "NO"]),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32),
)
def test_a_call_id_is_kept_without_a_scan_and_as_the_scan_would(
    prefix: str, kind: str, hexdigits: str
) -> None:
    """Call SIDs are new in every call's log lines, so they skip the scan; what the scan
    would find in one lies wholly inside the identifier and is kept, so nothing changes."""
    sid = prefix + kind + hexdigits
    assert scrub(sid) == sid
    assert redact._scrub_line(f"{sid} ") == f"{sid} "  # the full scan, one space longer


@given(st.text(max_size=40) | st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_control_characters_go_and_everything_else_stays(text: str) -> None:
    """Printable ASCII skips the character loop; the result is what the loop would give."""
    expected = "".join(
        " " if c in "\n\r\t" else c
        for c in text
        if c in "\n\r\t" or unicodedata.category(c) not in ("Cc", "Cf")
    )
    assert redact.strip_controls(text) == expected


def test_control_characters_are_stripped() -> None:
    assert scrub("hi\x1b[31m\r\nFAKE LOG LINE\x00\u202e") == "hi[31m  FAKE LOG LINE"


@given(st.text(alphabet="0123456789", min_size=5, max_size=12), st.sampled_from(" -./,"))
def test_no_long_digit_run_survives(digits: str, separator: str) -> None:
    spaced = separator.join(digits)
    for text in (digits, spaced, f"value={spaced};"):
        cleaned = scrub(text)
        assert sum(c.isdigit() for c in cleaned) <= 4 or "[digits]" in cleaned
        assert digits not in "".join(c for c in cleaned if c.isdigit())


def test_records_from_child_loggers_are_scrubbed(
    installed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("voicebot.some.module")
    log.info("caller %s keyed %s%s born %s", "+14045550123", "123", "4567", "2015-03-14")
    log.warning("heard %r", "my code is 4 8 2 9 1 3\nINFO forged line")
    [first, second] = [r for r in caplog.records if r.name == "voicebot.some.module"]
    assert first.getMessage() == "caller ***23 keyed [digits] born [date]"
    assert "482913" not in second.getMessage().replace(" ", "")
    assert "\n" not in second.getMessage()
    for secret in ("0123", "1234567", "2015"):
        assert secret not in caplog.text


def test_tracebacks_and_extras_are_scrubbed(
    installed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log = EXISTING  # extras are scrubbed on loggers that existed at install()
    try:
        raise ValueError("bad student number 7654321")
    except ValueError:
        log.exception("lookup failed", extra={"student": "7654321"})
    [record] = [r for r in caplog.records if r.name == EXISTING.name]
    assert "7654321" not in caplog.text
    assert record.student == "[digits]"
    assert record.exc_info is None and "[digits]" in (record.exc_text or "")


def test_other_loggers_are_left_alone(installed: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("werkzeug").info("GET /x?id=1234567")
    assert "1234567" in caplog.text


def test_install_is_idempotent_and_uninstall_stops_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    redact.install()
    redact.install()
    logging.getLogger("voicebot.y").info("first %s", "1234567")
    redact.uninstall()
    logging.getLogger("voicebot.y").info("then %s", "7654321")
    assert "first [digits]" in caplog.text
    assert "then 7654321" in caplog.text


def test_extras_are_scrubbed_on_a_logger_made_after_install(
    installed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    late = logging.getLogger("voicebot.made_after_install")
    for _ in range(2):  # the first record wires the filter on; the second uses it
        late.info("turn", extra={"said": "my ssn is 123-45-6789", "state": "menu"})
    said = [r.said for r in caplog.records if r.name == late.name]
    assert said == ["my ssn is [digits]"] * 2
    assert "6789" not in caplog.text


def test_fields_another_record_factory_adds_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    base = logging.getLogRecordFactory()

    def with_context(*args, **kwargs):  # type: ignore[no-untyped-def]
        record = base(*args, **kwargs)
        record.said = "caller said 123-45-6789"  # e.g. a request-context factory
        return record

    logging.setLogRecordFactory(with_context)
    try:
        redact.install("voicebot")
        caplog.set_level(logging.INFO)
        logging.getLogger("voicebot.with_context").info("hello")
    finally:
        redact.uninstall("voicebot")
        logging.setLogRecordFactory(base)
    [record] = [r for r in caplog.records if r.name == "voicebot.with_context"]
    assert record.said == "caller said [digits]"


def test_a_record_made_by_hand_works_with_redaction_installed(installed: None) -> None:
    record = logging.makeLogRecord({"msg": "code %s", "args": ("482913",), "name": "voicebot.x"})
    assert record.getMessage() == "code 482913"  # made with no name: not the factory's to scrub
    assert RedactingFilter().filter(record) and record.getMessage() == "code [digits]"


def test_the_filter_works_on_its_own() -> None:
    record = logging.makeLogRecord({"msg": "code %s", "args": ("482913",), "name": "any"})
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "code [digits]"


def test_a_line_logged_again_is_scrubbed_again(
    installed: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Clean log words are remembered; anything that needed scrubbing never is."""
    with caplog.at_level(logging.INFO, logger="voicebot"):
        for _ in range(3):
            EXISTING.info("turn", extra={"state": "offer_text", "said": "my code is 482913"})
    said = [getattr(record, "said", "") for record in caplog.records]
    assert said == ["my code is [digits]"] * 3
    assert [getattr(record, "state", "") for record in caplog.records] == ["offer_text"] * 3

"""The conversation tests in flows/tests/ pass, and a broken one fails at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from voicebot.cli import main
from voicebot.cli.transcripts import Turn, parse, run_file

FLOWS = Path(__file__).resolve().parents[1] / "flows"
TRANSCRIPTS = sorted((FLOWS / "tests").glob("*.txt"))


def test_there_are_transcripts_for_every_kind_of_conversation() -> None:
    names = [path.stem for path in TRANSCRIPTS]
    assert len(names) >= 40
    assert any(n.startswith("voice-es-") for n in names)
    assert any(n.startswith("sms-es-") for n in names)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript_passes(path: Path) -> None:
    result = run_file(path, FLOWS)
    assert result.passed, "\n".join(str(f) for f in result.failures)


def run_text(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "broken.txt"
    path.write_text(text, encoding="utf-8")
    return [str(failure) for failure in run_file(path, FLOWS).failures]


def test_a_bot_line_that_cannot_match_names_its_line_and_what_was_said(tmp_path: Path) -> None:
    failures = run_text(tmp_path, "channel: sms\n\ncaller: HELP\nbot: the moon is cheese\n")
    assert len(failures) == 1
    assert failures[0].startswith(f"{tmp_path / 'broken.txt'}:4: ")
    assert '"the moon is cheese"' in failures[0]
    assert "404-802-1000" in failures[0], "what the help line really said"


def test_a_bot_not_line_that_matches_fails(tmp_path: Path) -> None:
    failures = run_text(tmp_path, "channel: sms\ncaller: HELP\nbot: opt out\nbot!: STOP\n")
    assert len(failures) == 1
    assert failures[0].startswith(f"{tmp_path / 'broken.txt'}:4: ")
    assert "must not" in failures[0]


def test_the_run_stops_after_a_failed_answer(tmp_path: Path) -> None:
    path = tmp_path / "stops.txt"
    path.write_text(
        "caller: I forgot my password\nbot: wrong\nbot: reset\nbot: also wrong\n"
        "caller: no\nbot: never checked\n",
        encoding="utf-8",
    )
    failures = run_file(path, FLOWS).failures
    assert [f.line for f in failures] == [2, 4], "the same answer's checks, then a stop"


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("caller: hello\nbotty: hi\n", 2, 'did you mean "bot"'),
        ("channel: sms\ncaller: hi\npress: 1\n", 3, "only for calls"),
        ("channel: sms\nbot: hello\n", 2, "nothing has been texted yet"),
        ("caller: hi\nchannel: sms\n", 2, "belongs in the header"),
        ("channel: fax\n", 1, "voice"),
        ("#1\n", 1, "press: 1"),
        ("press: 12a\n", 1, "keys are 0-9"),
        ("caller: hi\nbot:\n", 2, "needs some words"),
    ],
    ids=[
        "unknown",
        "press by sms",
        "bot first by sms",
        "late header",
        "channel",
        "hash",
        "keys",
        "empty",
    ],
)
def test_a_line_that_cannot_be_read_is_named(text: str, line: int, says: str) -> None:
    errors = parse(text, Path("t.txt")).errors
    assert errors and str(errors[0]).startswith(f"t.txt:{line}: ")
    assert says in str(errors[0])


def test_the_header_takes_a_caller_number_or_withheld() -> None:
    assert parse("caller: (404) 555-0199\ncaller: hi\n", Path("t.txt")).caller == "+14045550199"
    withheld = parse("caller: withheld\ncaller: hi\n", Path("t.txt"))
    assert withheld.caller == "anonymous" and [s.text for s in withheld.steps] == ["hi"]


def test_a_code_before_any_code_was_texted_fails(tmp_path: Path) -> None:
    failures = run_text(tmp_path, "press: {code}\n")
    assert len(failures) == 1 and ":1: " in failures[0] and "no one-time code" in failures[0]


def test_the_command_exits_1_and_names_the_line_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_SECRET_KEY", "test-key")  # what the command would set
    bad = tmp_path / "bad.txt"
    bad.write_text("channel: sms\ncaller: HELP\nbot: the moon is cheese\n", encoding="utf-8")
    good = tmp_path / "good.txt"
    good.write_text("channel: sms\ncaller: HELP\nbot: opt out\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "test", "--dir", str(FLOWS), str(good), str(bad)])
    assert result.exit_code == 1, result.output
    assert f"PASS  {good}" in result.output and f"FAIL  {bad}" in result.output
    assert f"{bad}:3: " in result.output
    assert "1 passed, 1 failed" in result.output


def test_the_command_exits_0_when_all_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOT_SECRET_KEY", "test-key")
    good = tmp_path / "good.txt"
    good.write_text("caller: agent\ntransfer\nsupport answers\nhangup\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "test", "--dir", str(FLOWS), str(good)])
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.output


def test_a_failure_report_shows_no_full_number_and_no_code() -> None:
    turn = Turn(
        after=3,
        texts=[{"to": "+14045550123", "body": "Your help line code is 482913. Don't share it."}],
    )
    report = turn.describe_texts()
    assert "482913" not in report and "4045550123" not in report
    assert "{code}" in report and "***23" in report

"""flows/ is data a staff member edits: loading must catch their mistakes, naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import edit
from voicebot.cli import main
from voicebot.config import REPO_ROOT
from voicebot.dialog.flow import FlowError, load_flow, reachable

FLOWS = REPO_ROOT / "flows"


def test_the_shipped_flows_are_valid_and_every_state_is_reachable() -> None:
    flow = load_flow(FLOWS)
    assert reachable(flow) == set(flow.states)


def test_an_unknown_state_is_named_with_its_file_and_key(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", 'next = "anything_else"', 'next = "anythign_else"')
    with pytest.raises(
        FlowError, match=r"help-line.toml: states\.\w+\.next: unknown state 'anythign_else'"
    ):
        load_flow(flows_copy)


def test_a_missing_prompt_is_named(flows_copy: Path) -> None:
    edit(flows_copy / "prompts" / "en.toml", "[prompts.username_rules]", "[prompts.username_rulez]")
    with pytest.raises(FlowError, match=r"prompts/en.toml: prompts.username_rules: missing"):
        load_flow(flows_copy)


def test_an_unreachable_state_is_named(flows_copy: Path) -> None:
    with (flows_copy / "help-line.toml").open("a") as handle:
        handle.write('\n[states.orphan]\ntype = "answer"\nsay = "welcome"\nnext = "main_menu"\n')
    with pytest.raises(FlowError, match=r"states.orphan: unreachable"):
        load_flow(flows_copy)


def test_an_unknown_placeholder_is_named(flows_copy: Path) -> None:
    edit(flows_copy / "prompts" / "en.toml", "{support_number}.", "{support_phone}.")
    with pytest.raises(FlowError, match=r"unknown placeholder\(s\) support_phone"):
        load_flow(flows_copy)


def test_a_prompt_missing_in_a_second_language_is_named(flows_copy: Path) -> None:
    es = flows_copy / "prompts" / "es.toml"
    if not es.exists():
        shutil.copy(flows_copy / "prompts" / "en.toml", es)
    edit(es, "[prompts.password_rules]", "[prompts.password_rulez]")
    with pytest.raises(FlowError, match=r"prompts/es.toml: prompts.password_rules: missing"):
        load_flow(flows_copy, ("en", "es"))


def test_flows_check_command_reports_ok_and_errors(flows_copy: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["flows", "check"])
    assert ok.exit_code == 0 and "flows OK" in ok.output
    edit(flows_copy / "help-line.toml", 'start = "welcome"', 'start = "nowhere"')
    bad = runner.invoke(main, ["flows", "check", "--dir", str(flows_copy)])
    assert bad.exit_code != 0 and "start: unknown state 'nowhere'" in bad.output


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            'activation_key = "activation_key"',
            'activaton_key = "activation_key"',
            "intents.activaton_key",
        ),
        ('on = { yes = "send_text"', 'on = { yse = "send_text"', "states.offer_text.on.yse"),
    ],
)
def test_a_misspelt_intent_in_the_flow_is_named(
    flows_copy: Path, old: str, new: str, where: str
) -> None:
    edit(flows_copy / "help-line.toml", old, new)
    result = CliRunner().invoke(main, ["flows", "check", "--dir", str(flows_copy)])
    assert result.exit_code != 0 and f"{where}: not an intent" in result.output, result.output


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (  # the caller's words at a verification question are digits, birth dates, codes
            'collect = "student_number"',
            'collect = "student_number"\nkeep_unrecognised = true',
            r"states.verify_student: keep_unrecognised where",
        ),
        (
            'keys_of = "main_menu"',
            'keys_of = "mian_menu"',
            r"states.anything_else.keys_of: 'mian_menu' must be a state with keys",
        ),
        (
            'keys_of = "main_menu"',
            'keys_of = "@repeat"',
            r"states.anything_else.keys_of: '@repeat' must be a state with keys",
        ),
        (
            'keys_of = "main_menu"',
            'keys_of = "main_menu"\nkeys = { "1" = "goodbye" }',
            r"states.anything_else: keys and keys_of: choose one",
        ),
        (
            'after_transfer = "anything_else"',
            'after_transfer = "goodbye"',
            r"special.on_after_transfer: 'goodbye' must be a question",
        ),
    ],
)
def test_a_state_setting_the_engine_cannot_use_is_named(
    flows_copy: Path, old: str, new: str, named: str
) -> None:
    edit(flows_copy / "help-line.toml", old, new)
    with pytest.raises(FlowError, match=named):
        load_flow(flows_copy, ("en", "es"))


def test_flows_check_reads_the_intents_too(flows_copy: Path) -> None:
    with (flows_copy / "intents" / "en.toml").open("a") as handle:
        handle.write("this is [not toml\n")
    bad = CliRunner().invoke(main, ["flows", "check", "--dir", str(flows_copy)])
    assert bad.exit_code != 0 and "en.toml" in bad.output and "TOML" in bad.output


def test_a_prompt_the_disclosure_guard_would_block_is_refused_by_name(flows_copy: Path) -> None:
    edit(
        flows_copy / "prompts" / "en.toml",
        "Tell me what you need, for example:",
        "Closed on December 24. Tell me what you need, for example:",
    )
    bad = CliRunner().invoke(main, ["flows", "check", "--dir", str(flows_copy)])
    assert bad.exit_code != 0
    assert "prompts/en.toml: prompts.main_menu.voice: the disclosure guard would block it" in (
        bad.output
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "Tell me what you need,",
            "Tell me {} what you need,",
            "prompts.main_menu.voice: not a prompt",
        ),
        (
            'password_rules = "password rules"',
            'password_rules = "rules of 12/25/2015"',
            "labels.password_rules",
        ),
    ],
)
def test_a_prompt_or_label_that_cannot_be_said_is_named(
    flows_copy: Path, old: str, new: str, message: str
) -> None:
    edit(flows_copy / "prompts" / "en.toml", old, new)
    bad = CliRunner().invoke(main, ["flows", "check", "--dir", str(flows_copy)])
    assert bad.exit_code != 0 and message in bad.output, bad.output


def test_hours_wording_the_guard_would_block_stops_start_up(settings) -> None:  # type: ignore[no-untyped-def]
    from voicebot.app import create_app
    from voicebot.config.hours import parse_hours

    hours = parse_hours("America/New_York", {"mon": "08:00-17:00"}, [])
    wording = {"en": "Monday 8 to 5, closed Dec 24", "es": "lunes de 8 a 5"}
    blocked = r"prompts.support_closed.voice: the disclosure guard.*hours_text"
    with pytest.raises(FlowError, match=blocked):
        create_app(settings, support_hours=hours, support_hours_text=wording)


def test_flows_graph_prints_mermaid_with_every_state() -> None:
    result = CliRunner().invoke(main, ["flows", "graph"])
    assert result.exit_code == 0
    assert result.output.startswith("stateDiagram-v2")
    flow = load_flow(FLOWS)
    for name in flow.states:
        assert f" {name}" in result.output, name


def test_flows_graph_draws_a_copy_given_with_dir(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", "[states.menu_more]", "[states.menu_extra]")
    edit(flows_copy / "help-line.toml", '"5" = "menu_more"', '"5" = "menu_extra"')
    result = CliRunner().invoke(main, ["flows", "graph", "--dir", str(flows_copy)])
    assert result.exit_code == 0, result.output
    assert " menu_extra" in result.output and " menu_more" not in result.output
    edit(flows_copy / "help-line.toml", 'start = "welcome"', 'start = "nowhere"')
    bad = CliRunner().invoke(main, ["flows", "graph", "--dir", str(flows_copy)])
    assert bad.exit_code != 0 and "start: unknown state 'nowhere'" in bad.output


def test_the_read_back_can_only_be_reached_through_a_verified_code(flows_copy: Path) -> None:
    edit(
        flows_copy / "help-line.toml",
        '"5" = "menu_more" }',
        '"5" = "menu_more", "7" = "read_back" }',
    )
    with pytest.raises(FlowError, match=r"states.main_menu: leads to read_back state 'read_back'"):
        load_flow(flows_copy, ("en", "es"))


def test_a_read_back_named_at_every_prompt_is_refused(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", 'ssn_last4 = "ssn_last4"', 'ssn_last4 = "read_back"')
    with pytest.raises(FlowError, match=r"only be reached\s+through a verified code"):
        load_flow(flows_copy, ("en", "es"))

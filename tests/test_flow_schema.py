"""The flow file's format is written down once per audience: voicebot/dialog/flow.py for the
program, docs/flows.md for district staff, and a short header in flows/help-line.toml. These
tests keep the three in step, and check that [special] takes only the hooks the engine knows."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from tests.helpers import edit
from voicebot.config import REPO_ROOT
from voicebot.dialog.flow import (
    COMMANDS,
    HOOKS,
    PLACEHOLDERS,
    RENAMED_HOOKS,
    REQUIRED_PROMPTS,
    STATE_FIELDS,
    STATE_TYPES,
    VERIFY_PROMPTS,
    FlowError,
    StateSpec,
    load_flow,
    mermaid,
)

FLOWS = REPO_ROOT / "flows"
DOCS = REPO_ROOT / "docs" / "flows.md"


def section(title: str) -> str:
    """The text of docs/flows.md under `## title`, up to the next `## ` heading."""
    text = DOCS.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/flows.md has no '## {title}' section"
    return match.group(1)


def table(title: str) -> dict[str, str]:
    """First cell -> the rest of the row, for the table rows of a docs/flows.md section."""
    rows = re.findall(r"^\| `([^`]+)` \|(.*)$", section(title), re.M)
    names = [name.strip("{}") for name, _ in rows]
    assert len(names) == len(set(names)), f"a row is documented twice in '{title}'"
    return {name.strip("{}"): rest for name, rest in rows}


# ---- docs/flows.md says what the program reads -----------------------------------------


def test_the_field_table_documents_exactly_the_state_fields() -> None:
    assert set(table("State fields")) == set(STATE_FIELDS)


def test_the_field_table_names_only_real_types_and_fields() -> None:
    allowed = set(STATE_TYPES) | set(STATE_FIELDS)
    for name, rest in table("State fields").items():
        types = rest.split("|")[0]
        named = set(re.findall(r"`([a-z_]+)", types))
        assert named or types.strip() == "all", name
        assert named <= allowed, f"{name}: {named - allowed}"


def test_every_state_type_is_documented() -> None:
    assert set(table("State types")) == set(STATE_TYPES)


def test_every_special_hook_is_documented() -> None:
    assert set(table("[special] hooks")) == set(HOOKS)


def test_every_command_is_documented() -> None:
    assert set(table("Commands")) == set(COMMANDS)


def test_every_placeholder_is_documented() -> None:
    assert set(table("Prompts")) == set(PLACEHOLDERS)


def test_every_prompt_the_engine_needs_is_documented() -> None:
    prompts = section("Prompts")
    missing = [key for key in REQUIRED_PROMPTS + VERIFY_PROMPTS if f"`{key}`" not in prompts]
    assert not missing


def test_every_state_field_has_a_note_in_the_code() -> None:
    """Each StateSpec field is followed by its docstring: what it does, which types take it."""
    body = ast.parse(textwrap.dedent(inspect.getsource(StateSpec))).body[0]
    assert isinstance(body, ast.ClassDef)
    documented = set()
    for here, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(here, ast.AnnAssign)
            and isinstance(here.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            documented.add(here.target.id)
    assert documented == set(STATE_FIELDS) | {"name"}


# ---- the header of help-line.toml ----------------------------------------------------------


def header() -> list[str]:
    lines = (FLOWS / "help-line.toml").read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return lines[:end]


def test_the_flow_file_header_lists_the_state_types_and_points_to_the_docs() -> None:
    listed = {m.group(1) for line in header() if (m := re.match(r"#   (\w+)\s{2,}\S", line))}
    assert listed == set(STATE_TYPES)
    assert any("docs/flows.md" in line for line in header())


def test_the_docs_example_is_a_valid_edit(flows_copy: Path) -> None:
    """The worked example, applied to a copy of flows/, passes the checks and is drawn."""
    blocks = [
        textwrap.dedent(block)
        for block in re.findall(r"```toml\n(.*?)```", section("Example: adding an answer"), re.S)
    ]
    assert len(blocks) == 3
    main = flows_copy / "help-line.toml"
    for table_text in re.split(r"\n(?=\[)", blocks[0].strip()):
        heading = table_text.splitlines()[0]
        old = re.search(rf"^{re.escape(heading)}\n.*?\n\n", main.read_text(), re.M | re.S)
        if old:
            edit(main, old.group(0), table_text.strip() + "\n\n")
        else:
            main.write_text(main.read_text() + "\n" + table_text.strip() + "\n")
    for lang, block in (("en", blocks[1]), ("es", blocks[2])):
        labels, prompts = block.split("\n\n", 1)
        path = flows_copy / "prompts" / f"{lang}.toml"
        edit(path, "[labels]\n", labels.strip() + "\n")
        path.write_text(path.read_text() + "\n" + prompts)
    flow = load_flow(flows_copy, ("en", "es"))
    assert "    menu_more --> mobile_app: 6" in mermaid(flow).splitlines()


# ---- [special] takes the hooks the engine knows, by their names ------------------------------


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_HOOKS.items()))
def test_a_hook_by_its_former_name_is_refused_with_its_name(
    flows_copy: Path, old: str, new: str
) -> None:
    edit(flows_copy / "help-line.toml", f"\n{new} = ", f"\n{old} = ")
    message = (
        f"help-line.toml: special.{old}: renamed {new} (the [special] hooks are named on_<event>)"
    )
    with pytest.raises(FlowError, match=f"^{re.escape(message)}$"):
        load_flow(flows_copy)


def test_a_misspelt_hook_is_refused_with_the_closest_name(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", "\non_give_up = ", "\non_giveup = ")
    with pytest.raises(
        FlowError,
        match=r"^help-line.toml: special.on_giveup: not a hook the engine knows "
        r"\(did you mean on_give_up\? hooks: on_home, ",
    ):
        load_flow(flows_copy)


def test_an_unknown_hook_is_refused_with_the_list_of_hooks(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", "\n[special]\n", '\n[special]\nlunch = "main_menu"\n')
    with pytest.raises(FlowError) as raised:
        load_flow(flows_copy)
    message = str(raised.value)
    assert message.startswith("help-line.toml: special.lunch: not a hook the engine knows (hooks:")
    assert all(hook in message for hook in HOOKS)


def test_an_unknown_state_field_is_refused(flows_copy: Path) -> None:
    edit(flows_copy / "help-line.toml", 'reprompt = "main_menu_options"', 'repromt = "x"')
    with pytest.raises(FlowError, match=r"states.main_menu: unknown field\(s\) repromt$"):
        load_flow(flows_copy)

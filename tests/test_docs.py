"""The documentation: a README a newcomer reads in five minutes, and docs/ that speak of the
project as it is (its commands, its files), never of how it came to be."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from voicebot.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200
QUICK_START = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && voicebot chat",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest",
)
HISTORY = re.compile(
    r"\b(this|last|previous|earlier|first|second|third|fourth) session\b"
    r"|\bissue \d+\b|\bsession's\b",
    re.IGNORECASE,
)
CODE_SPAN = re.compile(r"`([^`]+)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _table_rows(markdown: str, heading: str) -> list[str]:
    """The body rows of the first table under the `## heading` section."""
    section = markdown.split(f"\n## {heading}\n", 1)
    assert len(section) == 2, f"no '## {heading}' section"
    body = section[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("|")]
    return rows[2:]  # past the header and its |---| line


def _first_cell(row: str) -> str:
    return re.split(r"(?<!\\)\|", row.strip().strip("|"))[0]


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command a `voicebot a b ...` line names, walking the group; the unknown words."""
    command: click.Command = main
    rest = list(words)
    while rest and isinstance(command, click.Group) and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    unknown = [w for w in rest if re.fullmatch(r"[a-z][a-z-]*", w)]
    return command, unknown


def _named_commands(markdown: str) -> list[str]:
    commands = []
    for row in _table_rows(markdown, "Commands"):
        for span in CODE_SPAN.findall(_first_cell(row)):
            if span.startswith("voicebot "):
                commands.append(span.replace("\\|", "|"))
    return commands


def _check_command(text: str) -> list[str]:
    """What is wrong with one `voicebot ...` line from the table: unknown subcommands or
    options. Placeholders (NAME, FILE.csv, H) and option values are skipped."""
    words = [w for w in re.split(r"[\s\[\]|]+", text.removeprefix("voicebot ")) if w]
    command_words = []
    for word in words:
        if word.startswith("-") or not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        command_words.append(word)
    command, unknown = _resolve(command_words)
    problems = [f"{text}: {w!r} is not a command of {command.name!r}" for w in unknown]
    options = {opt for param in command.params for opt in param.opts}
    problems += [
        f"{text}: {opt} is not an option of {command.name!r}"
        for opt in OPTION.findall(text)
        if opt not in options
    ]
    return problems


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines, at most {MAX_README_LINES}: move detail to docs/"
    )


@pytest.mark.parametrize("command", QUICK_START)
def test_readme_has_the_quick_start_commands(command: str) -> None:
    assert command in README.read_text(encoding="utf-8")


def test_history_wording_is_recognised() -> None:
    for phrase in ("in the fourth session", "see issue 6", "the session's final code"):
        assert HISTORY.search(phrase), phrase
    for phrase in ("console sessions end", "a session cookie", "an issue with the number"):
        assert not HISTORY.search(phrase), phrase


def test_documents_speak_of_the_project_as_it_is() -> None:
    documents = _documents()
    assert len(documents) > 1, "no docs/*.md"
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in documents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HISTORY.search(line)
    ]
    assert not found, "history in the documentation:\n" + "\n".join(found)


def test_command_checker_catches_mistakes() -> None:
    assert _check_command("voicebot flows check [--dir COPY]") == []
    assert _check_command("voicebot flows draw")
    assert _check_command("voicebot audit import")
    assert _check_command("voicebot chat [--phone]")


def test_readme_commands_are_real() -> None:
    commands = _named_commands(README.read_text(encoding="utf-8"))
    assert commands, "no `voicebot ...` command found in the README's commands table"
    problems = [problem for text in commands for problem in _check_command(text)]
    assert not problems, "\n".join(problems)


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a file's headings."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _broken_links(path: Path, only_under: str = "") -> tuple[list[str], list[str]]:
    """The relative links of one document (those under `only_under` when given), and the
    ones whose file or heading does not exist."""
    links, broken = [], []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if only_under and not target.startswith(only_under):
            continue
        links.append(target)
        name, _, anchor = target.partition("#")
        file = (path.parent / name).resolve()
        if not file.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no such heading")
    return links, broken


def test_link_checker_catches_mistakes(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\n## The agents' console\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#the-agents-console) [gone](docs/b.md) "
        "[bad](docs/a.md#nowhere) [web](https://example.org/docs/x.md)\n"
    )
    links, broken = _broken_links(page, "docs/")
    assert len(links) == 4
    assert broken == ["docs/b.md: no such file", "docs/a.md#nowhere: no such heading"]


def test_readme_links_to_docs_exist() -> None:
    links, broken = _broken_links(README, "docs/")
    assert links, "the README links to nothing in docs/"
    assert not broken, "README.md: " + "; ".join(broken)


def test_links_between_docs_exist() -> None:
    broken = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in sorted(DOCS.glob("*.md"))
        for problem in _broken_links(path)[1]
    ]
    assert not broken, "\n".join(broken)

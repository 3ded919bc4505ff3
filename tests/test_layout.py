"""The package's shape, kept: small functions, a few modules at the top, a pure dialog.

Read with `ast`, so these hold for every file in voicebot/ without importing it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "voicebot"
LONGEST_FUNCTION = 60
MOST_TOP_MODULES = 8
# What the dialog may import: the standard library, rapidfuzz and itself. No Flask, Twilio,
# Redis or SQL: every conversation stays a plain function call.
DIALOG_MAY_IMPORT = ("rapidfuzz", "voicebot.dialog")


def _sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts]


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_no_function_in_the_package_is_longer_than_a_screen() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {name} ({lines} lines)"
        for path in _sources()
        for name, lines in _functions(path)
        if lines > LONGEST_FUNCTION
    ]
    assert not long, "split by meaning:\n" + "\n".join(long)


def test_the_measure_counts_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x = {i}" for i in range(LONGEST_FUNCTION))
    path = tmp_path / "long.py"
    path.write_text(f"def long():\n{body}\n")
    assert _functions(path) == [("long", LONGEST_FUNCTION + 1)]


def test_the_top_level_holds_a_handful_of_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= MOST_TOP_MODULES, modules


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_dialog_imports_nothing_outside_itself_but_the_standard_library() -> None:
    foreign = {
        f"{path.name}: {name}"
        for path in sorted((PACKAGE / "dialog").glob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith(DIALOG_MAY_IMPORT)
    }
    assert not foreign, foreign

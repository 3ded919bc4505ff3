"""`voicebot roster import FILE.csv`: load the district's student export.

Errors name a line and a column, never a value: the file holds SSNs and birth dates, and
whatever this command prints may end up pasted into a ticket.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from voicebot.records.roster import ImportResult

SHOWN_ERRORS = 100


class Progress:
    """Rows read so far, on stderr: a live line on a terminal, a line per 10% otherwise."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.live = sys.stderr.isatty()
        self.next_report = 0.1
        self.started = time.monotonic()

    def __call__(self, rows: int) -> None:
        self.done += rows
        fraction = min(self.done / self.total, 1.0)
        if self.live:
            click.echo(
                f"\rreading roster: {fraction:4.0%} ({self.done:,} of {self.total:,} rows)",
                err=True,
                nl=False,
            )
        elif fraction >= self.next_report:
            click.echo(f"reading roster: {fraction:.0%} ({self.done:,} rows)", err=True)
            while self.next_report <= fraction:
                self.next_report += 0.1

    def stage(self, note: str) -> None:
        if self.live:
            click.echo("", err=True)
            self.live = False
        click.echo(f"{note} ({time.monotonic() - self.started:.1f} s so far)", err=True)


@click.group("roster")
def roster() -> None:
    """The district's student roster (students, guardians, last four digits)."""


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the good rows and report the bad ones (default: a bad row imports nothing).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="The file is the whole roster: take off the students it does not list (withdrawn, "
    "moved). Nothing is taken off when the file has bad rows; nothing is imported when more "
    "than a quarter of the roster would go. Use only with the district's whole export.",
)
@click.option(
    "--allow-large-removal",
    is_flag=True,
    help="With --replace: take off the students the file leaves out even when they are more "
    "than a quarter of the roster (the end of a school year).",
)
def import_command(
    file: Path, skip_invalid: bool, replace: bool, allow_large_removal: bool
) -> None:
    """Import FILE.csv, the district's export: one row per student and guardian.

    \b
    Header (any column order):
      student_number,first_name,last_name,birth_date,ssn,
      guardian_name,guardian_phone,guardian_email,school

    Only the last four digits of ssn are kept. Importing again updates, never duplicates;
    with --replace, students the file does not list lose their guardians and are deleted
    (those the disclosure audit names keep only their student number and birth date).
    """
    from voicebot.cli.common import engine_or_exit
    from voicebot.records.roster import RosterError, count_lines, import_roster

    engine = engine_or_exit()
    progress = Progress(count_lines(file) - 1)
    started = time.monotonic()
    try:
        result = import_roster(
            engine,
            file,
            skip_invalid=skip_invalid,
            progress=progress,
            stage=progress.stage,
            replace=replace,
            allow_large_removal=allow_large_removal,
        )
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    _report(result, replace, time.monotonic() - started)


def _report(result: ImportResult, replace: bool, seconds: float) -> None:
    """What the import did, or why it imported nothing (then the command fails)."""
    for error in sorted(result.errors, key=lambda e: e.line)[:SHOWN_ERRORS]:
        click.echo(str(error), err=True)
    if result.bad_rows > SHOWN_ERRORS:
        click.echo(f"... and {result.bad_rows - SHOWN_ERRORS:,} more bad rows", err=True)
    if not result.committed:
        raise click.ClickException(
            f"{result.bad_rows:,} bad row(s): nothing imported. Fix them, or run again with "
            "--skip-invalid to import the good rows"
            + (" (and take nobody off the roster)." if replace else ".")
        )
    click.echo(
        f"imported {result.imported_rows:,} rows in {seconds:.1f} s: {result.students:,} "
        f"students, {result.guardians:,} guardians, {result.links:,} student-guardian links"
    )
    if result.bad_rows:
        click.echo(f"skipped {result.bad_rows:,} bad row(s) (listed above)")
    if result.rows == 0:
        click.echo("the file has no student rows")
    if result.replace_skipped:
        click.echo(
            "--replace: nothing taken off, because the file had bad rows (a bad row's student "
            "would look withdrawn). Fix them and import again with --replace."
        )
    elif replace:
        click.echo(
            f"taken off the roster: {result.removed:,} student(s) deleted; "
            f"{result.retired:,} cleared and kept for the disclosure audit (student number "
            "and birth date only)"
        )
    elif result.not_in_file:
        click.echo(
            f"{result.not_in_file:,} student(s) on the roster are not in this file: kept "
            "(import the district's whole export with --replace to take them off)"
        )

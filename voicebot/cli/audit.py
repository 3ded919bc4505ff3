"""`voicebot audit export`: the verification and disclosure audit, to stdout.

voicebot audit export --since 2025-08-01 --until 2026-05-31 > audit.csv
voicebot audit export --format jsonl | jq 'select(.record == "disclosure")'

Days are UTC days, both ends included. Each row: time, channel, step and outcome, the
caller's number as its last four digits, the student number and the STIR/SHAKEN attestation;
never SSN digits, a birth date or a code.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group("audit")
def audit() -> None:
    """The audit trail of verifications and disclosures."""


@audit.command("export")
@click.option("--since", type=DAY, help="First day (UTC, YYYY-MM-DD) included.")
@click.option("--until", type=DAY, help="Last day (UTC, YYYY-MM-DD) included.")
@click.option(
    "--format",
    "form",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="CSV with a header, or one JSON object per line.",
)
def export(since: datetime | None, until: datetime | None, form: str) -> None:
    """Every verification attempt and disclosure, oldest first, to stdout."""
    from sqlalchemy.exc import SQLAlchemyError

    from voicebot.cli.common import engine_or_exit, settings_or_exit
    from voicebot.records import audit_export

    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) + timedelta(days=1) if until else None
    if start and end and end <= start:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    engine = engine_or_exit(settings_or_exit())
    out = sys.stdout  # piped, as often as not
    try:
        count = audit_export.write(audit_export.rows(engine, start, end), out, form)
    except SQLAlchemyError as exc:  # hide_parameters: the message carries no values
        raise click.ClickException(
            f"export stopped: the database failed ({type(exc).__name__}); the output is incomplete"
        ) from exc
    out.flush()
    click.echo(f"{count} records exported", err=True)

"""The audit trail as plain rows: every verification attempt and every disclosure, oldest
first, for the district's own records or a parent's FERPA request (`voicebot audit export`).

Nothing secret can be in it: the tables hold no SSN digits but the last four (not exported
here), no birth date, no code and nothing the caller keyed; the student number is joined
from the roster, and the caller's number is shown as its last four digits only.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Engine, String, literal, select, union_all

from voicebot.records.models import Disclosure, Student, VerificationAttempt

FIELDS = (
    "time",  # UTC, ISO 8601
    "record",  # verification | disclosure
    "id",  # the row's id in its table
    "channel",  # voice | sms
    "step",  # request | check | disclose
    "outcome",  # the attempt's outcome; "disclosed" for a disclosure
    "method",  # how a disclosure's caller was verified (dob+otp)
    "caller_last4",  # the last four digits of the caller's number; empty when withheld
    "student_number",  # empty when the attempt found no student
    "stir",  # Twilio's STIR/SHAKEN attestation (StirVerstat); empty when none came
    "conversation",  # the call (CallSid) or text thread it belongs to
)
FORMATS = ("csv", "jsonl")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so


def _query(since: datetime | None, until: datetime | None) -> Any:
    """One statement, both tables, ordered by time: streamed, never all in memory."""

    def text(value: str) -> Any:
        return literal(value, type_=String)

    attempts = (
        select(
            VerificationAttempt.attempted_at.label("at"),
            text("verification").label("record"),
            VerificationAttempt.id.label("id"),
            VerificationAttempt.channel.label("channel"),
            VerificationAttempt.step.label("step"),
            VerificationAttempt.outcome.label("outcome"),
            text("").label("method"),
            VerificationAttempt.phone.label("phone"),
            Student.student_number.label("student_number"),
            VerificationAttempt.stir.label("stir"),
            VerificationAttempt.conversation.label("conversation"),
        )
        .outerjoin(Student, Student.id == VerificationAttempt.student_id)
        .where(*_between(VerificationAttempt.attempted_at, since, until))
    )
    disclosures = (
        select(
            Disclosure.disclosed_at,
            text("disclosure"),
            Disclosure.id,
            Disclosure.channel,
            text("disclose"),
            text("disclosed"),
            Disclosure.method,
            Disclosure.phone,
            Student.student_number,
            Disclosure.stir,
            Disclosure.call_id,
        )
        .outerjoin(Student, Student.id == Disclosure.student_id)
        .where(*_between(Disclosure.disclosed_at, since, until))
    )
    both = union_all(attempts, disclosures).subquery()
    return select(both).order_by(both.c.at, both.c.record.desc(), both.c.id)


def _between(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    return [c for c in (since and column >= since, until and column < until) if c is not None]


def last_four(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def _when(value: datetime) -> str:
    """SQLite hands times back without their zone: they were stored as UTC."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def rows(
    engine: Engine, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, str]]:
    """Every attempt and disclosure from ``since`` (inclusive) to ``until`` (exclusive)."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(
            _query(since, until)
        )
        for row in result:
            yield {
                "time": _when(row.at),
                "record": row.record,
                "id": str(row.id),
                "channel": row.channel or "",
                "step": row.step or "",
                "outcome": row.outcome or "",
                "method": row.method or "",
                "caller_last4": last_four(row.phone),
                "student_number": row.student_number or "",
                "stir": row.stir or "",
                "conversation": row.conversation or "",
            }


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA) else value


def write(records: Iterable[dict[str, str]], out: TextIO, form: str = "csv") -> int:
    """Write ``records`` as CSV (with a header) or JSON lines; how many were written."""
    count = 0
    if form == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for record in records:
            writer.writerow([_cell(record[name]) for name in FIELDS])
            count += 1
    elif form == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    else:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    return count

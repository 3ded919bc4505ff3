"""Retention: deleting what the help line no longer needs to keep ([retention] settings).

`voicebot purge` runs :func:`purge`, typically once a day from cron. Each kind is handled in
a transaction of its own, in primary-key batches of :data:`BATCH` rows (each batch starts
after the last id seen), so a first run over years of records never builds one huge
statement. A second run finds nothing more to do; two at once delete nothing twice (one
waits for the other's row locks, or at worst stops with the database's error, its kind
rolled back, for the next run to finish).

Opt-outs are never purged. A student kept only for the disclosure audit (taken off the
roster, names cleared) goes once no disclosure names them any more.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Engine, exists, func, select, true
from sqlalchemy import Table as SqlTable

from voicebot.config.model import Retention
from voicebot.records.handoffs import Callback, Handoff, UnrecognisedQuestion
from voicebot.records.models import Disclosure, Student, VerificationAttempt

log = logging.getLogger("voicebot.retention")

BATCH = 1000

Cutoffs = dict[str, datetime | None]  # Retention field -> delete what is older; None: keep
Condition = Callable[[Cutoffs], ColumnElement[bool]]


@dataclass(frozen=True)
class Kind:
    """One kind of record and how its old rows are found and removed."""

    name: str  # as `voicebot purge` prints it
    setting: str  # the Retention field (and [retention] key without "_days") that rules it
    table: SqlTable
    old: Condition  # the rows past their retention, given every kind's cutoff
    clear: dict[str, Any] = field(default_factory=dict)  # set these instead of deleting
    detach: tuple[Column[Any], ...] = ()  # columns elsewhere pointing here: set NULL first


def _older(column: Any, setting: str) -> Condition:
    return lambda cutoffs: column < cutoffs[setting]


def _old_transcripts(cutoffs: Cutoffs) -> ColumnElement[bool]:
    """Transcripts past their days, of transfers that stay (the rest go whole)."""
    kept = cutoffs["transfers"]
    return (
        (Handoff.created_at < cutoffs["transcripts"])
        & (Handoff.transcript != "")
        & (Handoff.created_at >= kept if kept is not None else true())
    )


def _audit_only_students(cutoffs: Cutoffs) -> ColumnElement[bool]:
    """Taken off the roster and kept for the audit, which no longer names them."""
    recent = exists().where(
        Disclosure.student_id == Student.id, Disclosure.disclosed_at >= cutoffs["disclosures"]
    )
    return ~Student.on_roster() & ~recent


KINDS: tuple[Kind, ...] = (
    Kind(
        "verification attempts",
        "verification_attempts",
        VerificationAttempt.__table__,  # type: ignore[arg-type]
        _older(VerificationAttempt.attempted_at, "verification_attempts"),
    ),
    Kind(
        "disclosures",
        "disclosures",
        Disclosure.__table__,  # type: ignore[arg-type]
        _older(Disclosure.disclosed_at, "disclosures"),
    ),
    Kind(
        "students kept only for the audit",
        "disclosures",
        Student.__table__,  # type: ignore[arg-type]
        _audit_only_students,
        detach=(VerificationAttempt.__table__.c.student_id,),
    ),
    Kind(
        "callback requests",
        "callbacks",
        Callback.__table__,  # type: ignore[arg-type]
        _older(Callback.created_at, "callbacks"),
    ),
    Kind(
        "transfers",
        "transfers",
        Handoff.__table__,  # type: ignore[arg-type]
        _older(Handoff.created_at, "transfers"),
        detach=(Callback.__table__.c.handoff_id,),
    ),
    Kind(
        "transfer transcripts",
        "transcripts",
        Handoff.__table__,  # type: ignore[arg-type]
        _old_transcripts,
        clear={"transcript": ""},
    ),
    Kind(
        "unrecognised questions",
        "unrecognised_questions",
        UnrecognisedQuestion.__table__,  # type: ignore[arg-type]
        _older(UnrecognisedQuestion.created_at, "unrecognised_questions"),
    ),
)


@dataclass(frozen=True)
class Purged:
    """What happened to one kind: ``count`` rows removed (or that would be); ``days`` 0 and
    ``count`` None when the kind is kept for good."""

    name: str
    days: int
    count: int | None
    cleared: bool = False  # a column emptied, the row kept (transcripts)


def cutoffs(retention: Retention, now: datetime | None = None) -> Cutoffs:
    """Each kind's oldest time kept: rows strictly older go."""
    now = now or datetime.now(UTC)
    return {
        kind: (now - timedelta(days=days)) if days else None
        for kind, days in vars(retention).items()
    }


def purge(
    engine: Engine,
    retention: Retention,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = BATCH,
) -> list[Purged]:
    """Delete (or, with ``dry_run``, count) every kind's rows past its retention."""
    limits = cutoffs(retention, now)
    done: list[Purged] = []
    with engine.connect() as conn, _zeroing_deletes(conn, active=not dry_run):
        for kind in KINDS:
            days = getattr(retention, kind.setting)
            if limits[kind.setting] is None:
                done.append(Purged(kind.name, days, None, bool(kind.clear)))
                continue
            condition = kind.old(limits)
            with conn.begin():
                if dry_run:
                    count = _count(conn, kind.table, condition)
                else:
                    count = _in_batches(conn, kind, condition, batch)
            done.append(Purged(kind.name, days, count, bool(kind.clear)))
            if count and not dry_run:
                log.info("purge: %s: %d older than %d days removed", kind.name, count, days)
    return done


def _count(conn: Connection, table: SqlTable, condition: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one())


def _in_batches(conn: Connection, kind: Kind, condition: ColumnElement[bool], batch: int) -> int:
    """Remove (or clear) the matching rows, ``batch`` ids at a time, in the caller's
    transaction; how many were."""
    key = next(iter(kind.table.primary_key.columns))
    total, last = 0, None
    while True:
        after = key > last if last is not None else true()
        ids = list(conn.scalars(select(key).where(condition, after).order_by(key).limit(batch)))
        if not ids:
            return total
        for column in kind.detach:
            conn.execute(column.table.update().where(column.in_(ids)).values({column.name: None}))
        chosen = kind.table.c[key.name].in_(ids)
        if kind.clear:
            statement = kind.table.update().where(chosen).values(kind.clear)
        else:
            statement = kind.table.delete().where(chosen)
        total += conn.execute(statement).rowcount
        last = ids[-1]


@contextlib.contextmanager
def _zeroing_deletes(conn: Connection, active: bool) -> Iterator[None]:
    """SQLite: deleted rows zeroed in the file (``secure_delete``, as the roster import
    does) and the write-ahead log emptied at the end, so a purged caller's number is not
    left in either. PostgreSQL keeps deleted rows until VACUUM reuses their space."""
    if not active or conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete = ON")
    conn.commit()
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(before or 0)}")
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        conn.commit()
        if busy and busy[0]:
            log.warning("purge: the database's log could not be emptied yet")

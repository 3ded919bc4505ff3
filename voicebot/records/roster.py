"""Roster import: the district's student export into students, guardians and their links.

The file has one row per student-guardian pair, with this header::

    student_number,first_name,last_name,birth_date,ssn,guardian_name,guardian_phone,
    guardian_email,school

Rules that shape the code:

* Of ``ssn`` only the last four digits survive validation (rule 2). The full value is never
  written anywhere: not to the database (not even the staging table), not to logs, not into
  an error message. Error messages name the line and the column, never a value.
* All or nothing by default: one transaction; a file with any bad row imports nothing.
  ``skip_invalid`` imports the good rows and reports the rest.
* Idempotent: students are keyed by student number, guardians by (phone, name); a re-import
  updates them, and each imported student's guardians become exactly those in the file (a
  guardian taken off a student in the district's system stops getting that student's codes).
* ``replace``: the file is the whole roster. Students it leaves out are taken off: deleted,
  or, when the disclosure audit names them, kept as a number and a birth date only. Never
  after a bad row (its student would look withdrawn).
* Fast: a million rows in well under a minute on SQLite. Rows are validated in chunks (in
  worker processes for big files: phone parsing is the slow part), bulk-inserted into a
  temporary staging table with executemany, and merged with a handful of set-based
  INSERT ... SELECT ... ON CONFLICT statements that SQLite and PostgreSQL both understand.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import logging
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from voicebot.phones import PhoneError, parse_phone
from voicebot.records.names import name_key

log = logging.getLogger("voicebot.roster")

COLUMNS = (
    "student_number",
    "first_name",
    "last_name",
    "birth_date",
    "ssn",
    "guardian_name",
    "guardian_phone",
    "guardian_email",
    "school",
)
MAX_REPORTED_ERRORS = 1000  # all bad rows are counted; this many are kept with their reason
CHUNK_ROWS = 20_000
PARALLEL_FROM_ROWS = 50_000  # smaller files are validated in this process

_STUDENT_NUMBER = re.compile(r"\d{1,20}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SSN = re.compile(r"\d{9}|\d{3}-\d{2}-\d{4}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")

# A validated row, as staged: (line, student_number, first_name, last_name, birth_date ISO,
# ssn_last4, school, guardian_name, guardian_phone, guardian_email, first_name_key,
# last_name_key)
Staged = tuple[
    int, str, str, str, str, str | None, str | None, str | None, str | None, str | None, str, str
]


class RosterError(ValueError):
    """The file as a whole cannot be imported (wrong header, not UTF-8 text, not CSV)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    rows: int = 0  # data rows read
    imported_rows: int = 0
    students: int = 0  # students in the file that were written
    guardians: int = 0
    links: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    committed: bool = False
    # replace=True: students the file does not list, deleted, or (when the disclosure audit
    # refers to them) kept as a student number and birth date only
    removed: int = 0
    retired: int = 0
    replace_skipped: bool = False  # replace=True, but the file had bad rows: nothing removed
    not_in_file: int = 0  # students on the roster (not already taken off) the file leaves out

    def add_error(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, reason))


# --- validation (runs in worker processes for big files: module-level and picklable) ------


@lru_cache(maxsize=65_536)
def _phone(value: str) -> str:
    return parse_phone(value)


def _name(value: str, column: str, limit: int, problems: list[str]) -> str:
    value = _SPACES.sub(" ", value).strip()
    if not value:
        problems.append(f"{column} is empty")
    elif len(value) > limit:
        problems.append(f"{column} is longer than {limit} characters")
    elif _CONTROL.search(value):
        problems.append(f"{column} contains control characters")
    return value


def validate_row(line: int, row: list[str], index: tuple[int, ...]) -> Staged | str:
    """One CSV row -> a staged tuple, or the reasons it is bad (never quoting a value)."""
    if len(row) != len(COLUMNS):
        return f"expected {len(COLUMNS)} fields, found {len(row)}"
    number, first, last, birth, ssn, g_name, g_phone, g_email, school = (
        row[i].strip() for i in index
    )
    problems: list[str] = []
    if not _STUDENT_NUMBER.fullmatch(number):
        problems.append("student_number must be 1 to 20 digits")
    first = _name(first, "first_name", 100, problems)
    last = _name(last, "last_name", 100, problems)
    birth_iso = _birth_date(birth, problems)
    last4 = _last4(ssn, problems)
    del ssn  # nothing below may see more than the last four
    guardian_name, guardian_phone, guardian_email = _guardian(g_name, g_phone, g_email, problems)
    school_name: str | None = _SPACES.sub(" ", school).strip() or None
    if school_name and len(school_name) > 200:
        problems.append("school is longer than 200 characters")
    if problems:
        return "; ".join(problems)
    return (
        line,
        number,
        first,
        last,
        birth_iso,
        last4,
        school_name,
        guardian_name,
        guardian_phone,
        guardian_email,
        name_key(first),
        name_key(last),
    )


def _birth_date(birth: str, problems: list[str]) -> str:
    """The birth date in ISO form, or "" with the problem noted."""
    if not _ISO_DATE.fullmatch(birth):
        problems.append("birth_date must be a date written YYYY-MM-DD")
        return ""
    try:
        born = date.fromisoformat(birth)
    except ValueError:  # its message would quote the date: not re-raised, not chained
        problems.append("birth_date must be a date written YYYY-MM-DD")
        return ""
    if born.year < 1900 or born > date.today():
        problems.append("birth_date is not a plausible birth date")
    return born.isoformat()


def _last4(ssn: str, problems: list[str]) -> str | None:
    """Of the SSN only its last four digits leave here (rule 2)."""
    if not ssn:
        return None
    if _SSN.fullmatch(ssn):
        return ssn[-4:]
    problems.append("ssn must be blank, 9 digits or NNN-NN-NNNN")
    return None


def _guardian(
    g_name: str, g_phone: str, g_email: str, problems: list[str]
) -> tuple[str | None, str | None, str | None]:
    """(name, phone, email) of the row's guardian; all None when the row lists none."""
    guardian_name = guardian_phone = guardian_email = None
    if g_name or g_phone or g_email:
        guardian_name = _name(g_name, "guardian_name", 200, problems)
        if not g_phone:
            problems.append("guardian_phone is empty")
        else:
            try:
                guardian_phone = _phone(g_phone)
            except PhoneError as exc:  # its messages never quote the number
                problems.append(f"guardian_phone: {exc}")
        if g_email:
            if len(g_email) > 254 or not _EMAIL.fullmatch(g_email):
                problems.append("guardian_email is not an email address")
            guardian_email = g_email
    return guardian_name, guardian_phone, guardian_email


def validate_block(
    block: str, first_line: int, index: tuple[int, ...]
) -> tuple[list[Staged], list[tuple[int, str]], int]:
    """Parse and validate one block of whole CSV records (worker side: the main process
    only splits the file, so parsing runs in parallel too)."""
    good: list[Staged] = []
    bad: list[tuple[int, str]] = []
    rows = 0
    reader = csv.reader(io.StringIO(block), strict=True)
    line = first_line  # where the next record starts
    try:
        for row in reader:
            start, line = line, first_line + reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            rows += 1
            result = validate_row(start, row, index)
            if isinstance(result, str):
                bad.append((start, result))
            else:
                good.append(result)
    except csv.Error as exc:  # its messages describe the syntax, never quote a field
        raise RosterError(f"line {line}: not valid CSV ({exc}); nothing imported") from None
    return good, bad, rows


# --- reading ------------------------------------------------------------------------------


def count_lines(path: Path) -> int:
    """Lines in the file (for progress); a fast byte count, not a CSV parse."""
    count = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk
    return count + (1 if last and not last.endswith(b"\n") else 0)


def _column_index(header: list[str]) -> tuple[int, ...]:
    """Where each column is. The first line's other names are never repeated in the error:
    a file exported without its header starts with a student's row (name, birth date, SSN).
    Only the expected names are shown, those missing and those a name comes close to."""
    names = [name.strip().lower() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    extra = [name for name in names if name not in COLUMNS]
    if missing or extra or len(names) != len(COLUMNS):
        close = sorted(
            {m for n in extra for m in difflib.get_close_matches(n, missing, n=1, cutoff=0.8)}
        )
        raise RosterError(
            "line 1: the header must be "
            + ",".join(COLUMNS)
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (
                f" ({len(extra)} other name(s), not shown: without its header line a file "
                "starts with a student's details"
                + (f"; one looks like a misspelt {', '.join(close)}" if close else "")
                + ")"
                if extra
                else ""
            )
        )
    return tuple(names.index(column) for column in COLUMNS)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one by one so an encoding error can name
    its line."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RosterError(f"line {number}: not UTF-8 text; nothing imported") from None


def _blocks(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[str, int]]:
    """Whole CSV records, about CHUNK_ROWS at a time, as (text, number of its first line).

    A record ends at a line break outside quotes; counting quote characters finds that
    without parsing (the workers parse, strictly, so a file this gets wrong is refused).
    """
    block: list[str] = []
    start = 0
    quoted = False
    records = 0
    for number, line in lines:
        if not block:
            start = number
        block.append(line)
        if line.count('"') & 1:
            quoted = not quoted
        if not quoted:
            records += 1
            if records >= CHUNK_ROWS:
                yield "".join(block), start
                block, records = [], 0
    if block:
        yield "".join(block), start


# --- writing ------------------------------------------------------------------------------

_STAGING = "roster_staging"


def _create_staging(conn: Connection) -> None:
    birth_type = "DATE" if conn.dialect.name == "postgresql" else "TEXT"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGING}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_STAGING} ("
        "line INTEGER PRIMARY KEY, student_number VARCHAR(20) NOT NULL, "
        "first_name VARCHAR(100) NOT NULL, last_name VARCHAR(100) NOT NULL, "
        f"birth_date {birth_type} NOT NULL, ssn_last4 VARCHAR(4), school VARCHAR(200), "
        "guardian_name VARCHAR(200), guardian_phone VARCHAR(16), guardian_email VARCHAR(254), "
        "first_name_key VARCHAR(100), last_name_key VARCHAR(100))"
    )


def _stage(conn: Connection, rows: list[Staged]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        # COPY: PostgreSQL's bulk path, far faster than row-by-row inserts.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {_STAGING} FROM STDIN") as copy:
            for staged in rows:
                copy.write_row(staged)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.name == "postgresql":
        rows = [(*r[:4], date.fromisoformat(r[4]), *r[5:]) for r in rows]  # type: ignore[misc]
    # The driver's own executemany: no per-row ORM or Core overhead.
    conn.exec_driver_sql(
        f"INSERT INTO {_STAGING} VALUES ({', '.join([mark] * 12)})",
        rows,  # type: ignore[arg-type]
    )


def _index_staging(conn: Connection) -> None:
    """Indexes that make every merge step a walk in key order, whatever the planner thinks
    of a temporary table it has no statistics for."""
    conn.exec_driver_sql(
        f"CREATE INDEX {_STAGING}_student "
        f"ON {_STAGING} (student_number, line, guardian_phone, guardian_name)"
    )
    conn.exec_driver_sql(
        f"CREATE INDEX {_STAGING}_guardian ON {_STAGING} (guardian_phone, guardian_name, line)"
    )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {_STAGING}")  # autovacuum never analyzes temp tables


def _conflicts(conn: Connection) -> list[tuple[int, int, str]]:
    """Rows whose student details differ from an earlier row of the same student number."""
    # CROSS JOIN fixes the join order in SQLite (and means a plain join in PostgreSQL).
    rows = conn.execute(
        text(
            f"""
            SELECT r.line, MIN(a.line), r.student_number
            FROM {_STAGING} r CROSS JOIN {_STAGING} a
            WHERE a.student_number = r.student_number AND a.line < r.line AND (
                r.first_name <> a.first_name OR r.last_name <> a.last_name
                OR r.birth_date <> a.birth_date
                OR COALESCE(r.ssn_last4, '') <> COALESCE(a.ssn_last4, '')
                OR COALESCE(r.school, '') <> COALESCE(a.school, ''))
            GROUP BY r.line, r.student_number
            ORDER BY r.line
            """
        )
    )
    return [(int(line), int(first), number) for line, first, number in rows]


def _merge(conn: Connection, result: ImportResult) -> None:
    """Staging -> students, guardians, links. Inserts go in key order so the B-trees grow
    at their ends instead of being written all over."""
    result.students = _merge_students(conn)
    result.guardians = _merge_guardians(conn)
    result.links = _relink(conn)


def _merge_students(conn: Connection) -> int:
    """Students in the file: inserted, or updated in place (keyed by student number)."""
    return conn.execute(
        text(
            f"""
            INSERT INTO students (student_number, first_name, last_name, birth_date, school,
                                  ssn_last4, updated_at, first_name_key, last_name_key)
            SELECT r.student_number, r.first_name, r.last_name, r.birth_date, r.school,
                   r.ssn_last4, :now, r.first_name_key, r.last_name_key
            FROM {_STAGING} r
            WHERE NOT EXISTS (SELECT 1 FROM {_STAGING} a
                              WHERE a.student_number = r.student_number AND a.line < r.line)
            ORDER BY r.student_number
            ON CONFLICT (student_number) DO UPDATE SET
                first_name = excluded.first_name, last_name = excluded.last_name,
                birth_date = excluded.birth_date, school = excluded.school,
                ssn_last4 = excluded.ssn_last4, updated_at = excluded.updated_at,
                first_name_key = excluded.first_name_key, last_name_key = excluded.last_name_key
            """
        ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
        {"now": datetime.now(UTC)},
    ).rowcount


def _merge_guardians(conn: Connection) -> int:
    """Guardians in the file, keyed by (phone, name). A guardian listed on several rows
    keeps the email of the last one."""
    return conn.execute(
        text(
            f"""
            INSERT INTO guardians (name, phone, email)
            SELECT r.guardian_name, r.guardian_phone, r.guardian_email
            FROM {_STAGING} r
            WHERE r.guardian_phone IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {_STAGING} b
                WHERE b.guardian_phone = r.guardian_phone
                  AND b.guardian_name = r.guardian_name AND b.line > r.line)
            ORDER BY r.guardian_phone, r.guardian_name
            ON CONFLICT (phone, name) DO UPDATE SET email = excluded.email
            """
        )
    ).rowcount


def _relink(conn: Connection) -> int:
    """Each student in the file gets exactly the guardians the file lists for it; the
    number of links written."""
    has_links = conn.execute(text("SELECT 1 FROM student_guardians LIMIT 1")).first()
    if has_links:
        conn.execute(
            text(
                f"""
                DELETE FROM student_guardians WHERE student_id IN (
                    SELECT s.id FROM {_STAGING} r CROSS JOIN students s
                    WHERE s.student_number = r.student_number)
                """
            )
        )
    links = conn.execute(
        text(
            f"""
            INSERT INTO student_guardians (student_id, guardian_id)
            SELECT s.id, g.id
            FROM {_STAGING} r CROSS JOIN students s CROSS JOIN guardians g
            WHERE s.student_number = r.student_number
              AND g.phone = r.guardian_phone AND g.name = r.guardian_name
            ORDER BY r.student_number
            ON CONFLICT DO NOTHING
            """
        )
    ).rowcount
    if has_links:
        # Guardians no student lists any more must not keep receiving codes.
        conn.execute(text(_DELETE_UNLINKED_GUARDIANS))
    return links


_DELETE_UNLINKED_GUARDIANS = """
DELETE FROM guardians WHERE NOT EXISTS (
    SELECT 1 FROM student_guardians sg WHERE sg.guardian_id = guardians.id)
"""


@contextmanager
def _bulk_settings(conn: Connection) -> Iterator[None]:
    """SQLite, for this import only (the connection goes back to the pool afterwards):

    * enough page cache that the merge's joins and index builds stay in memory;
    * no per-row foreign key lookups. Every id the merge writes was just read by a join
      inside the same write transaction, and SQLite has one writer at a time, so each
      reference is valid by construction; --replace removes the references to what it
      deletes itself. (On PostgreSQL the constraints stay on.)
    * secure delete: what a re-import or --replace overwrites or deletes (a withdrawn
      child's name, birth date, last four digits) is zeroed in the file, not left in its
      free pages. Many SQLite builds do this by default; this makes sure.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA cache_size = -131072")  # KiB: 128 MiB at most
    conn.exec_driver_sql("PRAGMA foreign_keys = OFF")  # only takes effect between transactions
    conn.exec_driver_sql("PRAGMA secure_delete = ON")
    conn.commit()  # end the transaction SQLAlchemy began for the pragmas
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache or -2000)}")
        conn.exec_driver_sql(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(secure or 0)}")
        conn.commit()


def import_roster(
    engine: Engine,
    path: Path,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    workers: int | None = None,
    replace: bool = False,
    allow_large_removal: bool = False,
) -> ImportResult:
    """Import one roster file; see the module docstring for the rules.

    ``replace``: the file is the whole roster; students it does not list are taken off (see
    ``_remove_missing``), unless the file had bad rows, which may hide students that are
    still enrolled: then nothing is taken off and ``replace_skipped`` says so. Taking off
    more than REPLACE_LIMIT of the roster raises RosterError (nothing imported) unless
    ``allow_large_removal``.

    ``progress`` is called with the number of rows just read, ``stage`` with a short note
    when the import moves on (for a progress display). ``workers`` forces the number of
    validating processes (0: none); by default big files use one per CPU.
    """
    result = ImportResult()
    path = Path(path)
    if workers is None:
        cpus = os.cpu_count() or 1
        workers = cpus if cpus > 1 and count_lines(path) > PARALLEL_FROM_ROWS else 0
    with ExitStack() as stack:
        handle = stack.enter_context(path.open("rb"))
        conn = stack.enter_context(engine.connect())
        stack.enter_context(_bulk_settings(conn))
        transaction = conn.begin()
        try:
            if not _import(
                conn,
                handle,
                result,
                skip_invalid,
                progress,
                stage,
                workers,
                replace,
                allow_large_removal,
            ):
                transaction.rollback()
                return result
            transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        _empty_log(conn)
    result.committed = True
    _log_result(result, replace)
    return result


def _empty_log(conn: Connection) -> None:
    """SQLite: move the import's pages from the write-ahead log into the database file now
    (where secure_delete has zeroed what was deleted) and empty the log: otherwise a
    withdrawn child's details stay in it while the service keeps it open."""
    if conn.dialect.name != "sqlite":
        return
    busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    if busy and busy[0]:
        log.warning("roster imported; the database's log could not be emptied yet")


def _log_result(result: ImportResult, replace: bool) -> None:
    log.info(
        "roster imported: %d rows, %d students, %d guardians, %d bad rows skipped",
        result.imported_rows,
        result.students,
        result.guardians,
        result.bad_rows,
    )
    if replace:
        log.info(
            "roster replaced: %d students not in the file deleted, %d cleared and kept for the "
            "disclosure audit%s",
            result.removed,
            result.retired,
            "; skipped: the file had bad rows" if result.replace_skipped else "",
        )


def _import(
    conn: Connection,
    handle: BinaryIO,
    result: ImportResult,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
    stage: Callable[[str], None] | None,
    workers: int,
    replace: bool = False,
    allow_large_removal: bool = False,
) -> bool:
    """Stage, check and merge inside the caller's transaction; False: roll it back."""
    lines = _lines(handle)
    index = _header(lines)
    _create_staging(conn)
    _read_rows(conn, lines, index, result, skip_invalid, progress, workers)
    if result.bad_rows and not skip_invalid:
        return False
    if stage:
        stage("checking rows of the same student")
    _index_staging(conn)
    if not _settle_conflicts(conn, result, skip_invalid):
        return False
    if stage:
        stage("writing students and guardians")
    on_roster = 0  # before this file adds anyone: what --replace's limit is measured against
    if replace:
        on_roster = conn.execute(
            text(f"SELECT count(*) FROM students WHERE {_ON_ROSTER}")
        ).scalar_one()
    _merge(conn, result)
    result.not_in_file = conn.execute(
        text(f"SELECT count(*) FROM students WHERE {_MISSING} AND {_ON_ROSTER}")
    ).scalar_one()
    if replace:
        _replace(conn, result, on_roster, allow_large_removal, stage)
    conn.exec_driver_sql(f"DROP TABLE {_STAGING}")
    return True


def _header(lines: Iterator[tuple[int, str]]) -> tuple[int, ...]:
    """Read the header line: where each column is."""
    first = next(lines, None)
    try:
        header = next(csv.reader([first[1]], strict=True), []) if first else []
    except csv.Error:
        header = []
    if not header:
        raise RosterError("line 1: expected the header line; nothing imported")
    return _column_index(header)


def _read_rows(
    conn: Connection,
    lines: Iterator[tuple[int, str]],
    index: tuple[int, ...],
    result: ImportResult,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
    workers: int,
) -> None:
    """Validate every row and stage the good ones (none once a bad row means nothing will
    be imported)."""

    def take(good: list[Staged], bad: list[tuple[int, str]], rows: int) -> None:
        result.rows += rows
        for line, reason in bad:
            result.add_error(line, reason)
        if skip_invalid or not result.bad_rows:  # else nothing will be imported: skip it
            _stage(conn, good)
            result.imported_rows += len(good)
        if progress:
            progress(rows)

    blocks = _blocks(lines)
    if workers:
        _validate_in_parallel(blocks, index, workers, take)
    else:
        for block, first_line in blocks:
            take(*validate_block(block, first_line, index))


def _settle_conflicts(conn: Connection, result: ImportResult, skip_invalid: bool) -> bool:
    """Rows of one student that disagree are bad rows; False: nothing may be imported."""
    conflicting: set[str] = set()
    for line, first, number in _conflicts(conn):
        result.add_error(line, f"student details differ from line {first} (same student_number)")
        conflicting.add(number)
    if conflicting:
        if not skip_invalid:
            return False
        result.imported_rows -= _drop_students(conn, conflicting, result)
    return True


def _replace(
    conn: Connection,
    result: ImportResult,
    on_roster: int,
    allow_large_removal: bool,
    stage: Callable[[str], None] | None,
) -> None:
    """--replace: take off the students the file leaves out, unless a bad row may be hiding
    one still enrolled."""
    if result.bad_rows:  # a bad row's student is not staged: it would look withdrawn
        result.replace_skipped = True
        return
    if result.not_in_file > REPLACE_LIMIT * on_roster and not allow_large_removal:
        raise RosterError(
            f"--replace would take off {result.not_in_file:,} of the {on_roster:,} "
            f"students on the roster, more than {REPLACE_LIMIT:.0%}: nothing imported. "
            "Is this the district's whole export? If it is, run again with "
            "--replace --allow-large-removal."
        )
    if stage:
        stage("removing students the file does not list")
    _remove_missing(conn, result)


# --replace refuses to take off more than this share of the students on the roster unless
# told to: a partial file, or one exported without its rows, must not wipe the roster.
REPLACE_LIMIT = 0.25

# Students of the database that the staging table (the file's good rows) does not list.
_MISSING = (
    f"NOT EXISTS (SELECT 1 FROM {_STAGING} r WHERE r.student_number = students.student_number)"
)
_DISCLOSED = "EXISTS (SELECT 1 FROM disclosures d WHERE d.student_id = students.id)"
# Not taken off before (kept for the audit, with names cleared): Student.on_roster() in SQL.
_ON_ROSTER = "first_name <> ''"


def _remove_missing(conn: Connection, result: ImportResult) -> None:
    """replace=True: the file is the whole roster. A student it does not list loses their
    guardians (no code goes anywhere for them, so no caller can be verified for them) and
    is deleted; one the disclosure audit refers to is kept for it, as a student number and a
    birth date (the column cannot be empty) with names, school and last four digits cleared.
    Every statement names what it changes: on SQLite the foreign keys are off here."""
    missing_ids = f"SELECT id FROM students WHERE {_MISSING}"
    conn.execute(text(f"DELETE FROM student_guardians WHERE student_id IN ({missing_ids})"))
    result.retired = conn.execute(
        text(
            f"""
            UPDATE students SET first_name = '', last_name = '', first_name_key = NULL,
                last_name_key = NULL, school = NULL, ssn_last4 = NULL, updated_at = :now
            WHERE {_MISSING} AND {_DISCLOSED} AND {_ON_ROSTER}
            """
        ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
        {"now": datetime.now(UTC)},
    ).rowcount
    deleted_ids = f"SELECT id FROM students WHERE {_MISSING} AND NOT {_DISCLOSED}"
    conn.execute(
        text(
            "UPDATE verification_attempts SET student_id = NULL "
            f"WHERE student_id IN ({deleted_ids})"
        )
    )
    result.removed = conn.execute(
        text(f"DELETE FROM students WHERE {_MISSING} AND NOT {_DISCLOSED}")
    ).rowcount
    conn.execute(text(_DELETE_UNLINKED_GUARDIANS))


def _drop_students(conn: Connection, numbers: set[str], result: ImportResult) -> int:
    """--skip-invalid: a student whose rows disagree is skipped whole (which row is right?)."""
    listed = sorted(numbers)
    dropped = 0
    for start in range(0, len(listed), 500):
        batch = listed[start : start + 500]
        statement = text(
            f"SELECT MIN(line) FROM {_STAGING} WHERE student_number IN :numbers "
            "GROUP BY student_number"
        ).bindparams(bindparam("numbers", expanding=True))
        for (line,) in conn.execute(statement, {"numbers": batch}):
            result.add_error(int(line), "skipped: other rows of the same student differ")
        dropped += conn.execute(
            text(f"DELETE FROM {_STAGING} WHERE student_number IN :numbers").bindparams(
                bindparam("numbers", expanding=True)
            ),
            {"numbers": batch},
        ).rowcount
    return dropped


def _validate_in_parallel(
    blocks: Iterator[tuple[str, int]],
    index: tuple[int, ...],
    workers: int,
    take: Callable[[list[Staged], list[tuple[int, str]], int], None],
) -> None:
    """Validate blocks in worker processes, in file order, with only a few in flight so a
    huge file never sits in memory whole."""
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(workers) as pool:
        pending: deque = deque()
        for block, first_line in blocks:
            pending.append(pool.apply_async(validate_block, (block, first_line, index)))
            while len(pending) > workers * 2:
                take(*pending.popleft().get())
        while pending:
            take(*pending.popleft().get())

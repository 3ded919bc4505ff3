"""Roster import: only the last four digits of an SSN survive, bad rows are reported by line,
nothing is imported from a bad file unless --skip-invalid, and re-importing updates."""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from tests.helpers import logged_text
from voicebot.cli.roster import roster as roster_group
from voicebot.records import db, roster
from voicebot.records.roster import COLUMNS, RosterError, import_roster

ROOT = Path(__file__).resolve().parent.parent
HEADER = ",".join(COLUMNS)


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_roster", ROOT / "bench" / "make_roster.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_roster = _load_generator()


def row(
    number: str = "1000001",
    first: str = "Maria",
    last: str = "Lopez",
    birth: str = "2015-03-14",
    ssn: str = "",
    guardian: str = "Ana Lopez",
    phone: str = "(404) 555-0188",
    email: str = "ana@example.org",
    school: str = "Mary Lin Elementary School",
) -> list[str]:
    return [number, first, last, birth, ssn, guardian, phone, email, school]


def write(path: Path, rows: list[list[str]], header: str = HEADER) -> Path:
    out = io.StringIO()
    out.write(header + "\n")
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


class Roster:
    """A test database and the `roster` command pointed at it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.path = tmp_path / "roster.sqlite3"
        self.url = f"sqlite:///{self.path}"
        engine = db.make_engine(self.url)
        db.upgrade(engine)
        engine.dispose()

    def run(self, *args: str) -> Result:
        env = {
            "DATABASE_URL": self.url,
            "VOICEBOT_INSTANCE_DIR": str(self.tmp_path / "instance"),
            "VOICEBOT_CONFIG": "",
            "REDIS_URL": "",
        }
        return CliRunner().invoke(roster_group, ["import", *args], env=env)

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(sql).fetchall()

    def files(self) -> list[Path]:
        """The database and everything SQLite keeps beside it (WAL, shared memory, journal)."""
        return [p for p in self.tmp_path.iterdir() if p.name.startswith(self.path.name)]


@pytest.fixture
def rdb(tmp_path: Path) -> Roster:
    return Roster(tmp_path)


# --- the SSN never survives past its last four digits ---------------------------------------


def _rows_with_full_ssns(count: int) -> tuple[list[list[str]], list[str]]:
    """Rows whose SSNs' first five digits occur nowhere else in the file, so finding them
    in the database could only mean the SSN leaked."""
    generated = [r for r in make_roster.rows(count * 2, seed=11) if r[4]]
    rows, ssns = [], []
    everything_else = "".join(
        c for r in generated for i, value in enumerate(r) if i != 4 for c in value if c.isdigit()
    )
    for r in generated:
        first5 = r[4].replace("-", "")[:5]
        if first5 not in everything_else and len(rows) < count:
            rows.append(r)
            ssns.append(r[4])
    assert len(rows) == count
    assert any("-" in s for s in ssns) and any("-" not in s for s in ssns)
    return rows, ssns


def _assert_no_ssn_prefix(haystacks: dict[str, bytes], ssns: list[str]) -> None:
    for ssn in ssns:
        digits = ssn.replace("-", "")
        for needle in {digits[:5], f"{digits[:3]}-{digits[3:5]}"}:
            for name, data in haystacks.items():
                assert needle.encode() not in data, f"first five digits of an SSN in {name}"
                assert needle.encode("utf-16-le") not in data, name


@pytest.mark.parametrize("outcome", ["imported", "rejected"])
def test_no_ssn_beyond_the_last_four_is_written_logged_or_printed(
    rdb: Roster, tmp_path: Path, caplog: pytest.LogCaptureFixture, outcome: str
) -> None:
    caplog.set_level(logging.DEBUG)
    rows, ssns = _rows_with_full_ssns(40)
    if outcome == "rejected":  # a bad row (echoing nothing) makes the import roll back
        rows.append(row(number="x1", ssn="123-45-678", birth="2015-02-30"))
    result = rdb.run(str(write(tmp_path / "roster.csv", rows)))
    assert result.exit_code == (0 if outcome == "imported" else 1), result.output

    files = {p.name: p.read_bytes() for p in rdb.files()}
    assert files and sum(len(b) for b in files.values()) > 0
    haystacks = files | {
        "CLI output": (result.output + result.stderr).encode(),
        "logs": logged_text(caplog).encode(),
    }
    _assert_no_ssn_prefix(haystacks, ssns)
    if outcome == "imported":
        stored = dict(rdb.query("SELECT student_number, ssn_last4 FROM students"))
        assert stored == {r[0]: r[4][-4:] for r in rows}
        assert all(len(v) == 4 for v in stored.values())
    else:
        assert rdb.query("SELECT COUNT(*) FROM students") == [(0,)]
        assert "123-45-678" not in result.output and "2015-02-30" not in result.output


def test_the_database_refuses_more_than_four_digits(rdb: Roster) -> None:
    with pytest.raises(sqlite3.IntegrityError), sqlite3.connect(rdb.path) as connection:
        connection.execute(
            "INSERT INTO students (student_number, first_name, last_name, birth_date,"
            " ssn_last4, updated_at) VALUES ('1', 'a', 'b', '2015-01-01', '123456789', 'x')"
        )


# --- bad rows ------------------------------------------------------------------------------


BAD_FILE = [
    row(number="1000001", ssn="123-45-6789"),  # line 2: good
    row(number="1000002", ssn="12-345-6789"),  # line 3
    row(number="1000003", birth="2015-02-30"),  # line 4
    row(number="1000004", phone="555-12"),  # line 5
    row(number="10000X5"),  # line 6
    row(number="1000006", first=" "),  # line 7
    row(number="1000007")[:8],  # line 8: a field short
    row(number="1000008", email="ana-at-example"),  # line 9
    row(number="1000009", birth="14/03/2015"),  # line 10
    row(number="1000010", ssn="987654321", phone="770.555.0199"),  # line 11: good
]
BAD_LINES = {
    3: "ssn must be blank, 9 digits or NNN-NN-NNNN",
    4: "birth_date",
    5: "guardian_phone",
    6: "student_number",
    7: "first_name is empty",
    8: "expected 9 fields, found 8",
    9: "guardian_email",
    10: "birth_date",
}


def _reported(output: str) -> dict[int, str]:
    lines = {}
    for line in output.splitlines():
        if line.startswith("line "):
            number, reason = line[5:].split(": ", 1)
            lines[int(number)] = reason
    return lines


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(rdb: Roster, tmp_path: Path) -> None:
    result = rdb.run(str(write(tmp_path / "bad.csv", BAD_FILE)))
    assert result.exit_code == 1
    reported = _reported(result.stderr)
    assert set(reported) == set(BAD_LINES)
    for line, reason in BAD_LINES.items():
        assert reason in reported[line]
    assert "nothing imported" in result.stderr
    assert "--skip-invalid" in result.stderr
    assert rdb.query("SELECT COUNT(*) FROM students") == [(0,)]
    assert rdb.query("SELECT COUNT(*) FROM guardians") == [(0,)]
    for value in ("12-345-6789", "2015-02-30", "14/03/2015", "555-12", "ana-at-example"):
        assert value not in result.output, "error messages never echo a value"


def test_skip_invalid_imports_the_good_rows(rdb: Roster, tmp_path: Path) -> None:
    result = rdb.run(str(write(tmp_path / "bad.csv", BAD_FILE)), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert set(_reported(result.stderr)) == set(BAD_LINES)
    assert "imported 2 rows" in result.stdout
    assert "skipped 8 bad row(s)" in result.stdout
    assert rdb.query("SELECT student_number, ssn_last4 FROM students ORDER BY 1") == [
        ("1000001", "6789"),
        ("1000010", "4321"),
    ]
    assert rdb.query("SELECT phone FROM guardians ORDER BY 1") == [
        ("+14045550188",),
        ("+17705550199",),
    ]


def test_rows_of_one_student_must_agree(rdb: Roster, tmp_path: Path) -> None:
    rows = [
        row(number="2000001", guardian="Ana Lopez"),
        row(number="2000002", first="Luis"),
        row(number="2000001", guardian="Jose Lopez", phone="404-555-0177", birth="2015-03-15"),
    ]
    path = write(tmp_path / "conflict.csv", rows)
    result = rdb.run(str(path))
    assert result.exit_code == 1
    assert _reported(result.stderr) == {
        4: "student details differ from line 2 (same student_number)"
    }
    assert rdb.query("SELECT COUNT(*) FROM students") == [(0,)]

    result = rdb.run(str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert set(_reported(result.stderr)) == {2, 4}
    assert rdb.query("SELECT student_number FROM students") == [("2000002",)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"student_number,first_name\n1,a\n", "header"),
        (b"", "header"),
        (HEADER.encode() + b"\n1000001,Mar\xeda,Lopez,2015-03-14,,,,,\n", "line 2: not UTF-8"),
        (HEADER.encode() + b'\n1000001,"Ma"ria,Lopez,2015-03-14,,,,,\n', "not valid CSV"),
    ],
)
def test_unreadable_files_import_nothing(
    rdb: Roster, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    result = rdb.run(str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert rdb.query("SELECT COUNT(*) FROM students") == [(0,)]


def test_a_file_without_its_header_is_refused_without_repeating_its_first_row(
    rdb: Roster, tmp_path: Path
) -> None:
    """The first line is then a student's row: the error names the columns, never the values."""
    first = row(number="1000001", ssn="123-45-6789", first="Marisol", last="Quintero")
    headless = write(tmp_path / "headless.csv", [first, row(number="1000002")])
    headless.write_text(headless.read_text().split("\n", 1)[1])
    result = rdb.run(str(headless))
    said = result.output + result.stderr
    assert result.exit_code == 1 and "line 1: the header must be" in said
    for value in ("6789", "123-45", "Marisol", "Quintero", "2015-03-14", "1000001", "555"):
        assert value not in said, value
    assert rdb.query("SELECT COUNT(*) FROM students") == [(0,)]


def test_a_misspelt_header_name_is_pointed_out(rdb: Roster, tmp_path: Path) -> None:
    path = write(
        tmp_path / "typo.csv", [row()], header=HEADER.replace("guardian_phone", "guardian_phon")
    )
    result = rdb.run(str(path))
    assert result.exit_code == 1
    assert "missing: guardian_phone" in result.output
    assert "one looks like a misspelt guardian_phone" in result.output


# --- updates ----------------------------------------------------------------------------------


def _snapshot(rdb: Roster) -> dict[str, list[tuple]]:
    return {
        "students": rdb.query(
            "SELECT student_number, first_name, last_name, birth_date, school, ssn_last4"
            " FROM students ORDER BY 1"
        ),
        "guardians": rdb.query("SELECT name, phone, email FROM guardians ORDER BY 2, 1"),
        "links": rdb.query(
            "SELECT s.student_number, g.phone FROM student_guardians sg"
            " JOIN students s ON s.id = sg.student_id JOIN guardians g ON g.id = sg.guardian_id"
            " ORDER BY 1, 2"
        ),
    }


def test_reimporting_updates_and_never_duplicates(rdb: Roster, tmp_path: Path) -> None:
    rows = [
        row(number="3000001", ssn="111-22-3333", guardian="Ana Lopez", phone="404-555-0101"),
        row(number="3000001", ssn="111-22-3333", guardian="Jose Lopez", phone="404-555-0102"),
        row(number="3000002", first="Luis", guardian="Ana Lopez", phone="404-555-0101"),
    ]
    path = write(tmp_path / "roster.csv", rows)
    assert rdb.run(str(path)).exit_code == 0
    first = _snapshot(rdb)
    assert len(first["students"]) == 2
    assert len(first["guardians"]) == 2  # Ana is one guardian of two children
    assert len(first["links"]) == 3
    ids = rdb.query("SELECT student_number, id FROM students ORDER BY 1")

    assert rdb.run(str(path)).exit_code == 0
    assert _snapshot(rdb) == first
    assert rdb.query("SELECT student_number, id FROM students ORDER BY 1") == ids

    # The district's next export: a name corrected, Jose no longer a guardian, a new email.
    rows = [
        row(number="3000001", first="María", ssn="111-22-3333", guardian="Ana Lopez",
            phone="(404) 555-0101", email="ana.new@example.org"),
        row(number="3000002", first="Luis", guardian="Ana Lopez", phone="404.555.0101",
            email="ana.new@example.org"),
    ]  # fmt: skip
    assert rdb.run(str(write(tmp_path / "roster2.csv", rows))).exit_code == 0
    after = _snapshot(rdb)
    assert [s[1] for s in after["students"]] == ["María", "Luis"]
    assert after["guardians"] == [("Ana Lopez", "+14045550101", "ana.new@example.org")]
    assert after["links"] == [("3000001", "+14045550101"), ("3000002", "+14045550101")]
    assert rdb.query("SELECT student_number, id FROM students ORDER BY 1") == ids


def _audit(rdb: Roster, disclosed: str, attempted: str) -> None:
    """A disclosure of one student's last four, a verification attempt naming another."""
    with sqlite3.connect(rdb.path) as connection:
        connection.execute(
            "INSERT INTO disclosures (student_id, disclosed_at, channel, phone, method, call_id)"
            " SELECT id, '2026-11-01 10:00:00', 'voice', '+14045550101', 'dob+otp', 'CA1'"
            " FROM students WHERE student_number = ?",
            (disclosed,),
        )
        connection.execute(
            "INSERT INTO verification_attempts (attempted_at, conversation, channel, step,"
            " outcome, student_id) SELECT '2026-11-01 10:00:00', 'call:CA2', 'voice',"
            " 'request', 'sent', id FROM students WHERE student_number = ?",
            (attempted,),
        )


def test_replace_takes_off_the_students_the_new_export_leaves_out(
    rdb: Roster, tmp_path: Path
) -> None:
    rows = [
        row(number="3000001", ssn="111-22-3333", guardian="Ana Lopez", phone="404-555-0101"),
        row(number="3000002", first="Luis", guardian="Ana Lopez", phone="404-555-0101"),
        row(number="3000003", first="Kai", ssn="222-33-4444", guardian="Kim Lee",
            phone="404-555-0177", school="Grady High School"),
    ]  # fmt: skip
    assert rdb.run(str(write(tmp_path / "roster.csv", rows))).exit_code == 0
    _audit(rdb, disclosed="3000003", attempted="3000001")
    # The next export: Maria (3000001) and Kai (3000003) have left the district.
    still_enrolled = write(tmp_path / "roster2.csv", [rows[1]])

    kept = rdb.run(str(still_enrolled))  # without --replace: updated only, and said so
    assert "2 student(s) on the roster are not in this file: kept" in kept.output
    assert len(_snapshot(rdb)["students"]) == 3

    result = rdb.run(str(still_enrolled), "--replace", "--allow-large-removal")  # 2 of 3
    assert result.exit_code == 0, result.output
    assert "taken off the roster: 1 student(s) deleted; 1 cleared and kept" in result.output
    after = _snapshot(rdb)
    # Kai stays for the audit, as a number and a birth date: no name, school or digits.
    assert after["students"] == [
        ("3000002", "Luis", "Lopez", "2015-03-14", "Mary Lin Elementary School", None),
        ("3000003", "", "", "2015-03-14", None, None),
    ]
    assert after["links"] == [("3000002", "+14045550101")]  # nobody to text a code to for Kai
    assert after["guardians"] == [("Ana Lopez", "+14045550101", "ana@example.org")]  # Kim gone
    assert rdb.query("SELECT count(*) FROM disclosures") == [(1,)]
    assert rdb.query("SELECT student_id FROM verification_attempts") == [(None,)]
    assert rdb.query("SELECT first_name_key, last_name_key FROM students ORDER BY 1") == [
        (None, None),
        ("luis", "lopez"),
    ]
    assert rdb.query("PRAGMA foreign_key_check") == []

    again = rdb.run(str(still_enrolled), "--replace")  # nothing left to take off
    assert "taken off the roster: 0 student(s) deleted; 0 cleared" in again.output
    assert _snapshot(rdb) == after

    assert rdb.run(str(write(tmp_path / "back.csv", rows[2:]))).exit_code == 0  # Kai is back
    assert ("3000003", "Kai", "Lopez", "2015-03-14", "Grady High School", "4444") in _snapshot(rdb)[
        "students"
    ]


def test_replace_takes_nobody_off_when_the_file_has_bad_rows(rdb: Roster, tmp_path: Path) -> None:
    rows = [row(number="3000001"), row(number="3000002", first="Luis")]
    assert rdb.run(str(write(tmp_path / "roster.csv", rows))).exit_code == 0
    # Maria's row is damaged in the next export: she must not look withdrawn.
    damaged = [row(number="3000001", birth="2015-02-30"), rows[1]]
    path = write(tmp_path / "roster2.csv", damaged)

    refused = rdb.run(str(path), "--replace")
    assert refused.exit_code == 1 and "nothing imported" in refused.output
    assert "(and take nobody off the roster)" in refused.output

    skipped = rdb.run(str(path), "--replace", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "--replace: nothing taken off, because the file had bad rows" in skipped.output
    assert [s[0] for s in _snapshot(rdb)["students"]] == ["3000001", "3000002"]
    assert len(_snapshot(rdb)["links"]) == 2


@pytest.mark.parametrize("kept", [0, 3])
def test_replace_with_a_partial_or_empty_file_imports_nothing_unless_told(
    rdb: Roster, tmp_path: Path, kept: int
) -> None:
    rows = [row(number=f"30000{n:02d}", phone=f"404-555-01{n:02d}") for n in range(8)]
    assert rdb.run(str(write(tmp_path / "roster.csv", rows))).exit_code == 0
    before = _snapshot(rdb)
    partial = write(tmp_path / "partial.csv", rows[:kept])  # an export cut short, or empty

    refused = rdb.run(str(partial), "--replace")
    assert refused.exit_code == 1
    assert f"--replace would take off {8 - kept} of the 8 students on the roster" in (
        refused.output
    )
    assert "nothing imported" in refused.output and "--allow-large-removal" in refused.output
    assert _snapshot(rdb) == before

    done = rdb.run(str(partial), "--replace", "--allow-large-removal")
    assert done.exit_code == 0, done.output
    assert len(_snapshot(rdb)["students"]) == kept


def test_replace_measures_the_removal_against_the_roster_before_the_file(
    rdb: Roster, tmp_path: Path
) -> None:
    """Another school's export (all new students) must not pass for a full roster."""
    rows = [row(number=f"30000{n:02d}", phone=f"404-555-01{n:02d}") for n in range(8)]
    assert rdb.run(str(write(tmp_path / "roster.csv", rows))).exit_code == 0
    other = [row(number=f"40000{n:02d}", phone=f"404-555-02{n:02d}") for n in range(24)]
    refused = rdb.run(str(write(tmp_path / "other.csv", other)), "--replace")
    assert refused.exit_code == 1
    assert "--replace would take off 8 of the 8 students on the roster" in refused.output
    assert len(_snapshot(rdb)["students"]) == 8


def test_a_withdrawn_childs_details_leave_the_database_files_while_the_service_runs(
    rdb: Roster, tmp_path: Path
) -> None:
    """The service keeps the database open, so SQLite's write-ahead log is not emptied on
    its own: the import must checkpoint it, or the log keeps what --replace deleted."""
    service = sqlite3.connect(rdb.path)  # another process's connection, left open
    service.execute("SELECT count(*) FROM students").fetchall()
    engine = db.make_engine(rdb.url)
    try:
        rows = [row(number=f"30000{n:02d}", phone=f"404-555-01{n:02d}") for n in range(8)]
        rows.append(row(number="3000099", first="Zebulon", last="Quarrington", ssn="321-54-9876"))
        assert import_roster(engine, write(tmp_path / "r1.csv", rows)).committed
        result = import_roster(engine, write(tmp_path / "r2.csv", rows[:8]), replace=True)
        assert result.removed == 1
        data = b"".join(p.read_bytes() for p in rdb.files())
        for value in (b"Zebulon", b"Quarrington", b"9876", b"3000099"):
            assert value not in data, value
    finally:
        engine.dispose()
        service.close()


def test_replace_takes_off_a_few_withdrawn_students_without_asking(
    rdb: Roster, tmp_path: Path
) -> None:
    rows = [row(number=f"30000{n:02d}", phone=f"404-555-01{n:02d}") for n in range(8)]
    assert rdb.run(str(write(tmp_path / "roster.csv", rows))).exit_code == 0
    result = rdb.run(str(write(tmp_path / "next.csv", rows[:6])), "--replace")  # 2 of 8 left
    assert result.exit_code == 0, result.output
    assert "taken off the roster: 2 student(s) deleted" in result.output
    assert [s[0] for s in _snapshot(rdb)["students"]] == [r[0] for r in rows[:6]]
    withdrawn = rows[7]
    data = b"".join(p.read_bytes() for p in rdb.files())
    assert withdrawn[0].encode() not in data  # zeroed, not left in free pages


def test_a_new_sqlite_database_is_readable_by_its_owner_only(rdb: Roster, tmp_path: Path) -> None:
    assert rdb.run(str(write(tmp_path / "roster.csv", [row()]))).exit_code == 0
    files = rdb.files()
    assert rdb.path in files
    for path in files:  # the database, and SQLite's log beside it
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is open to others"


def test_phones_in_any_common_format_become_e164(rdb: Roster, tmp_path: Path) -> None:
    formats = ["(404) 555-0101", "404-555-0102", "404.555.0103", "+1 404 555 0104", "4045550105"]
    rows = [row(number=f"400000{i}", phone=p) for i, p in enumerate(formats)]
    assert rdb.run(str(write(tmp_path / "phones.csv", rows))).exit_code == 0
    assert [p for (p,) in rdb.query("SELECT phone FROM guardians ORDER BY 1")] == [
        f"+1404555010{i}" for i in range(1, 6)
    ]


def test_a_student_without_guardians_or_ssn_is_fine(rdb: Roster, tmp_path: Path) -> None:
    rows = [row(number="5000001", guardian="", phone="", email="", ssn="")]
    assert rdb.run(str(write(tmp_path / "r.csv", rows))).exit_code == 0
    assert rdb.query("SELECT ssn_last4 FROM students") == [(None,)]
    assert rdb.query("SELECT COUNT(*) FROM guardians") == [(0,)]


def test_quoted_line_breaks_keep_line_numbers_right(rdb: Roster, tmp_path: Path) -> None:
    rows = [row(number=f"600000{i}", school="Grady\nHigh School") for i in range(5)]
    rows.append(row(number="6000009", ssn="bad"))  # lines 2-11 hold five records
    rows.append(row(number="6000010", ssn="bad", school="Grady\nHigh\nSchool"))
    rows.append(row(number="6000011", ssn="bad"))
    result = rdb.run(str(write(tmp_path / "q.csv", rows)))
    reason = "ssn must be blank, 9 digits or NNN-NN-NNNN"
    assert _reported(result.stderr) == {12: reason, 13: reason, 16: reason}


def test_progress_goes_to_stderr(rdb: Roster, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with path.open("w", newline="") as handle:
        make_roster.write_roster(handle, 300, seed=3)
    result = rdb.run(str(path))
    assert result.exit_code == 0, result.output
    assert "reading roster: 100%" in result.stderr
    assert "reading roster" not in result.stdout
    assert "imported 300 rows" in result.stdout


def test_out_of_date_schema_is_refused(tmp_path: Path) -> None:
    rdb = Roster.__new__(Roster)
    rdb.tmp_path, rdb.path = tmp_path, tmp_path / "empty.sqlite3"
    rdb.url = f"sqlite:///{rdb.path}"
    path = write(tmp_path / "r.csv", [row()])
    result = rdb.run(str(path))
    assert result.exit_code == 1
    assert "voicebot db upgrade" in result.output


# --- the library: parallel validation, database state -----------------------------------------


def _import(tmp_path: Path, name: str, csv_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / name}")
    db.upgrade(engine)
    return engine, import_roster(engine, csv_path, **kwargs)  # type: ignore[arg-type]


TABLES = [
    ("students", "id, student_number, first_name, last_name, birth_date, school, ssn_last4"),
    ("guardians", "id, name, phone, email"),
    ("student_guardians", "student_id, guardian_id"),
]


def test_parallel_validation_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roster, "CHUNK_ROWS", 17)
    rows = list(make_roster.rows(400, seed=5))
    rows[100][3] = "2015-13-01"
    rows[250][6] = "12"
    rows[301][8] = "Grady\nHigh School"
    path = write(tmp_path / "r.csv", rows)
    snapshots = []
    for workers in (0, 2):
        name = f"w{workers}.sqlite3"
        engine, result = _import(tmp_path, name, path, workers=workers, skip_invalid=True)
        assert [(e.line, e.reason.split(" ")[0]) for e in result.errors] == [
            (102, "birth_date"),
            (252, "guardian_phone:"),
        ]
        with engine.connect() as connection:
            snapshots.append(
                [
                    connection.execute(text(f"SELECT {cols} FROM {table} ORDER BY 1, 2")).all()
                    for table, cols in TABLES
                ]
            )
        engine.dispose()
    assert snapshots[0][0] and snapshots[0] == snapshots[1]


def test_database_settings_are_restored_and_references_hold(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with path.open("w", newline="") as handle:
        make_roster.write_roster(handle, 500, seed=9)
    engine, result = _import(tmp_path, "r.sqlite3", path)
    assert result.committed and result.bad_rows == 0
    engine, result = _import(tmp_path, "r.sqlite3", path)  # the re-import path too
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        plan = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM students WHERE student_number = '1'"
        ).all()
        assert "ix_students_student_number" in str(plan), "student lookup stays indexed"
    engine.dispose()


def test_generated_rosters_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with path.open("w", newline="") as handle:
        assert make_roster.write_roster(handle, 1000, seed=1) == 1000
    engine, result = _import(tmp_path, "g.sqlite3", path)
    assert result.bad_rows == 0 and result.imported_rows == 1000
    assert result.links < 1000 or result.students < 1000  # some students have two guardians
    engine.dispose()


def test_roster_errors_are_raised_by_the_library(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("nope\n")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    db.upgrade(engine)
    with pytest.raises(RosterError, match="line 1"):
        import_roster(engine, path)
    engine.dispose()


def upgrading_fills_the_name_keys(engine) -> None:  # type: ignore[no-untyped-def]
    """A roster imported before migration 0004 gets its name keys from the upgrade."""
    from alembic import command

    command.upgrade(db.alembic_config(engine), "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO students (student_number, first_name, last_name, birth_date, "
                "updated_at) VALUES ('1234567', 'José', 'O''Brien-Núñez', '2015-03-14', "
                "'2026-01-01 00:00:00')"
            )
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT first_name_key, last_name_key FROM students")).one()
    assert tuple(keys) == ("jose", "obrien nunez")


def test_upgrading_an_existing_roster_fills_the_name_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrading_fills_the_name_keys(engine)

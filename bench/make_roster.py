"""Generate a random but valid roster CSV, for the import benchmark and for trying things.

    python bench/make_roster.py 1000000 -o /tmp/roster.csv [--seed 7]

One row per student-guardian pair, like the district's export: about a third of the
students have two guardians, some guardians have two or more children (the same name and
phone on several students), and phones and SSNs come in the formats exports really use.
Every SSN here is made up; none is a real person's.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from voicebot.records.roster import COLUMNS

HEADER = list(COLUMNS)
FIRST = [
    "Amara",
    "Jaylen",
    "Sofia",
    "Malik",
    "Aaliyah",
    "Mateo",
    "Zoe",
    "Elijah",
    "Nia",
    "Carlos",
    "Ava",
    "Jamal",
    "Isabella",
    "Xavier",
    "Maya",
    "Diego",
    "Imani",
    "Noah",
    "Layla",
    "Andre",
    "Camila",
    "Josiah",
    "Aria",
    "Luis",
    "Kennedy",
    "Omar",
    "Chloe",
    "Dante",
]
LAST = [
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
]
SCHOOLS = (
    "Grady High School",
    "Inman Middle School",
    "Mary Lin Elementary School",
    "Jackson Elementary School",
    "Therrell High School",
    "King Middle School",
)
AREA_CODES = ("404", "470", "678", "770")
PHONE_FORMATS = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "+1 {a} {b} {c}",
    "{a}{b}{c}",
    "1-{a}-{b}-{c}",
)


def _phone(rng: random.Random) -> str:
    exchange = rng.randint(200, 999)
    while exchange % 100 == 11 or exchange == 555:  # N11 and 555 are not real exchanges
        exchange = rng.randint(200, 999)
    fmt = rng.choice(PHONE_FORMATS)
    return fmt.format(a=rng.choice(AREA_CODES), b=exchange, c=f"{rng.randint(0, 9999):04d}")


def _ssn(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return ""
    area, group, serial = rng.randint(1, 899), rng.randint(1, 99), rng.randint(1, 9999)
    if area == 666:
        area = 667
    if roll < 0.55:
        return f"{area:03d}{group:02d}{serial:04d}"
    return f"{area:03d}-{group:02d}-{serial:04d}"


def rows(count: int, seed: int = 7) -> Iterator[list[str]]:
    """``count`` data rows (not counting the header)."""
    rng = random.Random(seed)
    numbers = iter(rng.sample(range(1_000_000, 100_000_000), count))
    first_day = date(2005, 1, 1)
    produced = 0
    previous_guardian: tuple[str, str, str] | None = None
    while produced < count:
        last = rng.choice(LAST)
        student = [
            str(next(numbers)),
            rng.choice(FIRST),
            last,
            (first_day + timedelta(days=rng.randint(0, 15 * 365))).isoformat(),
            _ssn(rng),
        ]
        school = rng.choice(SCHOOLS)
        guardians = 2 if rng.random() < 0.35 else 1
        for _ in range(min(guardians, count - produced)):
            if previous_guardian and rng.random() < 0.1:
                guardian = previous_guardian  # a sibling: same parent, same phone
            else:
                name = f"{rng.choice(FIRST)} {last}"
                email = f"{name.replace(' ', '.').lower()}{rng.randint(1, 999)}@example.org"
                guardian = (name, _phone(rng), email if rng.random() < 0.7 else "")
            previous_guardian = guardian
            yield [*student, *guardian, school]
            produced += 1


def write_roster(out: TextIO, count: int, seed: int = 7) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    written = 0
    for row in rows(count, seed):
        writer.writerow(row)
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, help="data rows to write (header not counted)")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.output:
        with args.output.open("w", encoding="utf-8", newline="") as handle:
            write_roster(handle, args.rows, args.seed)
    else:
        write_roster(sys.stdout, args.rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

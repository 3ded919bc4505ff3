"""Benchmark `voicebot roster import` on a generated roster (default 1,000,000 rows).

    python bench/bench_roster.py [--rows 1000000] [--reimport] [--keep DIR]

Generates the file with bench/make_roster.py, imports it into a fresh SQLite database in a
child process (the real command, progress and all), and reports seconds, rows/s and peak
memory (ru_maxrss of the importing process and, separately, of its largest validation
worker). As a baseline from the same run it times merely parsing the file with the csv
module, and prints the ratio. The target is under 60 s for a million rows on a 2-core box.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_roster import write_roster  # noqa: E402

TARGET_SECONDS = 60.0

# Runs in the child: the real CLI command, then its own peak memory on the last line.
CHILD = """
import json, resource, sys
from voicebot.cli.roster import roster
try:
    roster.main(["import", sys.argv[1]], standalone_mode=False)
finally:
    print(json.dumps({
        "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "workers_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }))
"""


def csv_baseline(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle):
            pass
    return time.perf_counter() - started


def run_import(path: Path, database: Path) -> tuple[float, dict[str, int], str]:
    env = os.environ | {"DATABASE_URL": f"sqlite:///{database}", "VOICEBOT_CONFIG": ""}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    *output, memory = done.stdout.strip().splitlines()
    stages = [line for line in done.stderr.splitlines() if "so far" in line]
    return seconds, json.loads(memory), "\n".join(output + stages)


def upgrade(database: Path) -> None:
    from voicebot.records import db

    engine = db.make_engine(f"sqlite:///{database}")
    db.upgrade(engine)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reimport", action="store_true", help="also time a second import")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="roster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    roster_csv, database = work / "roster.csv", work / "bench.sqlite3"
    for stale in work.glob("bench.sqlite3*"):
        stale.unlink()

    started = time.perf_counter()
    with roster_csv.open("w", encoding="utf-8", newline="") as handle:
        write_roster(handle, args.rows)
    print(
        f"generated {args.rows:,} rows ({roster_csv.stat().st_size / 2**20:.0f} MiB) "
        f"in {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs"
    )
    upgrade(database)

    baseline = csv_baseline(roster_csv)
    runs = ["first import"] + (["re-import"] if args.reimport else [])
    worst = 0.0
    for name in runs:
        seconds, memory, output = run_import(roster_csv, database)
        worst = max(worst, seconds)
        summary, *stages = output.splitlines() or [""]
        print(f"\n{name}: {summary}")
        for stage in stages:
            print(f"  stage         {stage}")
        print(f"  time          {seconds:8.1f} s  ({args.rows / seconds:,.0f} rows/s)")
        print(f"  peak memory   {memory['self_kb'] / 1024:8.0f} MiB  importing process")
        print(f"                {memory['workers_kb'] / 1024:8.0f} MiB  largest worker")
        print(f"  csv baseline  {baseline:8.1f} s  (csv.reader over the same file)")
        print(f"  ratio         {seconds / baseline:8.1f} x  import time / csv parse time")
    print(f"\ndatabase: {database.stat().st_size / 2**20:.0f} MiB")
    if not args.keep:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    if args.rows >= 1_000_000:
        verdict = "OK" if worst < TARGET_SECONDS else "TOO SLOW"
        print(f"{verdict}: target is under {TARGET_SECONDS:.0f} s for {args.rows:,} rows")
        return 0 if worst < TARGET_SECONDS else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

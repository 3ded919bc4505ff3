"""How long the agents' console takes to answer a sign-in, by kind of answer.

    python bench/bench_signin.py [--rounds 40]

A name that does not exist, an account that is locked, a wrong password and the right one
must cost the server the same work (one scrypt check each), or the time of the answer tells
an attacker which names are real agents. Each round times one POST /agents/login of every
kind, interleaved, through Flask's test client on a fresh app (SQLite, Redis from REDIS_URL
or the in-process stand-in), each from its own address so the per-address throttle never
answers instead. Prints the median milliseconds per kind and the ratio of the slowest
median to the fastest; a ratio near 1 is the goal (before issue 20 it was about 50: a locked
account answered in ~3 ms, everything else in ~100-150 ms). What remains between kinds is
the database write of a counted failure or a success (a wrong password on an unlocked
account, the right one), which a name that does not exist or a locked account skips.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import update  # noqa: E402

from voicebot.agents.console import hash_password  # noqa: E402
from voicebot.app import create_app  # noqa: E402
from voicebot.config import load_settings  # noqa: E402
from voicebot.records.handoffs import Agent  # noqa: E402
from voicebot.services import services  # noqa: E402

PASSWORD = "correct horse battery staple"
# kind -> (name, password)
KINDS = {
    "unknown name": ("nobody-here", PASSWORD),
    "locked": ("lee", "a wrong guess at it"),
    "locked, right password": ("lee", PASSWORD),
    "wrong password": ("amy", "a wrong guess at it"),
    "right password": ("amy", PASSWORD),
}


def make_app(folder: Path) -> Any:
    """A fresh app with two agents: amy (active) and lee (locked for a day)."""
    environ = {
        "TWILIO_AUTH_TOKEN": "bench-token-0123456789abcdef0123",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "VOICEBOT_OUTBOX": str(folder / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(folder / "instance"),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "VOICEBOT_SECRET_KEY": "bench-secret-" + "0" * 32,
    }
    app = create_app(load_settings(environ, testing=True), upgrade_db=True)
    handoffs = services(app).handoffs
    handoffs.add_agent("amy", hash_password(PASSWORD))
    handoffs.add_agent("lee", hash_password(PASSWORD))
    lock(handoffs)
    return app


def lock(handoffs: Any) -> None:
    with handoffs.sessions.begin() as session:
        session.execute(
            update(Agent)
            .where(Agent.name == "lee")
            .values(locked_until=datetime.now(UTC) + timedelta(days=1))
        )


def time_one(app: Any, address: str, name: str, password: str) -> float:
    """Milliseconds for one sign-in POST (the CSRF token is fetched first, untimed)."""
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    page = client.get("/agents/login", environ_base=environ).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the sign-in page"
    form = {"name": name, "password": password, "csrf_token": match.group(1)}
    started = time.perf_counter()
    client.post("/agents/login", data=form, environ_base=environ)
    return (time.perf_counter() - started) * 1000


def run(rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        logging.disable(logging.WARNING)  # one line per refusal otherwise
        handoffs = services(app).handoffs
        amy = handoffs.agent("amy").id
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for number in range(rounds + 2):  # the first two rounds warm up
            for index, (kind, (name, password)) in enumerate(KINDS.items()):
                address = f"10.{number // 250}.{number % 250}.{index + 1}"
                elapsed = time_one(app, address, name, password)
                handoffs.sign_in_succeeded(amy)  # wrong tries must never lock amy
                lock(handoffs)  # nor may a right one unlock lee
                if number >= 2:
                    times[kind].append(elapsed)
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    medians = {kind: statistics.median(values) for kind, values in run(args.rounds).items()}
    for kind, median in medians.items():
        print(f"{kind:<24} {median:8.1f} ms (median of {args.rounds})")
    slowest, fastest = max(medians.values()), min(medians.values())
    print(f"{'slowest / fastest':<24} {slowest / fastest:8.2f}")


if __name__ == "__main__":
    main()

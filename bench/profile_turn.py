"""Where a turn's CPU goes, stage by stage, with one command:

    python bench/profile_turn.py            # --calls N (default 400)

The same dialog as bench/bench_load.py (greeting, a spoken question, a key press, goodbye,
status callback), signed, with a private redis-server, but called in this process through
WSGI: no HTTP server and no client share the CPU, so the figures are steadier than the load
benchmark's. Each stage is timed with the process's CPU clock (a wrapper around the function
that does it); "the rest" is Flask, Werkzeug and everything not listed. The floor app
(bench/floor_app.py) is measured the same way, for scale. Figures are per request (a call
is five requests), best of five rounds.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_load import ACTION, DIALOG, Redis, call_fields  # noqa: E402

URL = "http://127.0.0.1:8000"


class Stages:
    """CPU seconds spent inside wrapped functions, by label."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.process_time() - started

        setattr(owner, name, timed)


def environ(token: str, path: str, fields: dict[str, str]) -> dict[str, Any]:
    from twilio.request_validator import RequestValidator
    from werkzeug.test import EnvironBuilder

    base, _, query = path.partition("?")
    signature = RequestValidator(token).compute_signature(URL + path, fields)
    return EnvironBuilder(
        path=base,
        query_string=query or None,
        method="POST",
        data=fields,
        base_url=URL,
        headers={"X-Twilio-Signature": signature},
    ).get_environ()


def calls(app: Callable[..., Any], token: str, count: int, check: bool) -> float:
    """CPU seconds per request for `count` calls, building the requests excluded."""
    spent = 0.0

    def post(path: str, fields: dict[str, str]) -> str:
        nonlocal spent
        request = environ(token, path, fields)
        status: list[str] = []
        started = time.process_time()
        body = b"".join(app(request, lambda s, h, e=None: status.append(s)))
        spent += time.process_time() - started
        if not status[0].startswith("200"):
            raise SystemExit(f"{path} answered {status[0]}")
        return body.decode()

    for number in range(count):
        base = call_fields(number)
        action = "/voice"
        for turn, (kind, fields, expected) in enumerate(DIALOG):
            body = post("/voice" if kind == "start" else action, base | fields)
            if check and expected not in body:
                raise SystemExit(f"turn {turn}: expected {expected!r} in {body}")
            found = ACTION.search(body)
            action = found.group(1).replace("&amp;", "&") if found else action
        post("/voice/status", base | {"CallStatus": "completed", "CallDuration": "42"})
    return spent / (count * (len(DIALOG) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="voicebot-profile-"))
    token = secrets.token_hex(16)
    redis = Redis(workdir / "redis")
    for key in [k for k in os.environ if k.startswith(("VOICEBOT_", "TWILIO_"))]:
        del os.environ[key]
    os.environ |= {
        "TWILIO_AUTH_TOKEN": token,
        "REDIS_URL": redis.url,
        "DATABASE_URL": f"sqlite:///{workdir / 'voicebot.sqlite3'}",
        "VOICEBOT_OUTBOX": str(workdir / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(workdir / "instance"),
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
    }
    (workdir / "metrics").mkdir()
    try:
        from voicebot.records import db

        engine = db.make_engine(os.environ["DATABASE_URL"])
        db.upgrade(engine)
        engine.dispose()
        return run(args.calls, token, workdir / "log.jsonl")
    finally:
        redis.stop()


def run(count: int, token: str, log_path: Path) -> int:
    import logging

    import twilio.twiml

    from bench.floor_app import create_app as floor_app
    from voicebot.channels import signature, voice
    from voicebot.dialog.engine import Dialog
    from voicebot.ops import logs, metrics
    from voicebot.ops import status as ops
    from voicebot.wsgi import app  # configures logging to stderr: send the lines to a file

    log_file = log_path.open("w")
    logs.configure("INFO", stream=log_file)
    logs.skip_unused_record_fields()  # as config/gunicorn.conf.py does for the servers

    services = app.extensions["voicebot"]
    stages = Stages()
    stages.wrap(signature, "_refuse_oversized", "size and field-count check")
    stages.wrap(signature, "signed_string", "form parsing + the string Twilio signed")
    stages.wrap(signature, "matching_token", "signature check (HMAC)")
    stages.wrap(voice, "_event", "webhook fields -> Event")
    stages.wrap(services.store, "begin_turn", "Redis: lock + read the conversation")
    stages.wrap(services.store, "save", "Redis: save + unlock (record encoding included)")
    stages.wrap(Dialog, "step", "dialog step (classifier included)")
    stages.wrap(voice, "render", "TwiML objects (guard included)")
    stages.wrap(twilio.twiml.TwiML, "to_xml", "TwiML to text")
    stages.wrap(services.conversations.__class__, "_carry_out", "side effects")
    stages.wrap(logging.Logger, "info", "JSON log lines (redaction included)")
    stages.wrap(ops, "record_call_end", "status callback: Redis")
    stages.wrap(voice, "url_for", "URLs for the next answer")
    for name in ("observe_turn", "count_transfer", "count_call_end"):
        stages.wrap(metrics, name, "Prometheus metrics")
    floor = floor_app()
    calls(app, token, 50, check=True)  # warm up: imports, caches, connections
    calls(floor, token, 50, check=False)
    floor_cpu, full_cpu = [], []
    per_stage: list[collections.Counter[str]] = []
    for _ in range(5):
        floor_cpu.append(calls(floor, token, count, check=False))
        stages.seconds.clear()
        full_cpu.append(calls(app, token, count, check=True))
        per_stage.append(stages.seconds.copy())
    best = min(range(5), key=lambda i: full_cpu[i])
    requests = count * (len(DIALOG) + 1)
    full = full_cpu[best]
    print(f"Per request, best of 5 rounds of {count} calls ({requests} requests each):\n")
    print("| stage | CPU ms/request | share |")
    print("|---|---|---|")
    listed = 0.0
    for label, seconds in per_stage[best].most_common():  # the stages never nest
        listed += seconds / requests
        print(f"| {label} | {1000 * seconds / requests:.3f} | {seconds / requests / full:.0%} |")
    rest = full - listed
    print(
        f"| the rest (Flask, Werkzeug, the turn runner) | {1000 * rest:.3f} | {rest / full:.0%} |"
    )
    print(f"| **full turn** | **{1000 * full:.3f}** | 100% |")
    print(f"| floor app (for scale) | {1000 * min(floor_cpu):.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

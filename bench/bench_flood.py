"""Forged floods against real calls, on the default server, with one command:

    python bench/bench_flood.py            # about 10 s; --forged N, --size BYTES, --calls N

It starts `voicebot serve` (gunicorn with config/gunicorn.conf.py; no Redis, so one sync
worker: the default server) on a free loopback port, then measures:

  idle call     a signed call start (POST /voice, as Twilio sends it) with nothing else in
                flight: the baseline of this run;
  forged        one forged request of --size bytes of empty form fields (``k1&k2&...``, the
                attack of issue 20) with a made-up X-Twilio-Signature, then one without the
                header, then the worst a forger can still get parsed and hashed under the
                default limits (199 fields filling 32 KB): how long until each is refused
                (an answer, or the connection closed);
  under flood   a signed call start while --forged forged requests (of --size bytes, then of
                the worst accepted kind) are in flight, sent back to back by as many threads.

Targets: a forged request refused in < 50 ms; a call start under flood answered in < 2 s
(Twilio gives up at 15 s). Ratios are against the idle call of the same run. Only loopback
addresses are used; every loop is bounded and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import free_port, stop_group, wait_http  # noqa: E402

HELPLINE = "+14045550100"
CALLER = "+14045550123"
# Settings of the machine this runs on that would change the server under test.
DROPPED = (
    "REDIS_URL",
    "VOICEBOT_PUBLIC_URL",
    "VOICEBOT_TRUSTED_PROXIES",
    "VOICEBOT_CONFIG",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_BIND",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_NUMBER",
    "TWILIO_AUTH_TOKEN_PREVIOUS",
)


class Server:
    """`python -m voicebot.cli serve` on a free port, in its own process group."""

    def __init__(self, workdir: Path) -> None:
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in DROPPED} | {
            "TWILIO_AUTH_TOKEN": self.token,
            "DATABASE_URL": f"sqlite:///{workdir / 'flood.sqlite3'}",
            "VOICEBOT_OUTBOX": str(workdir / "outbox.jsonl"),
            "VOICEBOT_INSTANCE_DIR": str(workdir / "instance"),
            "VOICEBOT_SECRET_KEY": secrets.token_hex(32),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        }
        cli = [sys.executable, "-m", "voicebot.cli"]
        subprocess.run([*cli, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                serve,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_http(self.base + "/healthz", self.process, self.log)
        except SystemExit:
            self.stop()
            raise

    def stop(self) -> None:
        stop_group(self.process, 20)


def call_start(server: Server) -> tuple[float, int]:
    """One signed call start, as Twilio sends it: (seconds to the whole answer, status)."""
    fields = {
        "CallSid": "CA" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": HELPLINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    signature = RequestValidator(server.token).compute_signature(server.base + "/voice", fields)
    body = urllib.parse.urlencode(fields)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    begin = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", "/voice", body, headers)
        answer = connection.getresponse()
        answer.read()
        return time.perf_counter() - begin, answer.status
    finally:
        connection.close()


def forged_body(size: int) -> bytes:
    """About ``size`` bytes of distinct empty form fields: k0&k1&k2&..."""
    parts, total, number = [], 0, 0
    while total < size:
        part = b"k%d" % number
        parts.append(part)
        total += len(part) + 1
        number += 1
    return b"&".join(parts)


def forged(server: Server, body: bytes, signed: bool) -> tuple[float, str]:
    """One forged request: (seconds until refused, what refused it: a status or 'closed')."""
    head = (
        f"POST /voice HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        + ("X-Twilio-Signature: bm90IGEgcmVhbCBzaWduYXR1cmU=\r\n" if signed else "")
        + "Connection: close\r\n\r\n"
    ).encode()
    begin = time.perf_counter()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        try:
            sock.sendall(head + body)
            first = sock.recv(64)
        except OSError:  # refused before the body was read: the server closed on it
            return time.perf_counter() - begin, "closed"
    elapsed = time.perf_counter() - begin
    words = first.split(b" ")
    return elapsed, words[1].decode() if len(words) > 1 else "closed"


class Flood:
    """``count`` threads, each sending forged requests back to back until stopped."""

    def __init__(self, server: Server, body: bytes, count: int) -> None:
        self.stopping = threading.Event()
        self.sent = 0
        self.threads = [
            threading.Thread(target=self._run, args=(server, body), daemon=True)
            for _ in range(count)
        ]

    def _run(self, server: Server, body: bytes) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(OSError):  # refused by closing: that is fine
                forged(server, body, signed=True)
            self.sent += 1

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # every thread has a request in flight
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms"


def largest_accepted_body() -> bytes:
    """The worst a forger can still make the server parse and hash under the default limits
    ([server] max_request_bytes 32768, max_form_fields 200): 199 fields filling 32 KB."""
    value = b"x" * (32 * 1024 // 199 - 12)
    return b"&".join(b"k%03d=" % n + value for n in range(199))


def _forged_figures(server: Server, args: argparse.Namespace) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    bodies = {
        f"forged {args.size // 1000} KB": (forged_body(args.size), True),
        f"forged {args.size // 1000} KB, no header": (forged_body(args.size), False),
        "forged 32 KB, 199 fields": (largest_accepted_body(), True),
    }
    for name, (body, signed) in bodies.items():
        results = [forged(server, body, signed) for _ in range(args.calls)]
        figures[name] = [seconds for seconds, _ in results]
        print(f"  {name}: refused with {sorted({status for _, status in results})}")
    return figures


def _under_flood(server: Server, body: bytes, args: argparse.Namespace) -> list[float]:
    with Flood(server, body, args.forged) as flood:
        flooded = [call_start(server) for _ in range(args.calls)]
    statuses = sorted({status for _, status in flooded})
    print(f"  calls under flood answered {statuses}; {flood.sent} forged requests sent")
    return [seconds for seconds, _ in flooded]


def measure(server: Server, args: argparse.Namespace) -> dict[str, list[float]]:
    """Every figure; statuses that are not what they should be show in the lines printed."""
    for _ in range(3):
        call_start(server)  # warm: the first turn loads the flows and opens the database
    figures = {"idle call": [call_start(server)[0] for _ in range(args.calls)]}
    figures |= _forged_figures(server, args)
    size = f"{args.size // 1000} KB"
    figures[f"call, {args.forged} x {size} forged"] = _under_flood(
        server, forged_body(args.size), args
    )
    figures[f"call, {args.forged} x 32 KB forged"] = _under_flood(
        server, largest_accepted_body(), args
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forged", type=int, default=12, help="forged requests in flight")
    parser.add_argument("--size", type=int, default=1_000_000, help="forged body, bytes")
    parser.add_argument("--calls", type=int, default=8, help="measurements of each figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voicebot-flood-") as folder:
        server = Server(Path(folder))
        try:
            print(f"voicebot serve on 127.0.0.1:{server.port}, forged bodies of {args.size} bytes")
            figures = measure(server, args)
        finally:
            server.stop()
    idle = statistics.median(figures["idle call"])
    print(f"\n{'':32}{'':40}ratio to the idle call (median)")
    for name, values in figures.items():
        print(f"{name:32}{summary(values):40}{statistics.median(values) / idle:8.1f}x")
    forged_max = max(max(v) for k, v in figures.items() if k.startswith("forged"))
    flood_max = max(max(v) for k, v in figures.items() if k.startswith("call,"))
    print(
        f"\ntargets: forged refused < 50 ms: {'yes' if forged_max < 0.05 else 'NO'} "
        f"(max {forged_max * 1000:.1f} ms); call under flood < 2 s: "
        f"{'yes' if flood_max < 2 else 'NO'} (max {flood_max:.2f} s)"
    )


if __name__ == "__main__":
    main()

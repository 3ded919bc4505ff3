"""Load benchmark of the help line, against a floor, with one command:

    python bench/bench_load.py            # about 7 minutes; --quick for a short run

It starts a private redis-server and the service under gunicorn with the production
settings (config/gunicorn.conf.py: sync workers, WEB_CONCURRENCY workers, JSON logs at INFO,
Prometheus multi-process mode), then drives simulated calls at it from a separate client
process: signed webhooks, each call a realistic dialog (greeting; a spoken question "I forgot
my password"; a key press declining the text offer; "no" to anything else, which hangs up;
then Twilio's status callback). In the same run the same load goes to the floor
(bench/floor_app.py under the same gunicorn settings, a fixed TwiML answer), and the ratio is
printed. A third app, bench/required_app.py, is the floor plus only what every turn must do
(signature check, lock + state in Redis, one log line, one metric) done this help line's way:
it shows how much of the ratio this design pays before its dialog does anything. Only loopback
addresses are used; every loop is bounded and stops by itself.

Scenarios:
  saturation   C calls back to back with no pause between turns (closed loop): the most
               turns per second, and each turn's cost in server CPU, full vs floor (and the
               required parts). The sides take turns over several rounds (--rounds), and the
               medians are compared:
               on a shared machine one side alone can swing by 2x from one minute to the next.
  64 calls     64 calls with a caller's pause between turns (--think, default 1 s): the
               turn latency Twilio sees with 64 calls in progress (target p99 < 50 ms).
  200 calls    200 calls for 60 s with the same pauses: there must be no errors.
  memory       Redis MEMORY USAGE of each conversation in progress (target < 1 KB).

The latency of a turn is measured by the client from sending the request to reading the whole
answer; the client shares the machine's cores with the server, so under saturation part of
the latency is the client's own queueing (its CPU use is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
ACTION = re.compile(r'<(?:Gather|Dial)[^>]*\saction="([^"]+)"')
HELPLINE = "+14045550100"
ACCOUNT = "AC" + "0" * 32

# One call: (kind, fields, what a correct full answer contains)
DIALOG = [
    ("start", {"CallStatus": "ringing", "Direction": "inbound"}, "<Gather"),
    (
        "turn",
        {"SpeechResult": "I cannot remember my password", "Confidence": "0.92"},
        "Forgot Your Password",
    ),
    ("turn", {"Digits": "2"}, "<Gather"),
    ("turn", {"SpeechResult": "no", "Confidence": "0.9"}, "<Hangup"),
]


# The third side at saturation: the floor plus only what issue 6 requires of every turn.
REQUIRED = "required parts"

# ---- helpers -------------------------------------------------------------------------------


def call_fields(number: int) -> dict[str, str]:
    """What Twilio sends with every webhook of one new call, from caller `number`."""
    return {
        "CallSid": "CA" + secrets.token_hex(16),
        "AccountSid": ACCOUNT,
        "From": f"+1404555{number % 10000:04d}",
        "To": HELPLINE,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, from /proc (clock ticks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def stop_group(process: subprocess.Popen, timeout: float) -> None:
    """End a server started in its own process group (gunicorn and its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up; log:\n{log.read_text(errors='replace')[-3000:]}")


class Redis:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install -y redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.client = redis.Redis(host="127.0.0.1", port=self.port, retry=Retry(NoBackoff(), 0))
        for _ in range(100):
            try:
                self.client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Gunicorn:
    def __init__(self, name: str, environ: dict[str, str], workdir: Path, app: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        env = environ | {
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"{name}-metrics"),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
        if app:
            command.append(app)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_http(self.url + "/healthz", self.process, self.log)
        self._wait_for_workers()

    def _wait_for_workers(self, timeout: float = 30) -> None:
        """The first worker answers /healthz while the others may still be starting: CPU
        measured then would miss them (their requests uncounted) or count their start-up.
        Wait until the workers stay the same and sit idle for half a second."""
        deadline = time.monotonic() + timeout
        before, spent = self.pids(), cpu_seconds(self.pids())
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now, used = self.pids(), cpu_seconds(self.pids())
            if now == before and len(now) > 1 and used - spent < 0.02:
                return
            before, spent = now, used

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        stop_group(self.process, 30)


# ---- the client (a separate process) -----------------------------------------------------


async def _client(args: argparse.Namespace) -> dict:
    import random

    import aiohttp
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(args.token)
    latencies: dict[str, list[float]] = {"turn": [], "status": []}
    errors: dict[str, int] = {}
    calls_done = 0
    started = time.monotonic()
    deadline = started + args.duration
    cpu_start = time.process_time()
    rng = random.Random(args.seed)

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def post(session: aiohttp.ClientSession, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
        signature = validator.compute_signature(args.url + path, fields)
        begin = time.perf_counter()
        try:
            async with session.post(
                args.url + path, data=fields, headers={"X-Twilio-Signature": signature}
            ) as response:
                body = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            error(type(exc).__name__)
            return None, time.perf_counter() - begin
        if status != 200:
            error(f"http {status}")
            return None, time.perf_counter() - begin
        return body, time.perf_counter() - begin

    async def caller(number: int, session: aiohttp.ClientSession) -> None:
        nonlocal calls_done
        await asyncio.sleep(rng.random() * min(args.think, 1.0))  # calls do not start in step
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            base = call_fields(rng.randrange(10000))
            action = "/voice"
            completed = True
            for turn, (kind, fields, expected) in enumerate(DIALOG):
                path = "/voice" if kind == "start" else action
                body, seconds = await post(session, path, base | fields)
                if body is None:
                    completed = False
                    break
                latencies["turn"].append(seconds)
                if args.check and expected not in body:
                    error("wrong answer")
                    completed = False
                    break
                found = ACTION.search(body)
                action = (
                    found.group(1).replace("&amp;", "&")
                    if found
                    else f"/voice/gather?turn={turn + 1}"
                )
                if args.think and turn < len(DIALOG) - 1:
                    await asyncio.sleep(args.think * (0.5 + rng.random()))
            if completed:
                body, seconds = await post(
                    session,
                    "/voice/status",
                    base | {"CallStatus": "completed", "CallDuration": "42"},
                )
                if body is not None:
                    latencies["status"].append(seconds)
                    calls_done += 1
            if args.think:
                await asyncio.sleep(args.think * rng.random())

    timeout = aiohttp.ClientTimeout(total=15)  # Twilio's limit
    connector = aiohttp.TCPConnector(limit=0, force_close=not args.keepalive)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(caller(n, session) for n in range(args.calls)))
    wall = time.monotonic() - started
    turns = latencies["turn"]
    return {
        "calls": args.calls,
        "calls_done": calls_done,
        "turns": len(turns),
        "requests": len(turns) + len(latencies["status"]),
        "wall": wall,
        "turns_per_s": len(turns) / wall,
        "p50_ms": 1000 * percentile(turns, 0.50),
        "p95_ms": 1000 * percentile(turns, 0.95),
        "p99_ms": 1000 * percentile(turns, 0.99),
        "max_ms": 1000 * max(turns) if turns else float("nan"),
        "mean_ms": 1000 * statistics.fmean(turns) if turns else float("nan"),
        "errors": errors,
        "client_cpu": (time.process_time() - cpu_start) / wall,
    }


def run_client(
    url: str, token: str, calls: int, duration: float, think: float, check: bool
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--client",
        "--url",
        url,
        "--token",
        token,
        "--calls",
        str(calls),
        "--duration",
        str(duration),
        "--think",
        str(think),
    ]
    if check:
        command.append("--check")
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    if done.returncode != 0:
        raise SystemExit(f"client failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def drive(
    server: Gunicorn,
    redis_pid: int | None,
    token: str,
    calls: int,
    duration: float,
    think: float,
    check: bool,
) -> dict:
    pids = server.pids()
    server_cpu, redis_cpu = cpu_seconds(pids), cpu_seconds([redis_pid] if redis_pid else [])
    result = run_client(server.url, token, calls, duration, think, check)
    result["server_cpu_ms_per_request"] = (
        1000 * (cpu_seconds(pids) - server_cpu) / max(1, result["requests"])
    )
    result["redis_cpu_ms_per_request"] = (
        1000
        * (cpu_seconds([redis_pid] if redis_pid else []) - redis_cpu)
        / max(1, result["requests"])
    )
    return result


# ---- memory per conversation -------------------------------------------------------------


def memory_per_conversation(server: Gunicorn, redis: Redis, token: str, count: int) -> dict:
    """Start `count` calls and leave each in the middle of its dialog; weigh what Redis holds."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    redis.client.flushall()
    before = redis.client.info("memory")["used_memory"]

    def post(path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(
            server.url + path,
            data=data,
            headers={"X-Twilio-Signature": validator.compute_signature(server.url + path, fields)},
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.read().decode()

    for n in range(count):
        base = call_fields(n)
        body = post("/voice", base | DIALOG[0][1])
        action = ACTION.search(body).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        post(action, base | DIALOG[1][1])
    after = redis.client.info("memory")["used_memory"]

    def usage(pattern: str) -> list[int]:
        keys = list(redis.client.scan_iter(match=pattern, count=1000))
        return [int(redis.client.memory_usage(key, samples=0) or 0) for key in keys]

    state = usage("vb:conv:*")
    others = [key for key in redis.client.scan_iter(count=1000) if not key.startswith(b"vb:conv:")]
    return {
        "conversations": len(state),
        "state_bytes_mean": statistics.fmean(state) if state else float("nan"),
        "state_bytes_max": max(state) if state else 0,
        "used_memory_delta_per_conversation": (after - before) / max(1, count),
        "other_keys": len(others),
    }


# ---- the report ----------------------------------------------------------------------------


def row(name: str, r: dict) -> str:
    errors = sum(r["errors"].values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items()))
    return (
        f"| {name} | {r['calls']} | {r['turns']} | {r['turns_per_s']:.0f} | {r['p50_ms']:.1f} | "
        f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} | "
        f"{r['server_cpu_ms_per_request']:.2f} | {r['redis_cpu_ms_per_request']:.2f} | "
        f"{r['client_cpu']:.0%} | {errors}{f' ({detail})' if detail else ''} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "0") or 0),
        help="gunicorn workers (default: as config/gunicorn.conf.py decides)",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a caller pauses between turns in the paced scenarios",
    )
    parser.add_argument("--saturation-calls", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=0, help="saturation rounds per side (default 3; 2 quick)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    # the client process
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keepalive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        print(json.dumps(asyncio.run(_client(args))))
        return 0

    saturation_s, paced_s, soak_s = (8, 15, 20) if args.quick else (15, 45, 60)
    args.rounds = max(1, args.rounds or (2 if args.quick else 3))
    token = secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix="voicebot-bench-"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOT_", "TWILIO_"))}
    environ.pop("PORT", None)
    if args.workers:
        environ["WEB_CONCURRENCY"] = str(args.workers)
    redis = Redis(workdir / "redis")
    environ |= {
        "TWILIO_AUTH_TOKEN": token,
        "REDIS_URL": redis.url,
        "DATABASE_URL": f"sqlite:///{workdir / 'voicebot.sqlite3'}",
        "VOICEBOT_OUTBOX": str(workdir / "outbox.jsonl"),
        "VOICEBOT_INSTANCE_DIR": str(workdir / "instance"),
        "LOG_LEVEL": "INFO",
    }
    servers: list[Gunicorn] = []
    results: dict[str, dict] = {}
    try:
        from voicebot.records import db

        engine = db.make_engine(environ["DATABASE_URL"])
        db.upgrade(engine)  # what the Procfile's release step runs
        engine.dispose()
        full = Gunicorn("full", environ, workdir, None)
        servers.append(full)
        floor = Gunicorn("floor", environ, workdir, "bench.floor_app:app")
        servers.append(floor)
        required = Gunicorn("required", environ, workdir, "bench.required_app:create_app()")
        servers.append(required)
        workers = len(children(full.process.pid))
        print(
            f"gunicorn workers: {workers} (full), {len(children(floor.process.pid))} (floor), "
            f"{len(children(required.process.pid))} (required parts); "
            f"cores: {os.cpu_count()}; logs in {workdir}",
            file=sys.stderr,
        )

        n = args.saturation_calls
        # Saturation alternates floor and full, round after round: on a shared machine the
        # same run can cost twice as much a minute later, so each side's figure is the median
        # of its rounds and the ratio compares rounds taken side by side.
        for round_number in range(1, args.rounds + 1):
            sides = [("floor", floor, False), (REQUIRED, required, True), ("full", full, True)]
            shift = (round_number - 1) % len(sides)  # each side goes first in some round
            for side, server, uses_redis in sides[shift:] + sides[:shift]:
                name = f"saturation, {n} calls, no pause, round {round_number}: {side}"
                print(f"running: {name} ({saturation_s} s)", file=sys.stderr)
                pid = redis.process.pid if uses_redis else None
                results[name] = drive(server, pid, token, n, saturation_s, 0.0, side == "full")
        steps = [
            (f"64 calls, {args.think:g} s pauses: floor", floor, None, 64, paced_s, False),
            (f"64 calls, {args.think:g} s pauses: full", full, redis, 64, paced_s, True),
            (
                f"200 calls, {args.think:g} s pauses, {soak_s} s: full",
                full,
                redis,
                200,
                soak_s,
                True,
            ),
        ]
        for name, server, uses_redis, calls, seconds, check in steps:
            print(f"running: {name} ({seconds} s)", file=sys.stderr)
            pid = redis.process.pid if uses_redis else None
            results[name] = drive(server, pid, token, calls, seconds, args.think, check)
        print("running: memory per conversation", file=sys.stderr)
        memory = memory_per_conversation(full, redis, token, 200)
    finally:
        for server in servers:
            server.stop()
        redis.stop()

    names = list(results)
    floor_rounds = [results[k] for k in names if k.startswith("saturation") and k.endswith("floor")]
    full_rounds = [results[k] for k in names if k.startswith("saturation") and k.endswith("full")]
    required_rounds = [
        results[k] for k in names if k.startswith("saturation") and k.endswith(REQUIRED)
    ]
    floor_paced, full_paced, soak = (results[k] for k in names[-3:])
    print()
    print(
        f"Load benchmark: `python bench/bench_load.py{' --quick' if args.quick else ''}` "
        f"({workers} gunicorn sync workers, {os.cpu_count()} cores, client in a separate process "
        "on the same machine)"
    )
    print()
    print(
        "| scenario | calls | turns | turns/s | p50 ms | p95 ms | p99 ms | max ms | "
        "server CPU ms/req | Redis CPU ms/req | client CPU | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        print(row(name, results[name]))
    print()

    def median(rounds: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    cpu = "server_cpu_ms_per_request"
    floor_cpu, full_cpu = median(floor_rounds, cpu), median(full_rounds, cpu)
    full_redis = median(full_rounds, "redis_cpu_ms_per_request")
    per_round = [b[cpu] / a[cpu] for a, b in zip(floor_rounds, full_rounds, strict=True)]
    print(f"| full / floor ({args.rounds} rounds each, medians) | ratio | target |")
    print("|---|---|---|")
    print(
        f"| server CPU per request at saturation: {full_cpu:.2f} / {floor_cpu:.2f} ms | "
        f"{full_cpu / floor_cpu:.2f}x (rounds: {min(per_round):.2f}x to {max(per_round):.2f}x) "
        "| <= 2x |"
    )
    required_cpu = median(required_rounds, cpu)
    required_per_round = [
        b[cpu] / a[cpu] for a, b in zip(floor_rounds, required_rounds, strict=True)
    ]
    print(
        f"| the required parts alone (bench/required_app.py) / floor: "
        f"{required_cpu:.2f} / {floor_cpu:.2f} ms | {required_cpu / floor_cpu:.2f}x "
        f"(rounds: {min(required_per_round):.2f}x to {max(required_per_round):.2f}x) | |"
    )
    print(f"| full / the required parts alone | {full_cpu / required_cpu:.2f}x | |")
    print(
        f"| server + Redis CPU per request at saturation | "
        f"{(full_cpu + full_redis) / floor_cpu:.2f}x | |"
    )
    print(
        f"| turns/s at saturation (floor / full) | "
        f"{median(floor_rounds, 'turns_per_s') / median(full_rounds, 'turns_per_s'):.2f}x | |"
    )
    print(
        f"| p50 latency, 64 paced calls | {full_paced['p50_ms'] / floor_paced['p50_ms']:.2f}x | |"
    )
    print(  # one run per side, not alternated rounds: noisier than the saturation figure
        f"| server CPU per request, 64 paced calls (one run each) | "
        f"{full_paced[cpu] / floor_paced[cpu]:.2f}x | |"
    )
    print()
    print("| check | measured | target |")
    print("|---|---|---|")
    print(f"| p99 turn latency, 64 calls in progress | {full_paced['p99_ms']:.1f} ms | < 50 ms |")
    print(
        f"| errors, 200 calls for {soak_s} s | {sum(soak['errors'].values())} "
        f"({soak['turns']} turns, {soak['calls_done']} calls) | 0 |"
    )
    print(
        f"| Redis MEMORY USAGE, conversation state per call in progress | "
        f"{memory['state_bytes_mean']:.0f} B (max {memory['state_bytes_max']}) | < 1 KB |"
    )
    print(f"| Redis keys besides conversations | {memory['other_keys']} | |")
    print(
        f"| Redis used_memory growth per call in progress | "
        f"{memory['used_memory_delta_per_conversation']:.0f} B | |"
    )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "memory": memory}, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

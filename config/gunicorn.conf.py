"""gunicorn settings for the help line (``voicebot serve`` in the Procfile loads them;
``gunicorn -c config/gunicorn.conf.py`` works too).

Twilio waits at most 15 s for a webhook answer and then plays "an application error has
occurred", so every time limit here is well below that. Environment:

  PORT                 bind 0.0.0.0:$PORT (else 127.0.0.1:8000); GUNICORN_BIND overrides both
  WEB_CONCURRENCY      worker processes (default: 2 per core, at least 2, at most 4); always
                       1 without Redis (REDIS_URL or storage.redis_url): conversations then
                       live in the one process
  GUNICORN_KEEPALIVE   seconds an idle keep-alive connection stays open (default 5; raise it
                       above the load balancer's idle timeout when there is one)
  PROMETHEUS_MULTIPROC_DIR  where workers write their metric values; a fresh temporary folder
                       when unset (set before any worker imports prometheus_client)
  LOG_LEVEL            default INFO; gunicorn's own lines are JSON like the app's
  VOICEBOT_SECRET_KEY  signs the agents' console sessions and keys SMS conversation ids;
                       when unset (here and in the config file), one key is made here for
                       all of this server's workers
  VOICEBOT_TRUSTED_PROXIES  forwarded headers are read by the app only (ProxyFix, per this
                       setting), never by gunicorn itself
"""

from __future__ import annotations

import glob
import logging
import os
import secrets
import shutil
import tempfile

from voicebot.config import Settings, load_settings
from voicebot.ops.logs import gunicorn_logconfig, skip_unused_record_fields


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


wsgi_app = "voicebot.wsgi:app"

_port = os.environ.get("PORT", "").strip()
bind = [os.environ.get("GUNICORN_BIND") or (f"0.0.0.0:{_port}" if _port else "127.0.0.1:8000")]

# Sync workers: one request at a time per process, each turn a few milliseconds of CPU; the
# worker timeout below then really bounds a stuck request (gunicorn kills the worker).
worker_class = "sync"
workers = _int("WEB_CONCURRENCY", min(4, max(2, 2 * (os.cpu_count() or 1))))


def _settings() -> Settings | None:
    """The help line's settings, or None when they do not load: the app then stops start-up
    itself, in each worker, with the key that is wrong."""
    try:
        return load_settings()
    except Exception:
        return None


_loaded = _settings()
# REDIS_URL, or storage.redis_url in the config file; a config that does not load says yes.
_has_redis = _loaded is None or bool(_loaded.redis_url)
if not _has_redis:
    # Without Redis each worker keeps conversations in its own memory, and a call whose next
    # turn reaches another worker starts over: one worker only, whatever WEB_CONCURRENCY says.
    workers = 1
timeout = 10  # a worker silent this long is killed and replaced: below Twilio's 15 s
graceful_timeout = 10  # on restart/deploy, in-flight turns get this long to finish
keepalive = _int("GUNICORN_KEEPALIVE", 5)
backlog = 2048
# Request head limits: Twilio sends a short URL and a dozen headers. Bodies are bounded by the
# app ([server] max_request_bytes, refused with 413 before they are read).
limit_request_line = 4094
limit_request_fields = 64
limit_request_field_size = 8190
# X-Forwarded-Proto and the like are believed in one place only: the app's ProxyFix, and only
# from the number of proxies [server] trusted_proxies names. gunicorn's own default would
# believe them from any local process (and from anything on a Unix socket).
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
preload_app = False  # the app is built in each worker, after the metrics folder is set
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files off a possibly slow container disk

# Access log: path without the query string, status, bytes, milliseconds; no referer, no
# headers (X-Twilio-Signature), no form data. The address (X-Forwarded-For's, behind
# ProxyFix) and the path are client text: logconfig_dict scrubs each field as the app's own
# lines are scrubbed (voicebot.policy.redact.AccessLogFilter), digits in a path included.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = gunicorn_logconfig(loglevel.upper())
skip_unused_record_fields()  # workers inherit it: no caller frame lookup per log line
proc_name = "voicebot"
# gunicorn >= 24 opens a control socket in $HOME by default; two servers on one machine
# would share it. Not used here (older gunicorn ignores this name).
control_socket_disable = True

# ---- the agents' console key --------------------------------------------------------------

if not (_loaded.secret_key if _loaded else os.environ.get("VOICEBOT_SECRET_KEY", "").strip()):
    # Each worker making its own key would sign agents out, and start texters' conversations
    # over, whenever their next request reached another worker; one key made here, before the
    # workers start, is shared.
    os.environ["VOICEBOT_SECRET_KEY"] = secrets.token_hex(32)
    logging.getLogger("voicebot.agents").warning(
        "VOICEBOT_SECRET_KEY is not set: agents' console sessions and SMS conversations use a "
        "key made at start-up and end when this server restarts (or reach another server); "
        "set it, the same on every server, in production"
    )

# ---- Prometheus multi-process mode --------------------------------------------------------

_created_metrics_dir = ""
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_metrics_dir = tempfile.mkdtemp(prefix="voicebot-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def on_starting(server):  # type: ignore[no-untyped-def]
    """Values left by an earlier run of this server would be added to the new ones."""
    if not _has_redis:
        server.log.warning(
            "no Redis configured (REDIS_URL): one worker, keeping conversations in its memory; "
            "set REDIS_URL to run more workers or servers"
        )
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)

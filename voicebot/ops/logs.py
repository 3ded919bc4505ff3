"""Structured logs: one JSON object per line, for log drains and searches.

Every line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and ``message``,
then the record's ``extra=`` fields as they are (``exception`` and ``stack`` when there are
any). Redaction is not done here: voicebot.policy.redact scrubs records before any handler sees
them, and any ``logging.Filter`` passed to ``configure`` runs on the handler before this
formatter; a traceback a filter already rendered (and scrubbed) into ``record.exc_text`` is
used as it is, never rendered again from the exception.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

# The attributes every LogRecord has; anything else on a record came from extra=.
STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
CORE = ("time", "level", "logger", "message")
MAX_FIELD = 4000  # a runaway extra= value must not make a megabyte log line
_MARK = "_voicebot_json_handler"
_PLAIN = frozenset({type(None), bool, int, float})
# json.dumps with options builds a new encoder for every call: one, made once, does the same.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, str):  # a str subclass (a str Enum) too: json writes its value
        return value if len(value) <= MAX_FIELD else value[:MAX_FIELD] + "..."
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value[:100]]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in list(value.items())[:100]}
    return _jsonable(str(value))


class JsonFormatter(logging.Formatter):
    """A LogRecord as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD and not key.startswith("_"):
                out[f"extra_{key}" if key in CORE else key] = _jsonable(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return _ENCODE(out)


def configure(
    level: int | str = "INFO",
    stream: IO[str] | None = None,
    filters: Iterable[logging.Filter] = (),
) -> logging.Handler:
    """Send every log record, as JSON lines, to ``stream`` (stderr by default).

    Installs one handler on the root logger (replacing the one an earlier call installed,
    so calling it twice is harmless) and sets the level of the root and ``voicebot``
    loggers. ``filters`` go on the handler, so they see records of every logger.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter())
    for item in filters:
        handler.addFilter(item)
    if isinstance(level, str):
        level = logging.getLevelName(level.strip().upper() or "INFO")
        if not isinstance(level, int):
            level = logging.INFO
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("voicebot").setLevel(level)
    return handler


def skip_unused_record_fields() -> None:
    """The JSON lines carry no source file, line, thread or process, so stop logging from
    working them out for every record: a third of a log line's CPU (the "Optimization"
    section of Python's logging HOWTO). For server processes (config/gunicorn.conf.py)."""
    logging._srcfile = None  # type: ignore[attr-defined]  # the documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """A logging.config dict for gunicorn's own loggers (error and access), in JSON too.

    The root logger gets no handler here: the app's ``configure`` call (voicebot.wsgi) adds
    the one JSON handler for the application's records, so no line is written twice. Both
    handlers scrub what a client sent (X-Forwarded-For, paths) as the app's own lines are
    scrubbed (voicebot.policy.redact); the filters are named, not imported, because that
    module imports this one.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level, "handlers": []},
        "formatters": {"json": {"()": "voicebot.ops.logs.JsonFormatter"}},
        "filters": {
            "scrub_error": {"()": "voicebot.policy.redact.ServerLogFilter"},
            "scrub_access": {"()": "voicebot.policy.redact.AccessLogFilter"},
        },
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["scrub_error"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["scrub_access"],
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }

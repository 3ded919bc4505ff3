"""Log redaction: what a caller said or keyed must not end up in clear in the logs.

Logs travel further than the database (log drains, support tickets, screenshots), so every
record from the ``voicebot`` loggers is scrubbed before any handler sees it:

* runs of more than four digits, with any separators, digits spoken as words included
  (student numbers, one-time codes, SSNs) become ``[digits]``;
* date-like text (birth dates) becomes ``[date]``;
* E.164 phone numbers keep only their last two digits (``***23``), enough to tell callers
  apart;
* control characters are removed, so caller text cannot forge log lines.

Values passed with ``extra=`` are scrubbed too, on every logger of the tree (see :func:`install`).
gunicorn's own lines (access and error) go through :class:`AccessLogFilter` and
:class:`ServerLogFilter`, which ``gunicorn_logconfig`` puts on their handlers.

Twilio SIDs (CA..., SM... followed by 32 hex digits) and hex digests of 16 or more characters
are kept: operators need them to trace a call, and they are identifiers made up by Twilio or
the service, not anything the caller said.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from voicebot.ops.logs import STANDARD
from voicebot.policy.guard import CleanTexts, find_secrets

_E164 = re.compile(r"\+\d{8,15}(?!\d)")
# Identifiers the service or Twilio made up (CallSids, hex digests): kept for tracing. They
# hold nothing a caller said, and a hex run with letters in it is not a number anyone keys.
_IDENTIFIER = re.compile(r"\b[A-Z]{2}[0-9a-fA-F]{32}\b|\b(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b")
# A Twilio SID alone, or a call's conversation ("call:CA..."): new in every call's log lines,
# so the memo of clean texts never knows it. Whatever the scan finds in one lies wholly inside
# the identifier and is kept (see _scrub_line), so it is kept without the scan.
_SID_ALONE = re.compile(r"(?:call:)?[A-Z]{2}[0-9a-fA-F]{32}")
_LINE_BREAKS = {"\n": " ", "\r": " ", "\t": " "}


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """Remove control and format characters (newlines become spaces unless kept)."""
    if type(text) is str and text.isascii() and text.isprintable():  # nothing to remove
        return text
    out = []
    for char in text:
        if keep_newlines and char == "\n":
            out.append(char)
        elif char in _LINE_BREAKS:
            out.append(_LINE_BREAKS[char])
        elif unicodedata.category(char) not in ("Cc", "Cf"):
            out.append(char)
    return "".join(out)


_EDGE = 4  # a secret is more than four digits: this many at each end show one running in


def _mask_inside(match: re.Match[str]) -> str:
    value = match.group()
    return value[:_EDGE] + "x" * max(0, len(value) - 2 * _EDGE) + value[-_EDGE:]


def _scrub_line(text: str) -> str:
    if _SID_ALONE.fullmatch(text):
        return text
    text = _E164.sub(lambda m: "***" + m.group()[-2:], text)
    # Identifiers are kept. Their insides are scanned as letters of the same length (the
    # spans found still point into the text, and a long hex id costs no digit-by-digit
    # scan); their first and last few characters are scanned as they are, so a number or a
    # date that runs into an identifier is still found. Findings wholly inside one are kept.
    keep = [(m.start(), m.end()) for m in _IDENTIFIER.finditer(text)]
    masked = _IDENTIFIER.sub(_mask_inside, text)
    spans = [
        span
        for span in find_secrets(masked)
        if not any(start <= span.start and span.end <= end for start, end in keep)
    ]
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for span in spans:  # sorted by start; overlapping spans merge into the first
        if span.end <= position:
            continue
        start = max(span.start, position)
        out.append(text[position:start])
        out.append(f"[{span.kind}]")
        position = span.end
    out.append(text[position:])
    return "".join(out)


def scrub(text: str, keep_newlines: bool = False) -> str:
    """The text with secrets, phone numbers and control characters taken out."""
    text = strip_controls(str(text), keep_newlines)
    if keep_newlines:
        return "\n".join(_scrub_line(line) for line in text.split("\n"))
    return _scrub_line(text)


class RedactingFilter(logging.Filter):
    """Scrubs a record in place: the message (with its args merged in), the traceback and
    any extra= strings. Always lets the record through; it changes, never drops.

    Log lines repeat their words (messages, states, intents), so a string found to need no
    scrubbing is remembered and not scanned again; it is going to the log as it is anyway.
    """

    def __init__(self) -> None:
        super().__init__()
        self._clean = CleanTexts()

    def scrub(self, value: str) -> str:
        if value in self._clean:
            return value
        scrubbed = scrub(value)
        if scrubbed == value:
            self._clean.add(value)
        return scrubbed

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_voicebot_redacted", False):
            self._scrub_message(record)
            record._voicebot_redacted = True
        fields = vars(record)
        for key, value in list(fields.items()):
            if isinstance(value, str) and key not in STANDARD:
                fields[key] = self.scrub(value)
        return True

    def _scrub_message(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg} {record.args!r}"
        # Merge args into the message before scrubbing: two short args side by side
        # ("%s%s") can make one long number.
        record.msg = self.scrub(message)
        record.args = ()
        _scrub_traces(record)


def _scrub_traces(record: logging.LogRecord) -> None:
    """The record's traceback and stack, rendered once and scrubbed line by line."""
    if record.exc_info:
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # exception args may hold what the caller said
    if record.exc_text:
        record.exc_text = scrub(record.exc_text, keep_newlines=True)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, keep_newlines=True)


# ---- gunicorn's own loggers (see voicebot.ops.logs.gunicorn_logconfig) --------------------

# Access-line atoms the server makes itself (status, sizes, durations, time, pid): numbers,
# never anything a client sent, so kept. Every other atom (%(h)s, %(U)s, %(r)s, headers...)
# is client text and is scrubbed on its own: scrubbing the whole line would run the status,
# size and duration together into one "[digits]".
_SERVER_ATOMS = frozenset("sbBTDMLpt")


def is_address(value: str) -> bool:
    """An IP address alone, or host:port or an http(s) URL of one: kept in gunicorn's lines,
    where the field is known to hold the peer's or the server's address."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        parts.port  # noqa: B018  (raises on a port that is not one)
        host = parts.hostname or ""
        ipaddress.ip_address(host)
    except ValueError:
        return False
    plain = not (parts.path or parts.query or parts.fragment or parts.username)
    return plain and parts.scheme in ("", "http", "https")


class _ScrubbedAtoms:
    """gunicorn's atoms as %-format reads them, each client value scrubbed when read."""

    def __init__(self, atoms: Mapping[str, Any], scrubber: RedactingFilter) -> None:
        self._atoms = atoms
        self._scrubber = scrubber

    def __getitem__(self, key: str) -> Any:
        value = self._atoms[key]  # gunicorn's SafeAtoms: headers by any case, "-" if missing
        if not isinstance(value, str) or key in _SERVER_ATOMS:
            return value
        if key == "h" and is_address(value):
            return value
        return self._scrubber.scrub(value)


class AccessLogFilter(RedactingFilter):
    """gunicorn's access lines scrubbed like the app's own, one field at a time.

    %(h)s is X-Forwarded-For's value behind ProxyFix and %(U)s any path a client asks for,
    so either can carry an SSN or a code. A line that is not gunicorn's (args not a mapping)
    or whose format fails is scrubbed whole, as any other record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_voicebot_redacted", False):
            return True
        if isinstance(record.args, Mapping):
            try:
                record.msg = str(record.msg) % _ScrubbedAtoms(record.args, self)
                record.args = ()
                record._voicebot_redacted = True
            except Exception:  # a bad access_log_format: the whole line, scrubbed
                pass
        return super().filter(record)


class ServerLogFilter(RedactingFilter):
    """gunicorn's error log: some lines quote a request (an invalid request line, a failed
    request's path, the debug "GET /path"). The message and each text argument are scrubbed
    apart; numbers passed as numbers (pids, counts) are gunicorn's own and kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_voicebot_redacted", False) or not isinstance(record.args, tuple):
            return super().filter(record)
        record.msg = self.scrub(str(record.msg))
        record.args = tuple(self._argument(value) for value in record.args)
        _scrub_traces(record)
        record._voicebot_redacted = True
        return True

    def _argument(self, value: Any) -> Any:
        if type(value) in (int, float, bool) or value is None:
            return value
        text = str(value)
        return text if is_address(text) else self.scrub(text)


_lock = threading.Lock()
_installed: set[str] = set()
_base_factory: Any = None
_filter = RedactingFilter()


_wired: set[str] = set()  # loggers known to carry the filter


def _covered(name: str | None) -> bool:
    return bool(name) and any(name == root or name.startswith(root + ".") for root in _installed)


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if _installed and _covered(record.name):
        _filter.filter(record)  # the message, and any field another factory put there
        if record.name not in _wired:
            # A logger made after install() lacks the filter that scrubs extra= fields (set
            # on the record after this factory); it gets it now, before it handles this one.
            logger = logging.getLogger(record.name)
            if _filter not in logger.filters:
                logger.addFilter(_filter)
            _wired.add(record.name)
    return record


def install(logger_name: str = "voicebot") -> RedactingFilter:
    """Scrub every record from this logger and all its children, wherever it is handled.

    A filter on a logger does not see its children's records, and one on a handler misses
    handlers added later (gunicorn's, pytest's), so records are scrubbed as they are made:
    the record factory is wrapped once, for the named logger trees only. Safe to call again.
    """
    global _base_factory
    with _lock:
        if _base_factory is None:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_factory)
        _installed.add(logger_name)
    # extra= fields are set on a record after the factory made it: a filter on the logger
    # sees them. The loggers that exist now get it here, later ones from the factory.
    for logger in _tree(logger_name):
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    return _filter


def _tree(logger_name: str) -> list[logging.Logger]:
    names = [
        name
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and (name + ".").startswith(logger_name + ".")
    ]
    return [logging.getLogger(logger_name)] + [logging.getLogger(name) for name in names]


def uninstall(logger_name: str = "voicebot") -> None:
    """Stop scrubbing this logger tree (tests use it to leave logging as they found it)."""
    with _lock:
        _installed.discard(logger_name)
        _wired.clear()
    for logger in _tree(logger_name):
        logger.removeFilter(_filter)

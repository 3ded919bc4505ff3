"""Conversation outcomes counted per day of the district, per channel, in Redis.

Each conversation is counted once, in the hash of the district's day it began
(``vb:stats:outcomes:YYYY-MM-DD``, fields ``voice:answered``, ``sms:callback``...), under
its outcome so far (:mod:`voicebot.dialog.outcomes`). When a turn changes that outcome the
count moves from the old field to the new one in the script that saves the turn (atomic, and
no extra round trip), so a call that ends (or a text thread that goes quiet) is already
counted under its final outcome, with no end event needed, and a conversation still going is
counted under its outcome so far. Nothing about the caller is kept: no number, no words, no
conversation id, only counts.

The hashes expire after :data:`STATS_TTL` (400 days), longer than the 366 days the
statistics page can show at once.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from voicebot.dialog.outcomes import OUTCOMES
from voicebot.sessions.store import PREFIX, Tally

STATS_TTL = 400 * 24 * 3600
CHANNELS = ("voice", "sms")


def outcomes_key(day: str) -> str:
    return f"{PREFIX}stats:outcomes:{day}"


def district_day(zone: tzinfo, when: float | None = None) -> date:
    """The district's calendar day at ``when`` (seconds since the epoch; default now): a call
    at 23:30 in New York on Dec 5 is on Dec 5, though it is Dec 6 in UTC."""
    moment = time.time() if when is None else when
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).date()


def tally(channel: str, day: str, old: str, new: str) -> Tally:
    """The move of a conversation's count from ``old`` ('' when not counted yet) to ``new``,
    made by the turn's save (SessionStore.save): counted if and only if the turn is kept."""
    if channel not in CHANNELS or new not in OUTCOMES or (old and old not in OUTCOMES):
        raise ValueError(f"not an outcome to count: {channel} {old!r} -> {new!r}")
    date.fromisoformat(day)  # a day, nothing else, goes into the key
    return Tally(
        key=outcomes_key(day),
        old=f"{channel}:{old}" if old else "",
        new=f"{channel}:{new}",
        ttl=STATS_TTL,
    )


def counts(redis_client: Any, first: date, last: date) -> dict[date, dict[str, int]]:
    """Each day's counts from ``first`` to ``last``: {"voice:answered": 3, ...}."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    pipe = redis_client.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(outcomes_key(day.isoformat()))
    table: dict[date, dict[str, int]] = {}
    for day, raw in zip(days, pipe.execute(), strict=True):
        table[day] = {_text(k): int(v) for k, v in (raw or {}).items()}
    return table


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

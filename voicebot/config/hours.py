"""Support's opening hours: when a transfer can be answered by a person.

The district's help page does not state support's hours, so they are a setting
([support] in config/); with none set the help line always tries to transfer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class HoursError(ValueError):
    """A support-hours setting that cannot be read; the message names the key."""


@dataclass(frozen=True)
class SupportHours:
    timezone: str = "America/New_York"
    weekly: dict[int, tuple[time, time]] = field(default_factory=dict)  # weekday -> open, close
    holidays: frozenset[date] = frozenset()

    @property
    def configured(self) -> bool:
        return bool(self.weekly)

    def status(self, now: float) -> bool | None:
        """Open or closed now; None when no hours are configured (nothing to tell callers)."""
        return self.is_open(now) if self.configured else None

    def is_open(self, now: float) -> bool:
        """Unconfigured hours count as open: we do not invent a closing time."""
        if not self.configured:
            return True
        local = datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        window = self.weekly.get(local.weekday())
        return window is not None and window[0] <= local.time() < window[1]


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _clock(text: str) -> time:
    """ "8:00", "08:00", "17:30" (and ISO forms: "08:00:00", "0800"); "24:00" is the end of
    the day (open until midnight)."""
    found = _CLOCK.fullmatch(text.strip())
    if not found:
        return time.fromisoformat(text.strip())
    hour, minute = int(found[1]), int(found[2])
    if (hour, minute) == (24, 0):
        return time.max
    return time(hour, minute)  # ValueError past 23:59


def parse_hours(timezone: str, weekly: dict[str, str], holidays: list[str]) -> SupportHours:
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise HoursError(f"[support] timezone: unknown time zone {timezone!r}") from exc
    table: dict[int, tuple[time, time]] = {}
    for day, span in weekly.items():
        if day not in DAYS:
            raise HoursError(f"[support.hours] {day}: not a day (use {', '.join(DAYS)})")
        try:
            start, end = (_clock(part) for part in str(span).split("-"))
        except ValueError as exc:
            raise HoursError(
                f"[support.hours] {day}: write it as 08:00-17:00 (24:00 for midnight), got {span!r}"
            ) from exc
        if start >= end:
            raise HoursError(f"[support.hours] {day}: opens after it closes ({span!r})")
        table[DAYS.index(day)] = (start, end)
    try:
        days = frozenset(date.fromisoformat(str(d)) for d in holidays)
    except ValueError as exc:
        raise HoursError(f"[support] holidays: dates are YYYY-MM-DD ({exc})") from exc
    return SupportHours(timezone=timezone, weekly=table, holidays=days)

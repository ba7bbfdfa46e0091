"""Cron schedules as the CronJob controller reads them (robfig/cron v3's standard parser).

``parse("*/5 * * * *")`` accepts five fields (minute, hour, day of month, month, day of week;
``*``/``?``, lists, ranges, steps, month and weekday names), the descriptors ``@yearly``
``@annually`` ``@monthly`` ``@weekly`` ``@daily`` ``@midnight`` ``@hourly`` and ``@every
<duration>``, and a ``TZ=<zone>``/``CRON_TZ=<zone>`` prefix (how a CronJob's ``timeZone`` reaches
the parser). ``Schedule.next(t)`` is the first matching whole minute strictly after ``t`` (epoch
seconds), evaluated in the schedule's zone (UTC by default); when day of month and day of week
are both restricted either may match, as in cron. Validation messages live in
``api.kinds.batch._cron``; this module only computes times.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass

UTC = dt.UTC
_MONTHS = {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DOWS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_BOUNDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DOWS))
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
               "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
YEAR_LIMIT = 5


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    days_star: bool = False
    weekdays_star: bool = False
    zone: dt.tzinfo = UTC
    every: float | None = None

    def _day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days
        dow = (day.weekday() + 1) % 7 in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next(self, t: float) -> float | None:
        """The first activation strictly after ``t``, or None within the next five years."""
        if self.every is not None:
            return math.floor(t) + self.every
        local = dt.datetime.fromtimestamp(t, self.zone).replace(tzinfo=None)
        cand = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        last_year = cand.year + YEAR_LIMIT
        while cand.year <= last_year:
            if cand.month not in self.months:
                cand = (cand.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
            elif not self._day_matches(cand):
                cand = cand.replace(hour=0, minute=0) + dt.timedelta(days=1)
            elif cand.hour not in self.hours:
                cand = cand.replace(minute=0) + dt.timedelta(hours=1)
            elif cand.minute not in self.minutes:
                cand += dt.timedelta(minutes=1)
            else:
                ts = cand.replace(tzinfo=self.zone).timestamp()
                exists = dt.datetime.fromtimestamp(ts, self.zone).replace(tzinfo=None) == cand
                if exists and ts > t:
                    return ts
                cand += dt.timedelta(minutes=1)  # skipped by a DST change, or not after t
        return None


def _value(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"failed to parse int from {text}")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    """The values a field allows, and whether it is a star (``*``/``?`` without a step > 1)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        range_part, _, step_part = part.partition("/")
        bounds = range_part.split("-")
        is_star = bounds[0] in ("*", "?")
        if is_star:
            start, end = low, high
        else:
            start = _value(bounds[0], names)
            end = _value(bounds[1], names) if len(bounds) > 1 else start
        step = 1
        if step_part:
            step = _value(step_part, None)
            if len(bounds) == 1 and not is_star:
                end = high
        if start < low or end > high or start > end or step <= 0:
            raise ValueError(f"invalid field {part!r}")
        values.update(range(start, end + 1, step))
        star = star or (is_star and step == 1)
    return frozenset(values), star


def _duration(text: str) -> float:
    total, pos = 0.0, 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return max(1.0, float(math.floor(total)))


def zone(name: str | None) -> dt.tzinfo:
    """UTC for no name (and ``UTC``); an IANA zone otherwise (raises ``ValueError`` when unknown)."""
    if not name or name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError(f"unknown time zone {name}") from e


def parse(spec: str) -> Schedule:
    """Parse a standard cron spec; raises ``ValueError`` when it is not one."""
    spec = spec.strip()
    tz: dt.tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        tz = zone(head.partition("=")[2])
        spec = spec.strip()
    if spec.startswith("@every "):
        return Schedule(zone=tz, every=_duration(spec[len("@every "):].strip()))
    spec = DESCRIPTORS.get(spec, spec)
    if spec.startswith("@"):
        raise ValueError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(text, low, high, names) for text, (low, high, names) in zip(fields, _BOUNDS, strict=True)]
    (minutes, _), (hours, _), (days, days_star), (months, _), (weekdays, weekdays_star) = parsed
    return Schedule(minutes, hours, days, months, weekdays, days_star, weekdays_star, tz)


def rfc3339(t: float, tz: dt.tzinfo) -> str:
    """Go's ``time.RFC3339`` of ``t`` in ``tz`` (``Z`` for a zero offset)."""
    local = dt.datetime.fromtimestamp(t, tz)
    offset = local.utcoffset() or dt.timedelta(0)
    if not offset:
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

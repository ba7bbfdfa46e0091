"""CronJob schedule and time-zone checks with the error texts users get from Kubernetes.

``schedule_error`` follows the standard parser of robfig/cron v3 (five fields, month and weekday
names, ``*``/``?``, ranges, steps, ``@hourly``-style descriptors and ``@every <duration>``);
``validate_time_zone`` follows CronJob validation. ``cronjob.py`` calls both; the cronjob
controller computes the actual schedule times.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError

_MONTHS = {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DOWS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: (min, max, names) of minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DOWS))
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_DURATION_UNITS = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")
_TZ_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _atoi(expr: str) -> int:
    """Go's ``strconv.Atoi`` as cron uses it (``mustParseInt``)."""
    if not re.fullmatch(r"[+-]?\d+", expr):
        raise ValueError(f'failed to parse int from {expr}: strconv.Atoi: parsing {_go_quote(expr)}: invalid syntax')
    num = int(expr)
    if num < 0:
        raise ValueError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _atoi(expr)


def _check_range(expr: str, low: int, high: int, names: dict[str, int] | None) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_and_high) == 1:
            end = high
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < low:
        raise ValueError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ValueError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")


def _duration_error(text: str) -> str | None:
    """Go's ``time.ParseDuration`` errors (``None`` when ``text`` parses)."""
    orig, s = text, text
    if s[:1] in ("+", "-"):
        s = s[1:]
    if s == "0":
        return None
    if not s:
        return f"time: invalid duration {_go_quote(orig)}"
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            return f"time: invalid duration {_go_quote(orig)}"
        unit = m.group(2)
        if not unit:
            return f"time: missing unit in duration {_go_quote(orig)}"
        if unit not in _DURATION_UNITS:
            return f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(orig)}"
        pos = m.end()
    return None


def schedule_error(schedule: str) -> str | None:
    """Why ``schedule`` is not a standard cron spec, in robfig/cron's words (``None`` if it is)."""
    spec = schedule
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space, eq = spec.find(" "), spec.find("=")
        if space < 0:
            return "invalid schedule format: runtime error: slice bounds out of range [:-1]"
        name = spec[eq + 1:space]
        if _tz_error(name) is not None:
            return f"provided bad location {name}: unknown time zone {name}"
        spec = spec[space:].strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            err = _duration_error(spec[len("@every "):])
            return None if err is None else f"failed to parse duration {spec}: {err}"
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (low, high, names) in zip(fields, _FIELDS, strict=True):
        for expr in (part for part in text.split(",") if part):
            try:
                _check_range(expr, low, high, names)
            except ValueError as exc:
                return str(exc)
    return None


def _tz_error(name: str) -> str | None:
    if name in ("UTC", "", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return None


def validate_time_zone(tz: Any, path: str) -> list[FieldError]:
    """``spec.timeZone``: nil or an IANA name the API server can load (not ``Local``)."""
    if tz is None:
        return []
    tz = str(tz)
    if tz == "":
        return [errors.invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [errors.invalid(path, tz, f"unknown time zone {tz}")]
    errs: list[FieldError] = []
    if tz.lower() == "local":
        errs.append(errors.invalid(path, tz, "timeZone must be an explicit time zone as defined in "
                                             "https://www.iana.org/time-zones"))
    message = _tz_error(tz)
    if message is not None:
        errs.append(errors.invalid(path, tz, message))
    return errs


def validate_schedule(schedule: str, time_zone: Any, allow_tz: bool, path: str) -> list[FieldError]:
    """``spec.schedule``: parseable, and no ``TZ=``/``CRON_TZ=`` prefix (unless the old object had one)."""
    errs: list[FieldError] = []
    message = schedule_error(schedule)
    if message is not None:
        errs.append(errors.invalid(path, schedule, message))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(errors.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(errors.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs

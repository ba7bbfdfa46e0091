"""Reading CRI container log files.

Role: containerd writes each container's stdout/stderr to ``<log_directory>/<log_path>`` in the CRI format,
one record per line: ``<RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>``. ``P`` marks a partial
record (a line longer than the runtime's limit, or output without a trailing newline at exit) that
continues in the next record of the same stream; ``F`` ends a line. The kubelet's log server (``kubectl
logs``) uses :func:`parse_line` / :func:`read_lines` to rebuild what the container printed. Timestamps have
trailing zeros trimmed, so fields are found by splitting on spaces, never by column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["LogRecord", "join_partials", "parse_line", "parse_timestamp", "read_lines"]

_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class LogRecord:
    """One record of a CRI log file. ``content`` excludes the newline the record stands for."""

    timestamp: str  # as written, RFC 3339 with up to 9 fractional digits
    stream: str  # "stdout" or "stderr"
    partial: bool
    content: bytes

    @property
    def time(self) -> datetime:
        return parse_timestamp(self.timestamp)


def parse_timestamp(ts: str) -> datetime:
    """Parse ``2026-11-22T02:10:17.88784783Z`` (nanoseconds truncated to microseconds)."""
    m = _TS.match(ts)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {ts!r}")
    base, frac, zone = m.groups()
    micros = int((frac or "").ljust(6, "0")[:6])
    when = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return when.replace(microsecond=micros).astimezone(UTC)


def parse_line(line: bytes) -> LogRecord:
    """Parse one line of a CRI log file (with or without its trailing newline)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise ValueError(f"not a CRI log record: {line[:80]!r}")
    content = parts[3] if len(parts) == 4 else b""
    return LogRecord(timestamp=parts[0].decode(), stream=parts[1].decode(), partial=parts[2] == b"P",
                     content=content)


def join_partials(records: Iterable[LogRecord]) -> Iterator[LogRecord]:
    """Merge ``P`` records with the rest of their line (per stream); the merged record has the timestamp of
    its first piece. A trailing partial without its ``F`` is yielded as is."""
    pending: dict[str, LogRecord] = {}
    for r in records:
        head = pending.pop(r.stream, None)
        if head is not None:
            r = LogRecord(head.timestamp, r.stream, r.partial, head.content + r.content)
        if r.partial:
            pending[r.stream] = r
        else:
            yield r
    yield from pending.values()


def read_lines(data: bytes) -> list[LogRecord]:
    """All complete records in ``data`` (the bytes of a log file), partials joined; malformed lines and an
    unterminated last line (still being written) are skipped."""
    lines = data.split(b"\n")
    records: list[LogRecord] = []
    for raw in lines[:-1]:
        try:
            records.append(parse_line(raw))
        except ValueError:
            continue
    return list(join_partials(records))

"""Container logs as ``kubectl logs`` shows them: CRI log files back to plain text.

Role: the kubelet server (:mod:`.server`) parses the query into :class:`LogOptions` with
:func:`parse_options` and streams :func:`read_logs`; :mod:`.pleg` uses :func:`tail_text` for
``FallbackToLogsOnError`` termination messages. Semantics follow the kubelet's CRI log reader: every
record is written as it is stored (a ``P`` record without newline, an ``F`` record with one), stdout and
stderr interleaved in file order; ``timestamps`` prefixes each record with its time in RFC 3339 with nine
fractional digits; ``tailLines`` counts records from the end; ``sinceSeconds``/``sinceTime`` skip older
records; ``limitBytes`` cuts the output; ``follow`` keeps reading until the container is no longer
running. Upstream: pkg/kubelet/kuberuntime/logs/logs.go.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kybernetes.api.printing import parse_time
from kybernetes.runtime import crilog

__all__ = ["LogOptions", "format_record", "parse_options", "read_logs", "tail_start", "tail_text"]

_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_CHUNK = 64 * 1024
POLL_INTERVAL = 0.1
RUNNING_CHECK = 1.0


@dataclass(frozen=True)
class LogOptions:
    """What to read; ``since`` is epoch seconds."""

    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since: float | None = None


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "t", "yes")


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{name}: invalid value {raw!r}") from None
    if n < minimum:
        raise ValueError(f"{name}: must be greater than or equal to {minimum}")
    return n


def parse_options(query: Mapping[str, str], now: float | None = None) -> LogOptions:
    """PodLogOptions from a query string (``tail=all`` is the legacy spelling of no tail)."""
    now = time.time() if now is None else now
    tail = query.get("tailLines") or query.get("tail")
    q = dict(query)
    q["tailLines"] = "" if tail in (None, "all") else str(tail)
    since_seconds = _int(q, "sinceSeconds", 1)
    since_time = parse_time(query.get("sinceTime")) if query.get("sinceTime") else None
    if query.get("sinceTime") and since_time is None:
        raise ValueError(f"sinceTime: invalid value {query.get('sinceTime')!r}")
    if since_seconds is not None and since_time is not None:
        raise ValueError("at most one of sinceTime or sinceSeconds may be specified")
    since = now - since_seconds if since_seconds is not None else since_time
    return LogOptions(follow=_bool(query.get("follow")), previous=_bool(query.get("previous")),
                      timestamps=_bool(query.get("timestamps")), tail_lines=_int(q, "tailLines", 0),
                      limit_bytes=_int(q, "limitBytes", 1), since=since)


def fixed_timestamp(ts: str) -> str:
    """``2026-11-22T02:10:17.88784783Z`` → ``2026-11-22T02:10:17.887847830Z`` (Go's RFC3339NanoFixed)."""
    m = _TS.match(ts)
    if m is None:
        return ts
    base, frac, zone = m.groups()
    return f"{base}.{(frac or '').ljust(9, '0')[:9]}{zone}"


def format_record(rec: crilog.LogRecord, timestamps: bool) -> bytes:
    """One record as the log reader writes it."""
    body = rec.content if rec.partial else rec.content + b"\n"
    if timestamps:
        return fixed_timestamp(rec.timestamp).encode() + b" " + body
    return body


def tail_start(f_path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` records of the file start (blocking)."""
    size = f_path.stat().st_size
    if lines <= 0:
        return size
    with f_path.open("rb") as f:
        pos, found = size, 0
        # a trailing newline terminates the last record; it does not start a new one
        skip_last = True
        while pos > 0:
            step = min(_CHUNK, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            for i in range(len(chunk) - 1, -1, -1):
                if chunk[i] != 0x0A:
                    skip_last = False
                    continue
                if skip_last and pos + i == size - 1:
                    skip_last = False
                    continue
                found += 1
                if found == lines:
                    return pos + i + 1
        return 0


def tail_text(path: Path, lines: int, max_bytes: int) -> str:
    """The plain text of the last ``lines`` records, at most ``max_bytes`` (blocking)."""
    start = tail_start(path, lines)
    with path.open("rb") as f:
        f.seek(start)
        data = f.read()
    out = b"".join(format_record(r, False) for r in _parse_all(data))
    return out[-max_bytes:].decode(errors="replace")


def _parse_all(data: bytes) -> list[crilog.LogRecord]:
    out = []
    for line in data.split(b"\n"):
        if line:
            try:
                out.append(crilog.parse_line(line))
            except ValueError:
                continue
    return out


def _open(path: Path, offset: int) -> tuple[BinaryIO, int]:
    f = path.open("rb")
    f.seek(offset)
    return f, os.fstat(f.fileno()).st_ino


def _inode(path: Path, default: int) -> int:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return default


async def read_logs(path: Path, opts: LogOptions, is_running: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]:
    """Yield the log's output in chunks, following it if asked (until the container stops running)."""
    real = Path(await asyncio.to_thread(os.path.realpath, path))
    start = 0 if opts.tail_lines is None else await asyncio.to_thread(tail_start, real, opts.tail_lines)
    f, inode = await asyncio.to_thread(_open, real, start)
    remain = opts.limit_bytes if opts.limit_bytes is not None else -1
    left = opts.tail_lines if (opts.tail_lines is not None and not opts.follow) else None
    pending = b""
    last_check, running = 0.0, True
    try:
        while True:
            chunk = await asyncio.to_thread(f.read, _CHUNK)
            final = False
            if not chunk:
                if opts.follow and running:
                    now = time.monotonic()
                    if now - last_check >= RUNNING_CHECK:
                        last_check, running = now, await is_running()
                        new_inode = await asyncio.to_thread(_inode, real, inode)
                        if new_inode != inode:
                            await asyncio.to_thread(f.close)
                            f, inode = await asyncio.to_thread(_open, real, 0)
                            continue
                        if not running:
                            continue  # read what was written before it stopped
                    await asyncio.sleep(POLL_INTERVAL)
                    continue
                final = True
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            if final and pending:
                lines.append(pending)
                pending = b""
            out = bytearray()
            for raw in lines:
                if not raw or left == 0:
                    continue
                try:
                    rec = crilog.parse_line(raw)
                except ValueError:
                    continue
                if opts.since is not None and rec.time.timestamp() < opts.since:
                    continue
                piece = format_record(rec, opts.timestamps)
                if remain >= 0 and len(piece) >= remain:
                    out += piece[:remain]
                    yield bytes(out)
                    return
                if remain >= 0:
                    remain -= len(piece)
                out += piece
                if left is not None:
                    left -= 1
            if out:
                yield bytes(out)
            if final or left == 0:
                return
    finally:
        await asyncio.to_thread(f.close)

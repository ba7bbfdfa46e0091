"""Parsing CRI log files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kybernetes.runtime import crilog

LOG = (b"2026-11-22T02:10:17.88784783Z stdout F tick 1\n"
       b"2026-11-22T02:10:17.887901791Z stderr F err 1\n"
       b"2026-11-22T02:10:18Z stdout P aaaa\n"
       b"2026-11-22T02:10:18.1Z stderr F interleaved\n"
       b"2026-11-22T02:10:18.2Z stdout F bbbb\n"
       b"2026-11-22T02:10:19Z stdout F \n"
       b"garbage\n"
       b"2026-11-22T02:10:20Z stdout F still being wri")


def test_read_lines_joins_partials_and_skips_junk() -> None:
    recs = crilog.read_lines(LOG)
    assert [(r.stream, r.content) for r in recs] == [
        ("stdout", b"tick 1"), ("stderr", b"err 1"), ("stderr", b"interleaved"), ("stdout", b"aaaabbbb"),
        ("stdout", b"")]
    assert recs[3].timestamp == "2026-11-22T02:10:18Z"  # a joined line keeps its first piece's time


def test_parse_line() -> None:
    r = crilog.parse_line(b"2026-11-22T02:10:17.88784783Z stdout P a b  c\n")
    assert (r.stream, r.partial, r.content) == ("stdout", True, b"a b  c")
    assert r.time == datetime(2026, 11, 22, 2, 10, 17, 887847, tzinfo=UTC)
    with pytest.raises(ValueError):
        crilog.parse_line(b"nonsense")


def test_timestamps_with_offsets() -> None:
    assert crilog.parse_timestamp("2026-11-22T02:10:17+01:00") == datetime(2026, 11, 22, 1, 10, 17, tzinfo=UTC)
    assert crilog.parse_timestamp("2026-11-22T02:10:17.5-00:30").microsecond == 500000

"""CrashLoopBackOff schedule: 10 s doubling to 5 min, reset after 10 min of clean running."""

from __future__ import annotations

import pytest

from kybernetes.kubelet.backoff import Backoff, go_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def crash_loop(b: Backoff, clock: Clock, crashes: int, run_for: float = 0.0) -> list[float]:
    """Simulate a container that runs ``run_for`` seconds and crashes; returns the delays before restarts."""
    delays = []
    for _ in range(crashes):
        clock.now += run_for
        finished = clock.now
        waited = 0.0
        while b.in_backoff_since("k", finished):
            step = b.remaining("k", finished)
            clock.now += step
            waited += step
        b.next("k", finished)
        delays.append(waited)
    return delays


def test_schedule_doubles_to_cap() -> None:
    clock = Clock()
    b = Backoff(10, 300, clock)
    assert crash_loop(b, clock, 8) == [0, 10, 20, 40, 80, 160, 300, 300]
    assert b.get("k") == 300


def test_reset_after_twice_the_cap_of_clean_running() -> None:
    clock = Clock()
    b = Backoff(10, 300, clock)
    crash_loop(b, clock, 5)
    assert b.get("k") == 160
    assert crash_loop(b, clock, 1, run_for=601) == [0]
    assert b.get("k") == 10


def test_short_test_base() -> None:
    clock = Clock()
    b = Backoff(0.5, 4, clock)
    assert crash_loop(b, clock, 6) == [0, 0.5, 1, 2, 4, 4]


def test_image_pull_style_backoff_since_update() -> None:
    clock = Clock()
    b = Backoff(10, 300, clock)
    assert not b.in_backoff_since_update("img", clock.now)
    b.next("img", clock.now)
    assert b.in_backoff_since_update("img", clock.now + 9)
    assert not b.in_backoff_since_update("img", clock.now + 10)


def test_forget_prefix_and_gc() -> None:
    clock = Clock()
    b = Backoff(10, 300, clock)
    b.next("uid-1/a/h", clock.now)
    b.next("uid-2/a/h", clock.now)
    b.forget_prefix("uid-1")
    assert b.get("uid-1/a/h") == 0 and b.get("uid-2/a/h") == 10
    clock.now += 601
    b.gc()
    assert b.get("uid-2/a/h") == 0


@pytest.mark.parametrize(("seconds", "text"), [
    (10, "10s"), (20, "20s"), (80, "1m20s"), (300, "5m0s"), (0.5, "500ms"), (1.25, "1.25s"), (0, "0s"),
    (3700, "1h1m40s"), (0.000002, "2µs"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text

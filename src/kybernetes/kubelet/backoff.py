"""Per-key exponential back-off with the semantics of client-go's ``flowcontrol.Backoff``.

Role: the pod workers ask :meth:`Backoff.in_backoff_since` before restarting a crashed container
(CrashLoopBackOff) and :meth:`Backoff.in_backoff_since_update` before pulling an image again
(ImagePullBackOff); after acting they call :meth:`Backoff.next`. The delay starts at ``base``
(10 s), doubles on every ``next`` up to ``cap`` (5 min), and starts over when the event being judged
happened more than ``2 x cap`` after the last ``next`` — a container that ran cleanly for 10 minutes
crashes back to a 10 s delay. Tests inject a short base and a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "go_duration"]


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    """Back-off state for many keys (``<pod uid>/<container>/<hash>`` or ``<pod uid>_<image>``)."""

    def __init__(self, base: float = 10.0, cap: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.base = base
        self.cap = cap
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.cap

    def get(self, key: str) -> float:
        """The current delay of ``key`` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def next(self, key: str, event_time: float) -> None:
        """Move ``key`` to its next delay (or back to ``base`` if its last step is long past)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = self._entries[key] = _Entry(self.base, 0.0)
        else:
            entry.delay = min(entry.delay * 2, self.cap)
        entry.last_update = self.clock()

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Whether less than the current delay has passed since ``event_time`` (a container's finish)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return self.clock() - event_time < entry.delay

    def in_backoff_since_update(self, key: str, event_time: float) -> bool:
        """Whether ``event_time`` (usually now) is within the current delay of the last ``next``."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return event_time - entry.last_update < entry.delay

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until ``in_backoff_since(key, event_time)`` turns False (0 if it already is)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return 0.0
        return max(0.0, entry.delay - (self.clock() - event_time))

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key starting with ``prefix`` (all keys of a pod that is gone)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self) -> None:
        """Drop entries not updated for 2 x cap."""
        now = self.clock()
        for key in [k for k, e in self._entries.items() if now - e.last_update > 2 * self.cap]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a non-negative duration: ``10s``, ``1m20s``, ``5m0s``, ``1.5s``,
    ``250ms``, ``0s``."""
    if seconds <= 0:
        return "0s"
    ns = round(seconds * 1e9)
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _trim(ns / 1_000) + "µs"
    if ns < 1_000_000_000:
        return _trim(ns / 1_000_000) + "ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _trim(rest / 1e9) + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"

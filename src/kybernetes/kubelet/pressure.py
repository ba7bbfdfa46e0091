"""Node pressure from the eviction thresholds: which of MemoryPressure, DiskPressure, PIDPressure hold.

Role: the agent feeds every fresh Summary (:mod:`.stats`) to :meth:`PressureTracker.observe`;
:mod:`.node` reports :attr:`PressureTracker.conditions` in the node status, and the node lifecycle
controller turns a True pressure condition into its ``node.kubernetes.io/*-pressure:NoSchedule`` taint.
As in the kubelet's eviction manager, the signals come from the summary (``memory.available`` =
available bytes of node memory, ``nodefs.*`` = the node filesystem, ``imagefs.*`` = the runtime's image
filesystem, ``pid.available`` = task limit minus tasks), a threshold is met when the signal is below a
quantity or a percentage of its capacity, and a condition stays for the pressure transition period after
its last threshold stopped being met, so the node does not flap. Upstream: pkg/kubelet/eviction/
helpers.go (``makeSignalObservations``, ``thresholdsMet``), eviction_manager.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kybernetes.api.quantity import parse_quantity

__all__ = ["SIGNAL_CONDITIONS", "PressureTracker", "Threshold", "observations", "parse_thresholds",
           "thresholds_met"]

Obj = dict[str, Any]

#: eviction signal → the node condition it drives
SIGNAL_CONDITIONS = {
    "memory.available": "MemoryPressure",
    "nodefs.available": "DiskPressure",
    "nodefs.inodesFree": "DiskPressure",
    "imagefs.available": "DiskPressure",
    "imagefs.inodesFree": "DiskPressure",
    "pid.available": "PIDPressure",
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """``signal < quantity`` or ``signal < percentage of capacity``."""

    signal: str
    quantity: int | None = None
    percentage: Fraction | None = None

    def value(self, capacity: int) -> int:
        return self.quantity if self.quantity is not None else int((self.percentage or 0) * capacity)


def parse_thresholds(spec: Mapping[str, str]) -> list[Threshold]:
    """``{"memory.available": "100Mi", "nodefs.available": "10%"}`` → thresholds; ValueError when malformed."""
    out = []
    for signal, raw in spec.items():
        if signal not in SIGNAL_CONDITIONS:
            raise ValueError(f"unsupported eviction signal {signal}")
        text = str(raw).strip()
        if text.endswith("%"):
            try:
                pct = Fraction(text[:-1]) / 100
            except ValueError:
                raise ValueError(f"invalid percentage {text!r} for eviction signal {signal}") from None
            if not 0 < pct <= 1:
                raise ValueError(f"eviction percentage threshold {signal} must be > 0% and <= 100%: {text}")
            out.append(Threshold(signal, percentage=pct))
        else:
            try:
                amount = parse_quantity(text).int_value()
            except ValueError:
                raise ValueError(f"invalid quantity {text!r} for eviction signal {signal}") from None
            if amount < 0:
                raise ValueError(f"eviction threshold {signal} must be positive: {text}")
            out.append(Threshold(signal, quantity=amount))
    return out


def observations(summary: Obj) -> dict[str, tuple[int, int]]:
    """Signal → (available, capacity) from a Summary API document (signals without data are left out)."""
    node = summary.get("node") or {}
    out: dict[str, tuple[int, int]] = {}
    memory = node.get("memory") or {}
    if "availableBytes" in memory and "workingSetBytes" in memory:
        available = int(memory["availableBytes"])
        out["memory.available"] = (available, available + int(memory["workingSetBytes"]))
    for prefix, fs in (("nodefs", node.get("fs") or {}), ("imagefs", (node.get("runtime") or {}).get("imageFs") or {})):
        if "availableBytes" in fs and "capacityBytes" in fs:
            out[f"{prefix}.available"] = (int(fs["availableBytes"]), int(fs["capacityBytes"]))
        if "inodesFree" in fs and "inodes" in fs:
            out[f"{prefix}.inodesFree"] = (int(fs["inodesFree"]), int(fs["inodes"]))
    rlimit = node.get("rlimit") or {}
    if "maxpid" in rlimit and "curproc" in rlimit:
        maxpid = int(rlimit["maxpid"])
        out["pid.available"] = (maxpid - int(rlimit["curproc"]), maxpid)
    return out


def thresholds_met(thresholds: list[Threshold], observed: Mapping[str, tuple[int, int]]) -> list[Threshold]:
    """The thresholds whose signal is below its value (signals not observed never meet one)."""
    met = []
    for t in thresholds:
        seen = observed.get(t.signal)
        if seen is not None and seen[0] < t.value(seen[1]):
            met.append(t)
    return met


class PressureTracker:
    """The pressure conditions of one node, held for ``transition_period`` seconds after they last applied."""

    def __init__(self, thresholds: list[Threshold], transition_period: float = 300.0) -> None:
        self.thresholds = thresholds
        self.transition_period = transition_period
        self._last_seen: dict[str, float] = {}  # condition → when a threshold of it was last met
        self.conditions: frozenset[str] = frozenset()
        self.met: list[Threshold] = []

    def observe(self, summary: Obj, now: float) -> bool:
        """Evaluate a fresh summary; True when the set of conditions changed."""
        self.met = thresholds_met(self.thresholds, observations(summary))
        for t in self.met:
            self._last_seen[SIGNAL_CONDITIONS[t.signal]] = now
        current = frozenset(c for c, seen in self._last_seen.items() if now - seen <= self.transition_period)
        changed = current != self.conditions
        self.conditions = current
        return changed

"""What NodeMetrics and PodMetrics share: metrics-server's table (Name, one column per resource, Window)."""

from __future__ import annotations

from typing import Any

from kybernetes.api.quantity import Quantity, parse_quantity
from kybernetes.api.strategy import NAME_COLUMN, Column, Strategy
from kybernetes.api.types import Object

USAGE_NAMES = ("cpu", "memory")
_COLUMNS = (NAME_COLUMN, *(Column(r, "string", "quantity") for r in USAGE_NAMES),
            Column("Window", "string", "duration"))


def total_usage(usages: list[dict[str, Any]]) -> dict[str, str]:
    """Per resource, the sum of the ``usage`` maps (a pod's containers)."""
    sums: dict[str, Quantity] = {}
    for usage in usages:
        for name, value in usage.items():
            try:
                amount = parse_quantity(value)
            except ValueError:
                continue
            sums[name] = sums[name] + amount if name in sums else amount
    return {name: str(q) for name, q in sums.items()}


class MetricsStrategy(Strategy):
    """Read-only objects computed on request: nothing is written, so only the table matters."""

    has_status = False
    tracks_generation = False

    def usage(self, obj: Object) -> dict[str, str]:
        return dict(obj.get("usage") or {})

    def columns(self) -> tuple[Column, ...]:
        return _COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        usage = self.usage(obj)
        return [(obj.get("metadata") or {}).get("name", ""), *(usage.get(r, "0") for r in USAGE_NAMES),
                obj.get("window", "")]

"""The in-tree scheduler plugins, one per module, and the only name → factory map.

A factory is ``new(args, handle) -> plugin``; ``profile.py`` says which plugins a profile enables
and with what score weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.scheduler.plugins import (
    balancedallocation,
    defaultbinder,
    defaultpreemption,
    imagelocality,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesourcesfit,
    nodeunschedulable,
    podtopologyspread,
    schedulinggates,
    tainttoleration,
    volumebinding,
)

Factory = Callable[[dict[str, Any] | None, Any], Any]

REGISTRY: dict[str, Factory] = {
    schedulinggates.NAME: schedulinggates.new,
    nodeunschedulable.NAME: nodeunschedulable.new,
    nodename.NAME: nodename.new,
    tainttoleration.NAME: tainttoleration.new,
    nodeaffinity.NAME: nodeaffinity.new,
    nodeports.NAME: nodeports.new,
    noderesourcesfit.NAME: noderesourcesfit.new,
    volumebinding.NAME: volumebinding.new,
    podtopologyspread.NAME: podtopologyspread.new,
    interpodaffinity.NAME: interpodaffinity.new,
    defaultpreemption.NAME: defaultpreemption.new,
    balancedallocation.NAME: balancedallocation.new,
    imagelocality.NAME: imagelocality.new,
    defaultbinder.NAME: defaultbinder.new,
}

__all__ = ["REGISTRY", "Factory"]

"""Scheduling profiles: which plugins run, in which order, with which score weights and args.

``default_profile()`` is Kubernetes 1.32's default ``KubeSchedulerConfiguration`` profile (minus the
volume-limit/zone/restriction plugins and PrioritySort, which the queue builds in). The order is the
order Filter plugins run in, so it decides which reason a node reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_SCHEDULER_NAME = "default-scheduler"


@dataclass(frozen=True, slots=True)
class PluginSpec:
    name: str
    weight: int = 0  # score weight; 0 for plugins that do not score
    args: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: tuple[PluginSpec, ...] = field(default_factory=tuple)
    percentage_of_nodes_to_score: int = 0  # 0: adaptive, as upstream


DEFAULT_PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec("SchedulingGates"),
    PluginSpec("NodeUnschedulable"),
    PluginSpec("NodeName"),
    PluginSpec("TaintToleration", 3),
    PluginSpec("NodeAffinity", 2),
    PluginSpec("NodePorts"),
    PluginSpec("NodeResourcesFit", 1),
    PluginSpec("VolumeBinding"),
    PluginSpec("PodTopologySpread", 2),
    PluginSpec("InterPodAffinity", 2),
    PluginSpec("DefaultPreemption"),
    PluginSpec("NodeResourcesBalancedAllocation", 1),
    PluginSpec("ImageLocality", 1),
    PluginSpec("DefaultBinder"),
)


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME, percentage_of_nodes_to_score: int = 0) -> Profile:
    return Profile(scheduler_name, DEFAULT_PLUGINS, percentage_of_nodes_to_score)


def without(profile: Profile, *names: str) -> Profile:
    """The profile with some plugins disabled (tests, special-purpose schedulers)."""
    return Profile(profile.scheduler_name, tuple(p for p in profile.plugins if p.name not in names),
                   profile.percentage_of_nodes_to_score)

"""Events about a pod's containers: the sink the kubelet records through, and ``involvedObject.fieldPath``.

Role: the agent's :meth:`~.agent.Agent.record` is an :class:`EventSink`; the kubelet's container events
(:mod:`.containers`, :mod:`.images`, :mod:`.lifecycle`, :mod:`.prober`, :mod:`.syncpod`) pass
:func:`field_path` to it, so ``kubectl get events`` and log shippers can tell which container was
pulled, started, killed or found unhealthy. Upstream: pkg/kubelet/container/ref.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["EventSink", "field_path"]

_LISTS = (("containers", "spec.containers"), ("initContainers", "spec.initContainers"),
          ("ephemeralContainers", "spec.ephemeralContainers"))


class EventSink(Protocol):
    """Records an event about a pod; ``field_path`` names the container it concerns (``spec.containers{c}``)."""

    def __call__(self, pod: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None: ...


def field_path(pod: Mapping[str, Any], container: str) -> str:
    """``spec.containers{web}``, ``spec.initContainers{init}`` or ``spec.ephemeralContainers{debug}``;
    empty when the pod's spec has no container of that name."""
    spec = pod.get("spec") or {}
    for key, path in _LISTS:
        for i, c in enumerate(spec.get(key) or []):
            if c.get("name") == container:
                return f"{path}{{{container}}}" if container else f"{path}[{i}]"
    return ""

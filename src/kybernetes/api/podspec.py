"""Pod spec defaulting and validation shared by pods and every kind with a pod template.

Pods (``api/kinds/core/pod.py``) and templates (Deployments, ReplicaSets, StatefulSets,
DaemonSets, Jobs, CronJobs, ReplicationControllers, PodTemplates) call these so that a template
is defaulted and validated exactly like the pod it will become.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import FieldError


def default_pod_spec(spec: dict[str, Any]) -> None:
    """Apply Kubernetes' PodSpec defaults in place (restartPolicy, dnsPolicy, containers' fields…)."""


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """Every problem of a PodSpec at ``path`` (e.g. ``spec`` or ``spec.template.spec``)."""
    return []


def default_pod_template(template: dict[str, Any]) -> None:
    """Defaults of a PodTemplateSpec (``{metadata, spec}``)."""
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def validate_pod_template(template: dict[str, Any], path: str) -> list[FieldError]:
    """Every problem of a PodTemplateSpec at ``path`` (e.g. ``spec.template``)."""
    spec = template.get("spec")
    if not isinstance(spec, dict):
        from kybernetes.api import errors

        return [errors.required(f"{path}.spec.containers", "")]
    return validate_pod_spec(spec, f"{path}.spec")

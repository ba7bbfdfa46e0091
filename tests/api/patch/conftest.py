"""Fixtures for the strategic merge patch tests: built-in schemas and realistic live objects."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api import schema
from kybernetes.api.patch import apply_strategic_merge_patch
from kybernetes.api.types import GroupVersionKind

Patcher = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture(scope="session")
def schemas() -> schema.Schemas:
    return schema.builtin()


@pytest.fixture(scope="session")
def smp(schemas: schema.Schemas) -> Callable[[str, str, str], Patcher]:
    """``smp("apps", "v1", "Deployment")(obj, patch)``: apply and check the inputs stay untouched."""

    def for_kind(group: str, version: str, kind: str) -> Patcher:
        node = schemas.for_gvk(GroupVersionKind(group, version, kind))
        assert node is not None

        def apply(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
            before = copy.deepcopy(obj), copy.deepcopy(patch)
            out = apply_strategic_merge_patch(obj, patch, node, schemas)
            assert (obj, patch) == before, "inputs were modified"
            return out

        return apply

    return for_kind


@pytest.fixture
def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "team": "a"},
                     "annotations": {"deployment.kubernetes.io/revision": "1"}, "finalizers": ["example.com/a"]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                         "resources": {"limits": {"cpu": "500m"}}},
                        {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                    "restartPolicy": "Always",
                },
            },
        },
        "status": {"replicas": 1, "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]},
    }

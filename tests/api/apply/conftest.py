"""Shared fixtures: the built-in schemas and objects shaped like a real cluster's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import schema
from kybernetes.api.types import GroupVersionKind

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:01:00Z"
T2 = "2024-05-01T10:02:00Z"
T3 = "2024-05-01T10:03:00Z"


@pytest.fixture(scope="session")
def schemas() -> schema.Schemas:
    return schema.builtin()


@pytest.fixture(scope="session")
def deploy_root(schemas: schema.Schemas) -> dict[str, Any]:
    root = schemas.for_gvk(GroupVersionKind("apps", "v1", "Deployment"))
    assert root is not None
    return root


@pytest.fixture(scope="session")
def cm_root(schemas: schema.Schemas) -> dict[str, Any]:
    root = schemas.for_gvk(GroupVersionKind("", "v1", "ConfigMap"))
    assert root is not None
    return root


_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
            "spec": {
                "containers": [{
                    "name": "nginx", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                }],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                "securityContext": {}, "schedulerName": "default-scheduler",
            },
        },
    },
    "status": {},
}


@pytest.fixture
def deployment() -> dict[str, Any]:
    """A Deployment as ``kubectl create deployment web --image=nginx`` sends it, defaulted."""
    return copy.deepcopy(_DEPLOYMENT)


def persisted(obj: dict[str, Any], uid: str = "uid-1", rv: str = "1") -> dict[str, Any]:
    """What the store would hold after a write: identity fields set."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid=uid, resourceVersion=rv, creationTimestamp=T0)
    return out


def entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """managedFields keyed by (manager, operation, subresource)."""
    return {(e["manager"], e["operation"], e.get("subresource", "")): e
            for e in obj["metadata"].get("managedFields", [])}

"""The schema set: built-in definitions loaded on first use, custom ones added and removed."""

from __future__ import annotations

from kybernetes.api import schema
from kybernetes.api.types import GroupVersionKind


def test_builtin_loads_on_first_use_and_replays_earlier_changes() -> None:
    calls = []

    def load() -> dict[str, schema.Schema]:
        calls.append(1)
        return {"io.k8s.api.core.v1.ConfigMap": {"type": "object", "x-kubernetes-group-version-kind": [
            {"group": "", "version": "v1", "kind": "ConfigMap"}]}, "gone": {"type": "string"}}

    s = schema.Schemas.lazy(load)
    s.add("example.com.v1.Widget", {"type": "object"}, GroupVersionKind("example.com", "v1", "Widget"))
    s.remove("gone")
    assert calls == []  # nothing parsed yet
    assert s.for_gvk(GroupVersionKind("example.com", "v1", "Widget")) == {"type": "object"}
    assert s.for_gvk(GroupVersionKind("", "v1", "ConfigMap")) is not None
    assert "gone" not in s.definitions
    assert calls == [1]


def test_builtin_definitions_are_the_kubernetes_ones() -> None:
    s = schema.builtin()
    deployment = s.for_gvk(GroupVersionKind("apps", "v1", "Deployment"))
    assert deployment is not None and "spec" in deployment["properties"]

"""Two-way strategic merge patches: kubectl's shapes, and apply(original, diff) == modified."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api import schema
from kybernetes.api.patch import apply_strategic_merge_patch, create_two_way_strategic_merge_patch
from kybernetes.api.types import GroupVersionKind

Obj = dict[str, Any]
DEPLOYMENT = GroupVersionKind("apps", "v1", "Deployment")


@pytest.fixture
def diff(schemas: schema.Schemas) -> Callable[[Obj, Obj], Obj]:
    node = schemas.for_gvk(DEPLOYMENT)

    def run(original: Obj, modified: Obj) -> Obj:
        before = copy.deepcopy(original), copy.deepcopy(modified)
        patch = create_two_way_strategic_merge_patch(original, modified, node, schemas)
        assert (original, modified) == before
        assert apply_strategic_merge_patch(original, patch, node, schemas) == modified
        return patch

    return run


def edit(obj: Obj, change: Callable[[Obj], None]) -> Obj:
    new = copy.deepcopy(obj)
    change(new)
    return new


def test_set_image_shape(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    modified = edit(deployment, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.27"))
    assert diff(deployment, modified) == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.27", "name": "nginx"}]}}}}


def test_env_removal_shape(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    modified = edit(deployment, lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].pop(1))
    assert diff(deployment, modified) == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}],
                        "name": "nginx"}]}}}}


def test_strategy_change_emits_retain_keys(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    modified = edit(deployment, lambda d: d["spec"].update(strategy={"type": "Recreate"}))
    assert diff(deployment, modified) == {"spec": {"strategy": {
        "$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}


def test_volume_source_change_emits_retain_keys(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    modified = edit(deployment, lambda d: d["spec"]["template"]["spec"]["volumes"].__setitem__(
        0, {"name": "data", "hostPath": {"path": "/srv"}}))
    assert diff(deployment, modified)["spec"]["template"]["spec"]["volumes"] == [
        {"$retainKeys": ["hostPath", "name"], "emptyDir": None, "hostPath": {"path": "/srv"}, "name": "data"}]


def test_finalizer_changes_use_parallel_lists(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    modified = edit(deployment, lambda d: d["metadata"].update(finalizers=["example.com/b"]))
    assert diff(deployment, modified) == {"metadata": {
        "finalizers": ["example.com/b"], "$deleteFromPrimitiveList/finalizers": ["example.com/a"],
        "$setElementOrder/finalizers": ["example.com/b"]}}


def test_equal_objects_give_empty_patch(diff: Callable[[Obj, Obj], Obj], deployment: Obj) -> None:
    assert diff(deployment, copy.deepcopy(deployment)) == {}


@pytest.mark.parametrize("change", [
    lambda d: d["metadata"]["labels"].pop("team"),
    lambda d: d["metadata"].update(labels={"app": "web", "new": "x"}, finalizers=[]),
    lambda d: d["spec"]["template"]["spec"]["containers"].reverse(),
    lambda d: d["spec"]["template"]["spec"]["containers"].pop(0),
    lambda d: d["spec"]["template"]["spec"]["containers"].insert(1, {"name": "mid", "image": "x"}),
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"].append({"containerPort": 443}),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("resources"),
    lambda d: d["spec"]["template"]["spec"].update(tolerations=[{"key": "k2", "operator": "Exists"}]),
    lambda d: d["spec"]["template"]["spec"].pop("volumes"),
    lambda d: d["status"]["conditions"].reverse(),
    lambda d: d["status"]["conditions"][0].update(status="False"),
    lambda d: d.update(spec={"replicas": 3}),
])
def test_round_trips(diff: Callable[[Obj, Obj], Obj], deployment: Obj, change: Callable[[Obj], Any]) -> None:
    diff(deployment, edit(deployment, change))

"""RFC 7386 JSON Merge Patch: the RFC's rules, kubectl's merge patches, the inverse differ."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import apply_merge_patch, apply_merge_patch_owned, create_merge_patch
from kybernetes.api.patch.mergepatch import merge_value


# Each rule of RFC 7386 §2, with vectors of our own.
@pytest.mark.parametrize(("target", "patch", "want"), [
    ({"k": "old"}, {"k": "new"}, {"k": "new"}),  # a member is replaced
    ({"k": "v"}, {"other": 1}, {"k": "v", "other": 1}),  # a member is added
    ({"k": "v", "gone": 1}, {"gone": None}, {"k": "v"}),  # null removes
    ({"k": "v"}, {"absent": None}, {"k": "v"}),  # null for an absent member is nothing
    ({"k": [1, 2]}, {"k": [3]}, {"k": [3]}),  # arrays are replaced, never merged
    ({"k": [{"a": 1}]}, {"k": [{"a": None}]}, {"k": [{"a": None}]}),  # ... verbatim
    ({"o": {"p": 1, "q": 2}}, {"o": {"q": None, "r": 3}}, {"o": {"p": 1, "r": 3}}),  # objects recurse
    ({"o": "scalar"}, {"o": {"x": 1, "y": None}}, {"o": {"x": 1}}),  # a non-object target becomes {}
    ({}, {"a": {"b": {"c": None}}}, {"a": {"b": {}}}),  # nulls vanish inside new objects too
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),  # nulls already in the target stay
    ({"a": {"b": 1}}, {"a": 1}, {"a": 1}),  # an object replaced by a scalar
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),  # a non-object document becomes an object
    ({"a": 1}, [1, 2], [1, 2]),  # an array patch replaces the document
])
def test_rfc_rules(target: Any, patch: Any, want: Any) -> None:
    before = copy.deepcopy(target), copy.deepcopy(patch)
    assert apply_merge_patch(target, patch) == want
    assert (target, patch) == before
    # the variant for a target and a patch the caller gives up gives the same
    assert apply_merge_patch_owned(copy.deepcopy(target), copy.deepcopy(patch)) == want


def test_scalar_or_null_patch_is_400_like_upstream() -> None:
    for patch in (None, "bar", 3, True):
        with pytest.raises(StatusError) as info:
            apply_merge_patch({"a": 1}, patch)
        assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", "Invalid JSON Patch")
    assert merge_value({"a": "foo"}, "bar") == "bar"  # the RFC's own function replaces


def test_result_shares_nothing_with_inputs() -> None:
    doc = {"a": {"b": [1]}, "c": {"d": 1}}
    patch = {"c": {"e": [2]}}
    out = apply_merge_patch(doc, patch)
    out["a"]["b"].append(9)
    out["c"]["e"].append(9)
    assert doc == {"a": {"b": [1]}, "c": {"d": 1}} and patch == {"c": {"e": [2]}}


def test_kubectl_label_and_annotate() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p", "labels": {"app": "web", "env": "dev"}, "annotations": {"a": "1"}},
           "spec": {"containers": [{"name": "c", "image": "x"}]}}
    # kubectl label pod p tier=fe env-
    out = apply_merge_patch(pod, {"metadata": {"labels": {"tier": "fe", "env": None}}})
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert out["spec"] == pod["spec"] and pod["metadata"]["labels"]["env"] == "dev"
    # kubectl annotate pod p note=hi --overwrite, onto an object without annotations
    bare = {"metadata": {"name": "p"}}
    assert apply_merge_patch(bare, {"metadata": {"annotations": {"note": "hi"}}}) == {
        "metadata": {"name": "p", "annotations": {"note": "hi"}}}


def test_kubectl_scale_subresource() -> None:
    scale = {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"},
             "spec": {"replicas": 1}, "status": {"replicas": 1, "selector": "app=web"}}
    out = apply_merge_patch(scale, {"spec": {"replicas": 3}})
    assert out["spec"] == {"replicas": 3} and out["status"] == scale["status"]


@pytest.mark.parametrize(("original", "modified"), [
    ({"a": 1, "b": {"c": 2, "d": [1]}}, {"a": 1, "b": {"c": 3, "d": [1, 2]}, "e": "new"}),
    ({"a": {"b": {"c": 1}}, "z": 1}, {"a": {}}),
    ({"a": [1, {"x": 1}]}, {"a": [1, {"x": 2}]}),
    ({"a": "s"}, {"a": {"now": "object"}}),
    ({"same": {"x": [1]}}, {"same": {"x": [1]}}),
])
def test_create_merge_patch_round_trips(original: dict[str, Any], modified: dict[str, Any]) -> None:
    patch = create_merge_patch(original, modified)
    assert apply_merge_patch(original, patch) == modified


def test_create_merge_patch_is_minimal() -> None:
    original = {"metadata": {"labels": {"app": "web", "env": "dev"}, "name": "x"}, "spec": {"replicas": 1}}
    modified = {"metadata": {"labels": {"app": "web", "tier": "fe"}, "name": "x"}, "spec": {"replicas": 1}}
    assert create_merge_patch(original, modified) == {"metadata": {"labels": {"env": None, "tier": "fe"}}}
    assert create_merge_patch(original, original) == {}
    assert create_merge_patch([1], {"a": 1}) == {"a": 1}

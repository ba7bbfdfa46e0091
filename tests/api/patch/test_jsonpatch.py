"""RFC 6902 JSON Patch: the RFC's operation rules, pointer escaping, upstream leniencies, errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import apply_json_patch
from kybernetes.api.patch._errors import REJECTED_MESSAGE, PatchError
from kybernetes.api.patch.jsonpatch import MAX_OPERATIONS, parse_pointer


def rejected(doc: Any, ops: Any) -> str:
    """Apply, expect upstream's generic 422 and return the specific reason."""
    with pytest.raises(StatusError) as info:
        apply_json_patch(doc, ops)
    assert (info.value.code, info.value.reason, info.value.message) == (422, "Invalid", REJECTED_MESSAGE)
    assert isinstance(info.value.__cause__, PatchError)
    return str(info.value.__cause__)


# -- the RFC's rules, one vector each --------------------------------------------------------


@pytest.mark.parametrize(("doc", "ops", "want"), [
    ({"fruit": "pear"}, [{"op": "add", "path": "/colour", "value": "green"}], {"fruit": "pear", "colour": "green"}),
    ({"xs": ["a", "c"]}, [{"op": "add", "path": "/xs/1", "value": "b"}], {"xs": ["a", "b", "c"]}),
    ({"xs": ["a"]}, [{"op": "add", "path": "/xs/1", "value": "z"}], {"xs": ["a", "z"]}),  # index == len
    ({"xs": [1, 2]}, [{"op": "add", "path": "/xs/-", "value": 3}], {"xs": [1, 2, 3]}),
    ({"a": 1, "b": 2}, [{"op": "remove", "path": "/b"}], {"a": 1}),
    ({"xs": ["p", "q", "r"]}, [{"op": "remove", "path": "/xs/1"}], {"xs": ["p", "r"]}),
    ({"n": 7, "m": 0}, [{"op": "replace", "path": "/n", "value": {"deep": [1]}}], {"n": {"deep": [1]}, "m": 0}),
    ({"src": {"k": "v", "w": 1}, "dst": {}}, [{"op": "move", "from": "/src/k", "path": "/dst/k"}],
     {"src": {"w": 1}, "dst": {"k": "v"}}),
    ({"xs": ["a", "b", "c", "d"]}, [{"op": "move", "from": "/xs/0", "path": "/xs/3"}], {"xs": ["b", "c", "d", "a"]}),
    ({"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": [1]}, "c": {"b": [1]}}),
    ({"t": {"u": 1}}, [{"op": "add", "path": "/t/v", "value": {"w": [True, None]}}],
     {"t": {"u": 1, "v": {"w": [True, None]}}}),
    ({"a": [1]}, [{"op": "add", "path": "/a", "value": [2, 3]}], {"a": [2, 3]}),  # add replaces a member
    ({"x": 1}, [{"op": "add", "path": "", "value": {"y": 2}}], {"y": 2}),  # the whole document
    ({"x": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    ({"x": 1}, [], {"x": 1}),
    ({"x": 1}, None, {"x": 1}),  # Go decodes null into an empty patch
])
def test_rfc_operations(doc: Any, ops: Any, want: Any) -> None:
    assert apply_json_patch(doc, ops) == want


def test_pointer_escapes() -> None:
    assert parse_pointer("") == []
    assert parse_pointer("/") == [""]
    assert parse_pointer("/a~1b/m~0n/~01") == ["a/b", "m~n", "~1"]
    doc = {"metadata": {"labels": {"app.kubernetes.io/name": "web", "t~x": "1"}}}
    ops = [{"op": "replace", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "api"},
           {"op": "remove", "path": "/metadata/labels/t~0x"},
           {"op": "add", "path": "/metadata/labels/", "value": "empty-key"}]
    assert apply_json_patch(doc, ops) == {"metadata": {"labels": {"app.kubernetes.io/name": "api", "": "empty-key"}}}
    assert "invalid escape" in rejected(doc, [{"op": "remove", "path": "/metadata/~2"}])
    assert "must be empty or start" in rejected(doc, [{"op": "remove", "path": "metadata"}])


def test_test_operation() -> None:
    doc = {"s": "10", "n": 10, "f": 1.0, "b": True, "o": {"x": [1, {"y": None}]}}
    ok = [{"op": "test", "path": "/n", "value": 10}, {"op": "test", "path": "/f", "value": 1},
          {"op": "test", "path": "/o", "value": {"x": [1, {"y": None}]}},
          {"op": "test", "path": "/missing", "value": None}]  # upstream: an absent member tests as null
    assert apply_json_patch(doc, ok) == doc
    assert rejected(doc, [{"op": "test", "path": "/s", "value": 10}]) == "testing value /s failed: test failed"
    assert rejected(doc, [{"op": "test", "path": "/b", "value": 1}]) == "testing value /b failed: test failed"
    assert rejected(doc, [{"op": "test", "path": "/o/x", "value": [{"y": None}, 1]}]).startswith("testing value")
    assert rejected(doc, [{"op": "test", "path": "/nope", "value": 1}]).startswith("testing value /nope")


def test_failed_patch_is_atomic_and_inputs_untouched() -> None:
    doc = {"spec": {"replicas": 1, "xs": [1, 2]}}
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 5}, {"op": "add", "path": "/spec/xs/-", "value": 3},
           {"op": "test", "path": "/spec/replicas", "value": 1}]
    before, ops_before = copy.deepcopy(doc), copy.deepcopy(ops)
    rejected(doc, ops)
    assert doc == before and ops == ops_before
    out = apply_json_patch(doc, ops[:2])
    assert out == {"spec": {"replicas": 5, "xs": [1, 2, 3]}} and doc == before


def test_values_are_copied() -> None:
    value = {"k": [1]}
    out = apply_json_patch({}, [{"op": "add", "path": "/a", "value": value}, {"op": "copy", "from": "/a", "path": "/b"}])
    out["a"]["k"].append(2)
    assert out["b"] == {"k": [1]} and value == {"k": [1]}


def test_upstream_leniencies() -> None:
    # replace of a missing object member sets it (the library Kubernetes uses does this)
    assert apply_json_patch({"l": {}}, [{"op": "replace", "path": "/l/x", "value": "1"}]) == {"l": {"x": "1"}}
    # negative indices count from the end for add and remove
    assert apply_json_patch({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}]) == {"a": [1, 2]}
    # for add, -1 is the last position of the grown array
    assert apply_json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-1", "value": 9}]) == {"a": [1, 2, 9]}
    assert apply_json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-2", "value": 9}]) == {"a": [1, 9, 2]}


@pytest.mark.parametrize(("doc", "op", "reason"), [
    ({"a": 1}, {"op": "add", "path": "/b/c", "value": 1}, 'add operation does not apply: doc is missing path: "/b/c"'),
    ({"a": [1]}, {"op": "add", "path": "/a/5", "value": 1}, "Unable to access invalid index: 5"),
    ({"a": [1]}, {"op": "add", "path": "/a/01", "value": 1}, "value was not a proper array index: '01'"),
    ({"a": [1]}, {"op": "add", "path": "/a/x", "value": 1}, "value was not a proper array index: 'x'"),
    ({"a": 1}, {"op": "remove", "path": "/b"}, "Unable to remove nonexistent key: b"),
    ({"a": [1]}, {"op": "remove", "path": "/a/1"}, "Unable to access invalid index: 1"),
    ({"a": [1]}, {"op": "replace", "path": "/a/3", "value": 0}, "replace operation does not apply: doc is missing key"),
    ({"a": 1}, {"op": "move", "from": "/x", "path": "/y"}, "move operation does not apply: doc is missing from path"),
    ({"a": {"b": 1}}, {"op": "move", "from": "/a", "path": "/a/b/c"}, "is a prefix of"),
    ({"a": 1}, {"op": "copy", "from": "/x", "path": "/y"}, "copy operation does not apply"),
    ({"a": 1}, {"op": "add", "path": "/b"}, "missing value"),
    ({"a": 1}, {"op": "add", "value": 1}, "add operation failed to decode path"),
    ({"a": 1}, {"op": "frobnicate", "path": "/a"}, "Unexpected kind: frobnicate"),
    ({"a": 1}, {"path": "/a"}, "Unexpected kind: unknown"),
    ({"a": "str"}, {"op": "add", "path": "/a/b", "value": 1}, "doc is missing path"),
])
def test_operation_errors_are_422(doc: Any, op: dict[str, Any], reason: str) -> None:
    assert reason in rejected(doc, [op])


def test_malformed_documents_are_400_and_size_limit_413() -> None:
    for ops, shown in [({"op": "add"}, "object"), ("x", "string")]:
        with pytest.raises(StatusError) as info:
            apply_json_patch({}, ops)
        assert (info.value.code, info.value.reason) == (400, "BadRequest")
        assert info.value.message == f"json: cannot unmarshal {shown} into Go value of type jsonpatch.Patch"
    with pytest.raises(StatusError) as info:
        apply_json_patch({}, [1])
    assert info.value.code == 400 and "jsonpatch.Operation" in info.value.message
    with pytest.raises(StatusError) as info:
        apply_json_patch({}, [{"op": "test", "path": "", "value": {}}] * (MAX_OPERATIONS + 1))
    assert info.value.code == 413
    assert info.value.message.endswith(f"maximum operations in a JSON patch is {MAX_OPERATIONS}, got 10001")


def test_kubectl_rollout_undo() -> None:
    live: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 3,
                     "annotations": {"deployment.kubernetes.io/revision": "3", "note": "live"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
    }
    old_template = {"metadata": {"labels": {"app": "web"}, "annotations": {"kubernetes.io/change-cause": "v1"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
    ops = [{"op": "replace", "path": "/spec/template", "value": old_template},
           {"op": "replace", "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "v1"}}]
    out = apply_json_patch(live, ops)
    assert out["spec"]["template"] == old_template
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3",
                                              "kubernetes.io/change-cause": "v1"}
    assert out["spec"]["replicas"] == 2 and out["metadata"]["generation"] == 3
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

"""Strategic merge patch list rules on a small synthetic schema: ordering, duplicates, directives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import apply_strategic_merge_patch, create_two_way_strategic_merge_patch
from kybernetes.api.schema import Schemas

MERGE = {"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}
SCHEMAS = Schemas({"t.Item": {"type": "object", "properties": {
    "name": {"type": "string"},
    "value": {"type": "string"},
    "items": {"type": "array", "items": {"$ref": "#/$defs/t.Item"}, **MERGE},
    "ints": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
    "plain": {"type": "array", "items": {"$ref": "#/$defs/t.Item"}},
    "kept": {"$ref": "#/$defs/t.Item", "x-kubernetes-patch-strategy": "retainKeys"},
    "whole": {"$ref": "#/$defs/t.Item", "x-kubernetes-patch-strategy": "replace"},
}}})
ROOT = SCHEMAS.definitions["t.Item"]


def items(*specs: str) -> list[dict[str, Any]]:
    """``items("a", "b=2")`` → ``[{"name": "a"}, {"name": "b", "value": "2"}]``."""
    out = []
    for spec in specs:
        name, _, value = spec.partition("=")
        out.append({"name": name, "value": value} if value else {"name": name})
    return out


def apply(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(doc), copy.deepcopy(patch)
    out = apply_strategic_merge_patch(doc, patch, ROOT, SCHEMAS)
    assert (doc, patch) == before
    return out


@pytest.mark.parametrize(("live", "patch", "want"), [
    # the patch's order wins for the elements it names ...
    (items("a", "b", "c"), items("c=3", "a=1", "b=2"), items("c=3", "a=1", "b=2")),
    # ... and a live-only element keeps its place in front of those it preceded
    (items("a", "b=2", "c"), items("c=3", "a=1"), items("b=2", "c=3", "a=1")),
    (items("a", "b"), items("b=2"), items("a", "b=2")),
    # new elements come first when nothing orders them
    (items("a", "b"), items("z"), items("z", "a", "b")),
    # deletion removes every element with that key, duplicates included
    (items("a", "a=2", "b"), [{"$patch": "delete", "name": "a"}], items("b")),
    # a replace marker anywhere makes the plain elements the whole list
    (items("a", "b"), [{"$patch": "replace"}], []),
    (items("a", "b"), [*items("c=3"), {"$patch": "replace"}, {"$patch": "delete", "name": "q"}], items("c=3")),
    # two patch elements with one key merge into one element
    ([], items("n=1", "n"), items("n=1")),
])
def test_merge_list_rules(live: list[Any], patch: list[Any], want: list[Any]) -> None:
    assert apply({"items": live}, {"items": patch})["items"] == want


@pytest.mark.parametrize(("live", "patch", "want"), [
    ([5, 6, 7], [7, 5], [6, 7, 5]),
    ([5, 6], [8], [8, 5, 6]),
    ([5, 5, 6], [6, 6], [5, 6]),  # a set: repeats collapse
    ([1], [True], None),  # booleans are not numbers: mixed kinds are an error
])
def test_scalar_merge_list_rules(live: list[Any], patch: list[Any], want: list[Any] | None) -> None:
    if want is None:
        with pytest.raises(StatusError):
            apply({"ints": live}, {"ints": patch})
    else:
        assert apply({"ints": live}, {"ints": patch})["ints"] == want


@pytest.mark.parametrize(("live", "order", "patch", "want"), [
    (items("a", "c"), items("c", "b", "a"), items("c=3", "a=1"), items("c=3", "a=1")),  # b named, never there
    (items("a", "b", "c"), items("c", "a"), None, items("b", "c", "a")),  # order only, b is live-only
    (items("a", "b"), items("b", "a"), [{"$patch": "delete", "name": "b"}], items("a")),
    ([], items("y", "z", "x"), items("y", "x=1"), items("y", "x=1")),  # the list is new
])
def test_set_element_order(live: list[Any], order: list[Any], patch: list[Any] | None, want: list[Any]) -> None:
    body: dict[str, Any] = {"$setElementOrder/items": order}
    if patch is not None:
        body["items"] = patch
    assert apply({"items": live} if live else {}, body)["items"] == want


def test_set_element_order_for_scalars() -> None:
    doc = {"ints": [1, 3]}
    assert apply(doc, {"$setElementOrder/ints": [3, 2, 1]})["ints"] == [3, 1]
    assert apply(doc, {"$setElementOrder/ints": [2, 3, 1], "ints": [2]})["ints"] == [2, 3, 1]
    with pytest.raises(StatusError) as info:
        apply(doc, {"$setElementOrder/ints": [1, 2, 3], "ints": [3, 1]})
    assert info.value.code == 500 and "doesn't match $setElementOrder list" in info.value.message


def test_set_element_order_is_ignored_for_replaced_lists() -> None:
    doc = {"plain": items("a", "b")}
    assert apply(doc, {"$setElementOrder/plain": items("b", "a")})["plain"] == items("a", "b")
    assert apply(doc, {"$setElementOrder/plain": items("b"), "plain": items("b=2")})["plain"] == items("b=2")


def test_nested_merge_lists_merge_recursively() -> None:
    doc = {"items": [{"name": "a", "items": items("x", "y")}]}
    out = apply(doc, {"items": [{"name": "a", "items": [{"$patch": "delete", "name": "x"}, *items("z")]}]})
    assert out == {"items": [{"name": "a", "items": items("z", "y")}]}


def test_map_strategies() -> None:
    doc = {"kept": {"name": "k", "value": "v"}, "whole": {"name": "w", "value": "v"}}
    out = apply(doc, {"kept": {"value": "2"}, "whole": {"value": "2", "name": None}})
    assert out == {"kept": {"name": "k", "value": "2"}, "whole": {"value": "2"}}
    out = apply(doc, {"kept": {"$retainKeys": ["value"], "value": "3"}})
    assert out["kept"] == {"value": "3"}


def test_two_way_patches_round_trip_on_ordering_changes() -> None:
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"items": items("a", "b", "c")}, {"items": items("c", "a", "b")}),
        ({"items": items("a", "b", "c")}, {"items": items("b=2", "d")}),
        ({"ints": [1, 2, 3]}, {"ints": [3, 4]}),
        ({"ints": [1, 2]}, {"ints": [2, 1]}),
        ({"kept": {"name": "k", "value": "v"}}, {"kept": {"value": "w"}}),
        ({"whole": {"name": "w"}}, {"whole": {"value": "v"}}),
        ({"plain": items("a")}, {"plain": items("a", "b")}),
    ]
    for original, modified in cases:
        patch = create_two_way_strategic_merge_patch(original, modified, ROOT, SCHEMAS)
        assert apply(original, patch) == modified, patch

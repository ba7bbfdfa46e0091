"""FieldSet algebra and the FieldsV1 wire format."""

from __future__ import annotations

import json
import random

from kybernetes.api.apply import FieldSet, fields, path_string
from kybernetes.api.apply.fieldpath import key_element, pe_sort_key, subtract_fields_v1, value_element

WIRE = (
    '{"f:metadata":{"f:finalizers":{".":{},"v:\\"a\\"":{},"v:\\"b\\"":{}},'
    '"f:labels":{".":{},"f:app":{}}},'
    '"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},'
    '"f:ports":{".":{},"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{}},'
    '"k:{\\"containerPort\\":443,\\"protocol\\":\\"TCP\\"}":{}}}},'
    '"f:replicas":{},"f:selector":{}}}'
)


def test_fields_v1_round_trip_is_byte_identical() -> None:
    data = json.loads(WIRE)
    s = FieldSet.from_fields_v1(data)
    assert json.dumps(s.to_fields_v1(), separators=(",", ":")) == WIRE
    assert s.has(("f:metadata", "f:labels"))
    assert s.has(("f:metadata", "f:labels", "f:app"))
    assert not s.has(("f:metadata",))
    assert s.has(("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:ports",
                  'k:{"containerPort":443,"protocol":"TCP"}'))


def test_elements_are_ordered_like_structured_merge_diff() -> None:
    s = FieldSet.from_paths([
        ("i:10",), ("i:9",), ('v:"b"',), ("v:2",), ('k:{"port":443}',), ('k:{"port":80}',), ("f:z",), ("f:a",),
    ])
    assert list(s.to_fields_v1()) == ["f:a", "f:z", 'k:{"port":80}', 'k:{"port":443}', "v:2", 'v:"b"',
                                      "i:9", "i:10"]
    assert pe_sort_key("f:b") < pe_sort_key('k:{"a":1}') < pe_sort_key("v:1") < pe_sort_key("i:0")


def test_key_elements_sort_their_fields_and_escape_like_go() -> None:
    assert key_element({"protocol": "TCP", "containerPort": 80}) == 'k:{"containerPort":80,"protocol":"TCP"}'
    assert value_element("a<b") == 'v:"a\\u003cb"'
    unsorted = FieldSet.from_fields_v1({'k:{"protocol":"TCP","containerPort":80}': {}})
    assert unsorted.members == {'k:{"containerPort":80,"protocol":"TCP"}'}


def test_path_strings_match_conflict_messages() -> None:
    assert path_string(("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")) \
        == '.spec.template.spec.containers[name="nginx"].image'
    assert path_string(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) \
        == '.ports[containerPort=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'
    assert path_string(("f:args", "i:2")) == ".args[2]"


def test_set_operations() -> None:
    a = fields("spec.replicas", "spec.selector", "metadata.labels.app")
    b = fields("spec.replicas", "metadata.labels")
    assert a.union(b) == fields("spec.replicas", "spec.selector", "metadata.labels.app", "metadata.labels")
    assert a.intersection(b) == fields("spec.replicas")
    assert a.difference(b) == fields("spec.selector", "metadata.labels.app")  # a parent member keeps children
    assert a.recursive_difference(b) == fields("spec.selector")               # … unless recursive
    assert fields("metadata.labels", "metadata.labels.app").leaves() == fields("metadata.labels.app")
    assert FieldSet().is_empty() and not a.is_empty()
    assert [path_string(p) for p in a.paths()] == [".metadata.labels.app", ".spec.replicas", ".spec.selector"]
    assert len(a) == 3


def test_subtract_on_the_wire_matches_set_difference() -> None:
    rnd = random.Random(7)
    names = ["f:a", "f:b", "f:c", 'k:{"name":"x"}', 'v:"s"']

    def random_set(depth: int) -> FieldSet:
        s = FieldSet()
        for _ in range(rnd.randint(1, 4)):
            path = tuple(rnd.choice(names) for _ in range(rnd.randint(1, depth)))
            s.insert(path)
        return s

    for _ in range(500):
        base, remove = random_set(4), random_set(4)
        data = base.to_fields_v1()
        out = subtract_fields_v1(data, remove)
        expected = base.difference(remove)
        got = FieldSet() if out is None else FieldSet.from_fields_v1(out)
        assert got == expected
        assert (out is None) == expected.is_empty()
        if expected == base:
            assert out is data


def test_in_place_operations_match_their_copying_twins() -> None:
    rnd = random.Random(11)
    names = ["f:a", "f:b", "f:c", 'k:{"name":"x"}', 'v:"s"']

    def random_set() -> FieldSet:
        return FieldSet.from_paths(tuple(rnd.choice(names) for _ in range(rnd.randint(1, 4)))
                                   for _ in range(rnd.randint(0, 5)))

    for _ in range(500):
        a, b = random_set(), random_set()
        union, difference = a.union(b), a.difference(b)
        moved, kept = a.copy(), b.copy()
        moved.absorb(kept)
        assert moved == union
        shrunk = a.copy()
        shrunk.difference_update(b)
        assert shrunk == difference
        assert all(not c.is_empty() for c in _nodes(shrunk)[1:])  # no empty children left behind


def _nodes(s: FieldSet) -> list[FieldSet]:
    return [s, *(n for c in s.children.values() for n in _nodes(c))]


def test_union_fields_v1_matches_set_union() -> None:
    import random

    import orjson

    from kybernetes.api.apply.fieldpath import FieldSet, union_fields_v1

    rng = random.Random(7)
    elements = ["f:a", "f:b", "f:z", 'k:{"name":"x"}', 'k:{"name":"y"}', 'v:"q"', "i:0", "i:1"]

    def some_set() -> FieldSet:
        return FieldSet.from_paths(tuple(rng.choice(elements) for _ in range(rng.randint(1, 3)))
                                   for _ in range(rng.randint(0, 6)))

    for _ in range(3000):
        a, b = some_set(), some_set()
        data = a.to_fields_v1()
        got = union_fields_v1(data, b)
        # equal as JSON text: the same entries in the same (Kubernetes') order
        assert orjson.dumps(got) == orjson.dumps(a.union(b).to_fields_v1())
        if a.union(b) == a:
            assert got is data  # nothing new: the very same dict (the entry is reused)

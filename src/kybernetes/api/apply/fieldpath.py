"""Field sets: which fields of an object a manager owns, as structured-merge-diff tracks them.

A path element is kept in its serialized ``FieldsV1`` form, which makes it a hashable string:
``f:<name>`` (a struct field or map key), ``k:{"name":"nginx"}`` (an item of a list-map, key
fields as compact JSON sorted by name), ``v:"x"`` (an item of a set list) and ``i:<n>`` (a
list index). A ``FieldSet`` is a trie: ``members`` are the paths that end here, ``children``
the deeper subsets. ``to_fields_v1``/``from_fields_v1`` convert to and from the JSON that
``metadata.managedFields[].fieldsV1`` carries, in the order Kubernetes writes it (``.`` first,
then elements sorted fields < keys < values < indices). ``managed`` and ``apply`` use this.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

Path = tuple[str, ...]

__all__ = [
    "FieldSet",
    "Path",
    "fields",
    "key_element",
    "path_string",
    "pe_sort_key",
    "pe_string",
    "subtract_fields_v1",
    "union_fields_v1",
    "value_element",
]

_HTML_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                 ("\u2029", "\\u2029"))


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``encoding/json`` writes it (sorted keys, HTML-safe escapes)."""
    if isinstance(value, str):
        return _go_json_str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return _html_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True))


@functools.lru_cache(maxsize=65536)
def _go_json_str(value: str) -> str:
    return _html_safe(json.dumps(value, ensure_ascii=False))


def _html_safe(text: str) -> str:
    if any(c in text for c in "<>&\u2028\u2029"):
        for raw, escaped in _HTML_ESCAPES:
            text = text.replace(raw, escaped)
    return text


def _go_float(value: float) -> str:
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def value_element(value: Any) -> str:
    return "v:" + go_json(value)


def key_element(fields: dict[str, Any]) -> str:
    """``k:`` element of a list-map item from its key fields (sorted by name, compact JSON)."""
    if len(fields) == 1:
        ((name, value),) = fields.items()
        return "k:{" + go_json(name) + ":" + go_json(value) + "}"
    return "k:{" + ",".join(go_json(n) + ":" + go_json(fields[n]) for n in sorted(fields)) + "}"


def _value_rank(value: Any) -> tuple[int, Any]:
    # structured-merge-diff orders values: numbers < strings < booleans < lists < maps < null.
    if value is True or value is False:
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if value is None:
        return (5, 0)
    return (3 if isinstance(value, list) else 4, go_json(value))


@functools.lru_cache(maxsize=16384)
def pe_sort_key(pe: str) -> tuple[Any, ...]:
    """Sort key giving structured-merge-diff's path element order."""
    kind, body = pe[:1], pe[2:]
    if kind == "f":
        return (0, body)
    if kind == "i":
        return (3, int(body)) if body.lstrip("-").isdigit() else (3, 0, body)
    try:
        parsed = json.loads(body)
    except ValueError:
        return (4, body)
    if kind == "k" and isinstance(parsed, dict):
        return (1, tuple((name, _value_rank(parsed[name])) for name in sorted(parsed)))
    return (2, _value_rank(parsed))


def canonical_element(pe: str) -> str:
    """Re-serialize a ``k:``/``v:`` element so that equal items compare equal as strings."""
    kind = pe[:2]
    if kind not in ("k:", "v:"):
        return pe
    parsed = json.loads(pe[2:])
    if kind == "k:":
        if not isinstance(parsed, dict):
            raise ValueError(f"invalid key element {pe!r}")
        return key_element(parsed)
    return value_element(parsed)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return _go_float(value)
    return go_json(value)


@functools.lru_cache(maxsize=16384)
def pe_string(pe: str) -> str:
    """Human form used in conflict messages: ``.name``, ``[name="x"]``, ``[="v"]``, ``[0]``."""
    kind, body = pe[:1], pe[2:]
    if kind == "f":
        return "." + body
    if kind == "i":
        return "[" + body + "]"
    parsed = json.loads(body)
    if kind == "k" and isinstance(parsed, dict):
        return "[" + ",".join(f"{n}={_to_string(parsed[n])}" for n in sorted(parsed)) + "]"
    return "[=" + _to_string(parsed) + "]"


def path_string(path: Sequence[str]) -> str:
    """``.spec.template.spec.containers[name="nginx"].image``."""
    return "".join(pe_string(pe) for pe in path)


class FieldSet:
    """A set of field paths stored as a trie (structured-merge-diff ``fieldpath.Set``)."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.children: dict[str, FieldSet] = {}

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        s = cls()
        for p in paths:
            s.insert(p)
        return s

    def insert(self, path: Sequence[str]) -> None:
        """Add ``path`` (its parents are not added); the empty path is ignored."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def copy(self) -> FieldSet:
        s = FieldSet()
        s.members = set(self.members)
        s.children = {pe: c.copy() for pe, c in self.children.items()}
        return s

    # -- queries -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        # Children are never kept empty, so a non-empty children map means a non-empty set.
        return not self.members and not self.children

    def has(self, path: Sequence[str]) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe)  # type: ignore[union-attr]
            if node is None:
                return False
        return path[-1] in node.members  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.members) + sum(len(c) for c in self.children.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]!r})"

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every member path, members of a node before its children, each group sorted."""
        for pe in sorted(self.members, key=pe_sort_key):
            yield (*prefix, pe)
        for pe in sorted(self.children, key=pe_sort_key):
            yield from self.children[pe].paths((*prefix, pe))

    # -- set algebra (results never share nodes with the operands' mutable parts) -------------

    def union(self, other: FieldSet) -> FieldSet:
        s = self.copy()
        s.update(other)
        return s

    def update(self, other: FieldSet) -> None:
        """In-place union."""
        self.members |= other.members
        for pe, oc in other.children.items():
            mine = self.children.get(pe)
            if mine is None:
                self.children[pe] = oc.copy()
            else:
                mine.update(oc)

    def absorb(self, other: FieldSet) -> None:
        """In-place union that takes over ``other``'s nodes (``other`` must not be used afterwards)."""
        self.members |= other.members
        for pe, oc in other.children.items():
            mine = self.children.get(pe)
            if mine is None:
                self.children[pe] = oc
            else:
                mine.absorb(oc)

    def difference_update(self, other: FieldSet) -> None:
        """In-place ``difference``."""
        self.members -= other.members
        for pe, oc in other.children.items():
            mine = self.children.get(pe)
            if mine is not None:
                mine.difference_update(oc)
                if mine.is_empty():
                    del self.children[pe]

    def intersection(self, other: FieldSet) -> FieldSet:
        s = FieldSet()
        s.members = self.members & other.members
        for pe, c in self.children.items():
            oc = other.children.get(pe)
            if oc is not None:
                sub = c.intersection(oc)
                if not sub.is_empty():
                    s.children[pe] = sub
        return s

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of ``other`` are removed; a member of ``other`` does not remove children."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, c in self.children.items():
            oc = other.children.get(pe)
            if oc is None:
                s.children[pe] = c.copy()
            else:
                sub = c.difference(oc)
                if not sub.is_empty():
                    s.children[pe] = sub
        return s

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like ``difference`` but a member of ``other`` also removes everything below it."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, c in self.children.items():
            if pe in other.members:
                continue
            oc = other.children.get(pe)
            if oc is None:
                s.children[pe] = c.copy()
            else:
                sub = c.recursive_difference(oc)
                if not sub.is_empty():
                    s.children[pe] = sub
        return s

    def leaves(self) -> FieldSet:
        """Only the members that are not also parents of other members."""
        s = FieldSet()
        s.members = {pe for pe in self.members if pe not in self.children}
        s.children = {pe: c.leaves() for pe, c in self.children.items()}
        s.children = {pe: c for pe, c in s.children.items() if not c.is_empty()}
        return s

    # -- FieldsV1 ----------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` JSON object, keys in Kubernetes' order."""
        return self._emit(False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {".": {}} if include_self else {}
        members, children = self.members, self.children
        keys = members | children.keys() if children else members
        for pe in sorted(keys, key=pe_sort_key) if len(keys) > 1 else keys:
            child = children.get(pe)
            out[pe] = {} if child is None else child._emit(pe in members)
        return out

    @classmethod
    def from_fields_v1(cls, data: Any, canonicalize: bool = True) -> FieldSet:
        """Parse ``fieldsV1``; ``k:``/``v:`` elements are normalized unless told not to.

        Unknown element types are dropped (as Kubernetes does); malformed input raises
        ``ValueError``.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("fieldsV1 must be a JSON object")
        children = _read_v1(data, canonicalize)[0]
        return children if children is not None else cls()


def _read_v1(data: dict[str, Any], canonicalize: bool) -> tuple[FieldSet | None, bool]:
    """Returns (subset below this node or None, whether this node is itself a member)."""
    children: FieldSet | None = None
    is_member = False
    for key, value in data.items():
        if key == ".":
            is_member = True
            continue
        if len(key) < 2 or key[1] != ":":
            raise ValueError(f"invalid path element {key!r}")
        if key[0] not in "fkvi":
            continue
        pe = canonical_element(key) if canonicalize and key[0] in "kv" else key
        if not isinstance(value, dict):
            raise ValueError(f"value of {key!r} must be an object")
        grand, child_member = _read_v1(value, canonicalize)
        if children is None and (child_member or grand is not None):
            children = FieldSet()
        if child_member:
            children.members.add(pe)  # type: ignore[union-attr]
        if grand is not None:
            existing = children.children.get(pe)  # type: ignore[union-attr]
            if existing is None:
                children.children[pe] = grand  # type: ignore[union-attr]
            else:
                existing.update(grand)
    if children is None:
        is_member = True
    return children, is_member


def subtract_fields_v1(data: dict[str, Any], remove: FieldSet) -> dict[str, Any] | None:
    """``fieldsV1`` of (the set ``data`` encodes) minus ``remove``, computed on the JSON itself.

    Walks only along ``remove``, so it costs the size of ``remove``, not of ``data``. Returns
    ``data`` itself when nothing changes and ``None`` when nothing is left. ``data`` must use
    canonical element strings (as written by ``FieldSet.to_fields_v1``).
    """
    out: dict[str, Any] | None = None
    touched = remove.members | remove.children.keys() if remove.children else remove.members
    for pe in touched:
        value = data.get(pe)
        if value is None:
            continue
        has_dot = "." in value
        was_member = has_dot or not value
        member = was_member and pe not in remove.members
        sub = remove.children.get(pe)
        new_body: dict[str, Any] | None = None
        body_changed = False
        if sub is not None and len(value) > has_dot:
            body = _without_dot(value) if has_dot else value
            new_body = subtract_fields_v1(body, sub)
            body_changed = new_body is not body
        if member == was_member and not body_changed:
            continue
        if not body_changed:
            new_body = (_without_dot(value) if has_dot else value) or None
        if out is None:
            out = dict(data)
        if new_body is None:
            if member:
                out[pe] = {}
            else:
                del out[pe]
        else:
            out[pe] = {".": {}, **new_body} if member else new_body
    if out is None:
        return data
    return out or None


def _without_dot(value: dict[str, Any]) -> dict[str, Any]:
    body = dict(value)  # a C-level copy; same order as filtering
    del body["."]
    return body


def union_fields_v1(data: dict[str, Any], add: FieldSet) -> dict[str, Any]:
    """``fieldsV1`` of (the set ``data`` encodes) plus ``add``, computed on the JSON itself.

    The counterpart of ``subtract_fields_v1``: walks only along ``add``, returns ``data`` itself
    when nothing is new, and keeps ``data`` in Kubernetes' order (``data`` must be canonical, as
    written by ``FieldSet.to_fields_v1``), so the result equals
    ``FieldSet.from_fields_v1(data).union(add).to_fields_v1()``.
    """
    out: dict[str, Any] | None = None
    added = False
    touched = add.members | add.children.keys() if add.children else add.members
    for pe in touched:
        member = pe in add.members
        sub = add.children.get(pe)
        value = data.get(pe)
        if value is None:
            new_value: dict[str, Any] = {} if sub is None else sub._emit(member)
            added = True
        else:
            has_dot = "." in value
            was_member = has_dot or not value
            if sub is None:
                if was_member or not member:
                    continue
                new_value = {".": {}, **value}  # now also a member itself
            else:
                body = _without_dot(value) if has_dot else value
                new_body = union_fields_v1(body, sub) if body else sub._emit(False)
                is_member = was_member or member
                if new_body is body and is_member == was_member and (body or not is_member):
                    continue
                new_value = {".": {}, **new_body} if is_member else new_body
        if out is None:
            out = dict(data)
        out[pe] = new_value
    if out is None:
        return data
    if added:  # new keys go to their place in the order
        out = {pe: out[pe] for pe in sorted(out, key=pe_sort_key)}
    return out


def fields(*dotted: str) -> FieldSet:
    """A set of struct-field paths written with dots: ``fields("status", "metadata.labels")``."""
    return FieldSet.from_paths(tuple("f:" + part for part in d.split(".")) for d in dotted)

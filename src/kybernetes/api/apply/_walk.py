"""Schema-aware walks over plain-dict objects: the fields a value sets, and what changed.

These mirror structured-merge-diff's ``ToFieldSet`` and ``Compare`` on ``_types.TypeNode``
trees (``_merge`` has ``Merge`` and pruning). Values are parsed JSON; ``MISSING`` stands for an
absent field (``None`` is an explicit null). Comparison skips equal subtrees with Python's
C-level ``==`` and overlays ``TypeNode.zero`` on both sides, like comparing typed Go objects.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.apply._types import LIST_MAP, LIST_SET, TypeNode
from kybernetes.api.apply.fieldpath import FieldSet, key_element, path_string, pe_string, value_element

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

MAP, LIST, LEAF_VALUE, NULL = 1, 2, 3, 4  # how a schema node treats a value
_CONTAINERS = (dict, list)
_TYPE_META = frozenset({"apiVersion", "kind", "metadata"})  # always allowed at the top


class SchemaMismatch(ValueError):
    """The value cannot be typed with the schema; ``errors`` are (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        if len(errors) == 1:
            text = _error_text(*errors[0])
        else:
            text = "errors:\n" + "\n".join("  " + _error_text(p, m) for p, m in errors)
        super().__init__(text)


def _error_text(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def kind_of(v: Any, t: TypeNode) -> int:
    if v is None:
        return NULL
    tv = type(v)
    if tv is dict:
        return MAP if t.map_atomic is False else LEAF_VALUE
    if tv is list:
        return LIST if t.list_kind == LIST_MAP or t.list_kind == LIST_SET else LEAF_VALUE
    return LEAF_VALUE


def item_element(item: Any, t: TypeNode, index: int = 0) -> str:
    """Path element of an item of the associative list type ``t``."""
    if t.list_kind == LIST_MAP:
        if type(item) is not dict:
            raise _ItemError(f"element {index}: associative list with keys may not have non-map elements")
        fields = {}
        for k in t.keys:
            if k in item:
                fields[k] = item[k]
            elif k in t.key_defaults:
                fields[k] = t.key_defaults[k]
        if not fields:
            keys = "[" + " ".join(f'"{k}"' for k in t.keys) + "]"
            raise _ItemError(f"element {index}: associative list with keys has an element that omits all key "
                             f"fields {keys} (and doesn't have default values for any key fields)")
        return key_element(fields)
    if isinstance(item, (dict, list)) or item is None:
        raise _ItemError(f"element {index}: associative list without keys has an element that is not a scalar")
    return value_element(item)


class _ItemError(SchemaMismatch):
    def __init__(self, message: str) -> None:
        super().__init__([("", message)])
        self.message = message


# -- ToFieldSet ---------------------------------------------------------------------------------


class _FieldSetWalker:
    __slots__ = ("errors", "path", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.path: list[str] = []
        self.errors: list[tuple[str, str]] = []

    def fail(self, message: str) -> None:
        self.errors.append((path_string(self.path), message))

    def map(self, m: dict[str, Any], t: TypeNode, s: FieldSet) -> None:
        for k, v in m.items():
            pe = "f:" + k
            is_field = t.has_field(k)
            if self.strict and not is_field and t.elem is None and (self.path or k not in _TYPE_META):
                self.path.append(pe)
                self.fail("field not declared in schema")
                self.path.pop()
                continue
            ct = t.field(k)
            kind = kind_of(v, ct)
            if kind == MAP or kind == LIST:
                if v:
                    sub = FieldSet()
                    self.path.append(pe)
                    if kind == MAP:
                        self.map(v, ct, sub)
                    else:
                        self.list(v, ct, sub)
                    self.path.pop()
                    if not sub.is_empty():
                        s.children[pe] = sub
                if (kind == MAP and not v) or not is_field:
                    s.members.add(pe)
            else:
                s.members.add(pe)

    def list(self, items: list[Any], t: TypeNode, s: FieldSet) -> None:
        pes: list[str | None] = []
        seen: set[str] = set()
        dups: set[str] = set()
        for i, item in enumerate(items):
            try:
                pe = item_element(item, t, i)
            except _ItemError as e:
                self.fail(e.message)
                pes.append(None)
                continue
            if pe in seen:
                if self.strict and pe not in dups:
                    self.fail(f"duplicate entries for key {pe_string(pe)}")
                dups.add(pe)
            seen.add(pe)
            pes.append(pe)
        it = t.item
        for item, maybe_pe in zip(items, pes, strict=True):
            if maybe_pe is None:
                continue
            pe = maybe_pe
            s.members.add(pe)
            if pe in dups:
                continue
            kind = kind_of(item, it)
            if (kind == MAP or kind == LIST) and item:
                sub = FieldSet()
                self.path.append(pe)
                if kind == MAP:
                    self.map(item, it, sub)
                else:
                    self.list(item, it, sub)
                self.path.pop()
                if not sub.is_empty():
                    s.children[pe] = sub


def to_field_set(value: Any, t: TypeNode, strict: bool = False) -> FieldSet:
    """The fields ``value`` sets. ``strict`` also rejects duplicates and undeclared fields."""
    s = FieldSet()
    w = _FieldSetWalker(strict)
    kind = kind_of(value, t)
    if kind == MAP:
        w.map(value, t, s)
    elif kind == LIST:
        w.list(value, t, s)
    if w.errors:
        raise SchemaMismatch(w.errors)
    return s


# -- Compare ------------------------------------------------------------------------------------


class Comparison:
    """Fields ``added``, ``modified`` and ``removed`` going from the old to the new value."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added = FieldSet()
        self.modified = FieldSet()
        self.removed = FieldSet()

    def is_same(self) -> bool:
        return self.added.is_empty() and self.modified.is_empty() and self.removed.is_empty()

    def exclude(self, fields: FieldSet | None) -> None:
        if fields is None or fields.is_empty():
            return
        self.added = self.added.recursive_difference(fields)
        self.modified = self.modified.recursive_difference(fields)
        self.removed = self.removed.recursive_difference(fields)

    def changed(self) -> FieldSet:
        """Modified and added fields."""
        return self.modified.union(self.added)


class _Comparer:
    __slots__ = ("c", "path")

    def __init__(self, c: Comparison) -> None:
        self.c = c
        self.path: list[str] = []

    def leaf(self, lhs: Any, rhs: Any) -> None:
        if lhs is MISSING:
            self.c.added.insert(self.path)
        elif rhs is MISSING:
            self.c.removed.insert(self.path)
        else:
            self.c.modified.insert(self.path)

    def leaf_at(self, pe: str, lhs: Any, rhs: Any) -> None:
        """``child(pe, lhs, rhs, t)`` for two non-container values (always a leaf)."""
        c = self.c
        node = c.added if lhs is MISSING else c.removed if rhs is MISSING else c.modified
        for p in self.path:
            sub = node.children.get(p)
            if sub is None:
                sub = node.children[p] = FieldSet()
            node = sub
        node.members.add(pe)

    def node(self, lhs: Any, rhs: Any, t: TypeNode) -> None:
        lk = 0 if lhs is MISSING else kind_of(lhs, t)
        rk = 0 if rhs is MISSING else kind_of(rhs, t)
        if lk == LEAF_VALUE or rk == LEAF_VALUE:
            self.leaf(lhs, rhs)
            return
        is_map = lk == MAP or rk == MAP
        if is_map == (lk == LIST or rk == LIST):
            self.leaf(lhs, rhs)  # both null/absent, or a map against a list
            return
        lc = lhs if lk == MAP or lk == LIST else None
        rc = rhs if rk == MAP or rk == LIST else None
        if not lc and not rc:
            self.leaf(lhs, rhs)
            return
        if is_map:
            self.map(lc, rc, t)
        else:
            self.list(lc, rc, t)
        if lhs is MISSING:
            self.c.added.insert(self.path)
        elif rhs is MISSING:
            self.c.removed.insert(self.path)

    def child(self, pe: str, lhs: Any, rhs: Any, t: TypeNode) -> None:
        self.path.append(pe)
        self.node(lhs, rhs, t)
        self.path.pop()

    def map(self, lm: dict[str, Any] | None, rm: dict[str, Any] | None, t: TypeNode) -> None:
        zero = t.zero
        lz = zero if lm is not None else None
        rz = zero if rm is not None else None
        # Scalars (and nulls/absence) on both sides are a leaf whatever the field's type: record
        # them here instead of going through child/node/leaf (most of an object's fields).
        if lm is not None:
            for k, lv in lm.items():
                rv = rm.get(k, MISSING) if rm is not None else MISSING
                if rv is MISSING and rz is not None:
                    rv = rz.get(k, MISSING)
                if rv is not MISSING and (lv is rv or lv == rv):
                    continue
                if type(lv) not in _CONTAINERS and type(rv) not in _CONTAINERS:
                    self.leaf_at("f:" + k, lv, rv)
                else:
                    self.child("f:" + k, lv, rv, t.field(k))
        if rm is not None:
            for k, rv in rm.items():
                if lm is not None and k in lm:
                    continue
                lv = lz.get(k, MISSING) if lz is not None else MISSING
                if lv is not MISSING and (lv is rv or lv == rv):
                    continue
                if type(lv) not in _CONTAINERS and type(rv) not in _CONTAINERS:
                    self.leaf_at("f:" + k, lv, rv)
                else:
                    self.child("f:" + k, lv, rv, t.field(k))
        if zero is not None and (lz is None) != (rz is None):
            for k, zv in zero.items():
                if (lm is not None and k in lm) or (rm is not None and k in rm):
                    continue
                self.child("f:" + k, zv if lz is not None else MISSING, zv if rz is not None else MISSING,
                           t.field(k))

    def list(self, ll: list[Any] | None, rl: list[Any] | None, t: TypeNode) -> None:
        lone, lmany = _index(ll, t)
        rone, rmany = _index(rl, t)
        it = t.item
        for pe in {**lone, **lmany, **rone, **rmany}:
            nl = len(lmany[pe]) if pe in lmany else (1 if pe in lone else 0)
            nr = len(rmany[pe]) if pe in rmany else (1 if pe in rone else 0)
            if nl <= 1 and nr <= 1:
                lv, rv = lone.get(pe, MISSING), rone.get(pe, MISSING)
                if lv is not MISSING and rv is not MISSING and lv == rv:
                    continue
                self.child(pe, lv, rv, it)
            elif nl >= 2 and nr >= 2:
                if lmany[pe] != rmany[pe]:
                    self.c.modified.insert((*self.path, pe))
            elif nl >= 2:
                if nr:
                    self.child(pe, MISSING, rone[pe], it)
                self.c.removed.insert((*self.path, pe))
            else:
                if nl:
                    self.child(pe, lone[pe], MISSING, it)
                self.c.added.insert((*self.path, pe))


def _index(items: list[Any] | None, t: TypeNode) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    one: dict[str, Any] = {}
    many: dict[str, list[Any]] = {}
    for i, item in enumerate(items or ()):
        pe = item_element(item, t, i)
        if pe in many:
            many[pe].append(item)
        elif pe in one:
            many[pe] = [one.pop(pe), item]
        else:
            one[pe] = item
    return one, many


def compare(lhs: Any, rhs: Any, t: TypeNode) -> Comparison:
    """What changed from ``lhs`` to ``rhs`` (either may be ``MISSING``)."""
    c = Comparison()
    _Comparer(c).node(lhs, rhs, t)
    return c

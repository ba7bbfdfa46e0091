"""Apply merge and pruning on plain-dict objects (structured-merge-diff ``Merge``/``RemoveItems``).

``merge`` lays an applied configuration over the live object: the configuration wins on leaves
and atomic values, maps merge per key, list-maps and sets per item (the configuration's item
order, live-only items kept near their neighbours). ``prune`` then drops what the applier owned
last time, no longer applies and nobody else owns. Both return fresh values.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.apply._types import TypeNode
from kybernetes.api.apply._walk import LEAF_VALUE, LIST, MAP, MISSING, item_element, kind_of
from kybernetes.api.apply.fieldpath import FieldSet


def deep_copy(v: Any) -> Any:
    tv = type(v)
    if tv is dict:
        return {k: deep_copy(x) for k, x in v.items()}
    if tv is list:
        return [deep_copy(x) for x in v]
    return v


def merge(live: Any, config: Any, t: TypeNode) -> Any:
    """``config`` (an applied configuration) merged into ``live``; always a fresh value."""
    if config is MISSING:
        return deep_copy(live)
    if live is MISSING:
        return deep_copy(config)
    lk, rk = kind_of(live, t), kind_of(config, t)
    if lk == LEAF_VALUE or rk == LEAF_VALUE:
        return deep_copy(config)
    is_map = lk == MAP or rk == MAP
    if is_map == (lk == LIST or rk == LIST):
        return deep_copy(config)
    lc = live if lk == MAP or lk == LIST else None
    rc = config if rk == MAP or rk == LIST else None
    if not lc and not rc:
        return deep_copy(config)
    if rc is None:
        return deep_copy(live)
    if lc is None:
        return deep_copy(config)
    if is_map:
        out = {}
        for k, lv in lc.items():
            rv = rc.get(k, MISSING)
            out[k] = deep_copy(lv) if rv is MISSING else merge(lv, rv, t.field(k))
        for k, rv in rc.items():
            if k not in lc:
                out[k] = deep_copy(rv)
        return out
    return _merge_list(lc, rc, t)


def _merge_list(ll: list[Any], rl: list[Any], t: TypeNode) -> list[Any]:
    # Right-hand order wins; items only on the left keep their place relative to shared ones.
    it = t.item
    rpes = [item_element(x, t, i) for i, x in enumerate(rl)]
    robs = dict(zip(rpes, rl, strict=True))
    lpes = [item_element(x, t, i) for i, x in enumerate(ll)]
    lobs: dict[str, Any] = {}
    for pe, x in zip(lpes, ll, strict=True):
        lobs[pe] = None if pe in lobs else x
    shared = [pe for pe in rpes if pe in lobs]
    shared.reverse()
    nxt = shared.pop() if shared else None
    merged: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(lpes), len(rpes)
    while li < nl or ri < nr:
        if li < nl and ri < nr:
            pe = lpes[li]
            if pe == rpes[ri]:
                merged.add(pe)
                out.append(merge(lobs[pe], robs[pe], it))
                li += 1
                ri += 1
                nxt = shared.pop() if shared else None
                continue
            if pe in robs and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < nl:
            pe = lpes[li]
            if pe not in robs:
                out.append(deep_copy(ll[li]))
                li += 1
                continue
            if pe in merged:
                li += 1
        if ri < nr:
            pe = rpes[ri]
            merged.add(pe)
            out.append(merge(lobs.get(pe, MISSING), robs[pe], it))
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = shared.pop() if shared else None
    return out


# -- Prune --------------------------------------------------------------------------------------


def _owns(s: FieldSet | None, pe: str, named: bool) -> bool:
    # Membership after structured-merge-diff's EnsureNamedFieldsAreMembers: a struct field that
    # has owned children counts as owned itself.
    return s is not None and (pe in s.members or (named and pe in s.children))


def prune(value: Any, t: TypeNode, last: FieldSet, owned: FieldSet | None) -> Any:
    """Remove what the applier owned before (``last``) and nobody owns now (``owned``).

    Copy-on-write: returns ``value`` itself when nothing is removed. A container left empty by
    the removal comes back as ``MISSING`` so that the caller drops it.
    """
    kind = kind_of(value, t)
    if kind == MAP:
        out: dict[str, Any] | None = None
        for k, v in value.items():
            pe = "f:" + k
            named = t.has_field(k)
            if _owns(last, pe, named) and not _owns(owned, pe, named):
                nv = MISSING
            else:
                sub = last.children.get(pe)
                if sub is None:
                    continue
                nv = prune(v, t.field(k), sub, owned.children.get(pe) if owned is not None else None)
                if nv is v:
                    continue
            if out is None:
                out = dict(value)
            if nv is MISSING:
                del out[k]
            else:
                out[k] = nv
        if out is None:
            return value
        return out if out else MISSING
    if kind == LIST:
        items: list[Any] = []
        changed = False
        for i, item in enumerate(value):
            pe = item_element(item, t, i)
            if pe in last.members and not _owns(owned, pe, False):
                changed = True
                continue
            sub = last.children.get(pe)
            if sub is not None:
                new = prune(item, t.item, sub, owned.children.get(pe) if owned is not None else None)
                if new is not item:
                    changed = True
                    if new is MISSING:
                        continue
                    item = new
            items.append(item)
        if not changed:
            return value
        return items if items else MISSING
    return value

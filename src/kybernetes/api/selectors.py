"""Label and field selectors: parsing (with Kubernetes' error messages) and matching.

Label selectors support every operator of ``labels.Parse``: ``=``, ``==``, ``!=``, ``in``,
``notin``, ``exists`` (``key``), ``!key``, and ``gt``/``lt`` (``>``, ``<``). Field selectors
support ``=``, ``==`` and ``!=`` on the field labels a kind's strategy exposes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import is_label_value, is_qualified_name


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # =, !=, in, notin, exists, !, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            if not present:
                return False
            try:
                v = int(value or "")
            except ValueError:
                return False
            bound = int(self.values[0])
            return v > bound if self.op == "gt" else v < bound
        return False


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def equality_value(self, key: str) -> str | None:
        """The value ``key`` must equal, if the selector pins it (for index lookups)."""
        for r in self.requirements:
            if r.key == key and r.op == "=":
                return r.values[0]
        return None


EVERYTHING = LabelSelector()
_TOKEN = re.compile(r"\s*(!=|==|=|>|<|!|\(|\)|,|[^\s!=<>(),]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        if m.group(1):
            out.append(m.group(1))
        pos = m.end()
        if text[pos:].strip() == "":
            break
    return out


def _bad(selector: str, why: str) -> errors.StatusError:
    return errors.bad_request(f"unable to parse requirement: {why}" if why else f"invalid selector: '{selector}'")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``?labelSelector=``; raises 400 BadRequest like the apiserver on errors."""
    if not text or not text.strip():
        return EVERYTHING
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def need(cond: bool, why: str) -> None:
        if not cond:
            raise _bad(text, why)

    while i < len(toks):
        negate = False
        if toks[i] == "!":
            negate = True
            i += 1
        need(i < len(toks), "found '', expected: identifier")
        key = toks[i]
        need(key not in ("=", "==", "!=", "(", ")", ",", ">", "<"), f"found '{key}', expected: !, identifier, or 'end of string'")
        for m in is_qualified_name(key):
            raise _bad(text, f"<nil>: Invalid value: \"{key}\": {m}")
        i += 1
        if negate:
            reqs.append(Requirement(key, "!"))
        elif i >= len(toks) or toks[i] == ",":
            reqs.append(Requirement(key, "exists"))
        else:
            op = toks[i]
            i += 1
            if op in ("=", "==", "!="):
                value = ""
                if i < len(toks) and toks[i] not in (",",):
                    value = toks[i]
                    i += 1
                for m in is_label_value(value):
                    raise _bad(text, f"values[0][{key}]: Invalid value: \"{value}\": {m}")
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("in", "notin"):
                need(i < len(toks) and toks[i] == "(", f"found '{toks[i] if i < len(toks) else ''}', expected: '('")
                i += 1
                values: list[str] = []
                while i < len(toks) and toks[i] != ")":
                    if toks[i] == ",":
                        i += 1
                        continue
                    values.append(toks[i])
                    i += 1
                need(i < len(toks), "found '', expected: ')'")
                i += 1
                for v in values:
                    for m in is_label_value(v):
                        raise _bad(text, f"values[0][{key}]: Invalid value: \"{v}\": {m}")
                reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
            elif op in (">", "<"):
                need(i < len(toks), "found '', expected: integer")
                value = toks[i]
                i += 1
                need(value.lstrip("-").isdigit(), "for 'Gt', 'Lt' operators, the value must be an integer")
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
            else:
                raise _bad(text, f"found '{op}', expected: '=', '!=', '==', 'in', notin'")
        if i < len(toks):
            need(toks[i] == ",", f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            need(i < len(toks), "found '', expected: identifier after ','")
    return LabelSelector(tuple(reqs))


def selector_from_label_selector(sel: dict[str, Any] | None) -> LabelSelector | None:
    """A ``metav1.LabelSelector`` object → matcher. ``None`` input means "nothing" (matches none);
    an empty selector matches everything, as in ``metav1.LabelSelectorAsSelector``."""
    if sel is None:
        return None
    reqs = [Requirement(k, "=", (v,)) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise errors.bad_request(f"\"{expr.get('operator')}\" is not a valid label selector operator")
        reqs.append(Requirement(expr.get("key", ""), op, tuple(sorted(expr.get("values") or ()))))
    return LabelSelector(tuple(reqs))


def selector_from_map(labels: dict[str, str] | None) -> LabelSelector:
    return LabelSelector(tuple(Requirement(k, "=", (v,)) for k, v in sorted((labels or {}).items())))


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: dict[str, str]) -> bool:
        for r in self.requirements:
            v = fields.get(r.field, "")
            if (v == r.value) != (r.op == "="):
                return False
        return True

    def value_of(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and r.op == "=":
                return r.value
        return None


def _unescape_field_value(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append(v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_field_selector(text: str | None) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    parts = re.split(r"(?<!\\),", text)
    for part in parts:
        if not part:
            continue
        m = re.match(r"^([^=!]+?)(!=|==|=)(.*)$", part)
        if not m:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3)
        reqs.append(FieldRequirement(field, "!=" if op == "!=" else "=", _unescape_field_value(value)))
    return FieldSelector(tuple(reqs))


def check_field_labels(selector: FieldSelector, supported: set[str]) -> None:
    """400 for a field label the kind does not support (apiserver: ``field label not supported``)."""
    for r in selector.requirements:
        if r.field not in supported:
            raise errors.bad_request(f"field label not supported: {r.field}")

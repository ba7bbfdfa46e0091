"""The JSONPath subset of CRD printer columns and selectable fields.

Supports what ``additionalPrinterColumns`` use in practice: ``.spec.replicas``, ``.items[0]``,
``.a[*].b``, ``['dotted.key']`` and filters such as ``.status.conditions[?(@.type=="Ready")].status``
(``==``/``!=`` against a quoted string, a number or ``true``/``false``). Missing keys yield no result,
like kubectl's ``AllowMissingKeys``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_TOKEN = re.compile(r"""
      \.(?P<field>[A-Za-z0-9_\-$/]+|\*)
    | \[\s*(?P<index>-?\d+)\s*\]
    | \[\s*\*\s*\]
    | \[\s*'(?P<sq>[^']*)'\s*\]
    | \[\s*"(?P<dq>[^"]*)"\s*\]
    | \[\?\(\s*@(?P<fpath>(?:\.[A-Za-z0-9_\-$]+)+)\s*(?P<op>==|!=)\s*(?P<fvalue>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
""", re.VERBOSE)

Step = tuple[str, Any]


class PathError(ValueError):
    pass


def parse(expression: str) -> list[Step]:
    """``.a.b[0]`` → steps; a surrounding ``{...}`` and a leading ``$`` are accepted."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PathError(f"unrecognized JSONPath {expression!r} at {text[pos:]!r}")
        if m.group("field") is not None:
            steps.append(("all", None) if m.group("field") == "*" else ("key", m.group("field")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("sq") is not None or m.group("dq") is not None:
            steps.append(("key", m.group("sq") if m.group("sq") is not None else m.group("dq")))
        elif m.group("fpath") is not None:
            steps.append(("filter", (m.group("fpath")[1:].split("."), m.group("op"), _literal(m.group("fvalue")))))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def _literal(text: str) -> Any:
    if text[:1] in "\"'":
        return text[1:-1]
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _follow(value: Any, keys: list[str]) -> tuple[bool, Any]:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def find(data: Any, steps: list[Step]) -> list[Any]:
    """Every value the path selects (possibly none)."""
    current = [data]
    for kind, arg in steps:
        nxt: list[Any] = []
        for value in current:
            if kind == "key" and isinstance(value, dict) and arg in value:
                nxt.append(value[arg])
            elif kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value):
                nxt.append(value[arg])
            elif kind == "all":
                nxt.extend(value if isinstance(value, list) else value.values() if isinstance(value, dict) else [])
            elif kind == "filter" and isinstance(value, list):
                keys, op, wanted = arg
                for item in value:
                    found, got = _follow(item, keys)
                    if found and ((got == wanted) == (op == "==")):
                        nxt.append(item)
        current = nxt
    return current


def text(value: Any) -> str:
    """How kubectl's JSONPath printer renders one result."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if value is None:
        return "<nil>"
    return str(value)

"""RFC 6902 JSON Patch (``application/json-patch+json``), as the API server applies it.

``apply_json_patch(doc, ops)`` runs the operations in order on a private copy and returns the new
document; the input is never touched and a failing operation leaves nothing half-applied.
``kubectl rollout undo`` sends one (``replace`` of ``/spec/template`` and
``/metadata/annotations``), and so does the Python client whenever a patch body is a list.

Paths are RFC 6901 JSON Pointers (``~1`` is ``/``, ``~0`` is ``~``; ``-`` appends to an array).
Where the library Kubernetes uses is more lenient than the RFC, its behaviour wins, since clients
were written against it: ``replace`` of a missing object member sets it, ``add``/``remove`` take
negative array indices counted from the end, and ``test`` of a missing member against ``null``
passes. Errors: a body that is not a list of objects is 400; more than 10000 operations is 413;
an operation that does not apply is 422 with upstream's generic message (details in
``__cause__``).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.patch import _errors, _json

__all__ = ["MAX_OPERATIONS", "apply_json_patch", "parse_pointer"]

MAX_OPERATIONS = 10000  # upstream's maxJSONPatchOperations

_MISSING = object()


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply the RFC 6902 operation list ``ops`` to ``doc`` and return the patched copy."""
    if ops is None:  # Go decodes a JSON null into an empty operation list
        ops = []
    if not isinstance(ops, list):
        raise _errors.bad_request(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise _errors.bad_request(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_OPERATIONS:
        raise _errors.too_many_operations(len(ops), MAX_OPERATIONS)
    result = _json.clone(doc)
    for op in ops:
        result = _apply_one(result, op)
    return result


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 pointer into unescaped reference tokens (``""`` → ``[]``)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _errors.rejected(f"JSON pointer must be empty or start with a \"/\": {pointer!r}")
    tokens = []
    for raw in pointer[1:].split("/"):
        rest = raw.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise _errors.rejected(f"invalid escape sequence in JSON pointer {pointer!r}")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _apply_one(doc: Any, op: dict[str, Any] | None) -> Any:
    if op is None:
        raise _errors.rejected("Unexpected kind: unknown")
    kind = op.get("op")
    if kind == "add":
        return _add(doc, _path(op, "path", kind), _value(op, kind), op["path"])
    if kind == "remove":
        return _remove(doc, _path(op, "path", kind), op["path"])[0]
    if kind == "replace":
        return _replace(doc, _path(op, "path", kind), _value(op, kind), op["path"])
    if kind == "move":
        return _move(doc, op)
    if kind == "copy":
        source = _get(doc, _path(op, "from", kind), f"copy operation does not apply: doc is missing from path: "
                      f"{op['from']}")
        return _add(doc, _path(op, "path", kind), _json.clone(source), op["path"])
    if kind == "test":
        _test(doc, _path(op, "path", kind), _value(op, kind), op["path"])
        return doc
    shown = kind if isinstance(kind, str) else "unknown"
    raise _errors.rejected(f"Unexpected kind: {shown}")


def _path(op: dict[str, Any], field: str, kind: str) -> list[str]:
    pointer = op.get(field)
    if not isinstance(pointer, str):
        raise _errors.rejected(f"{kind} operation failed to decode {field}: missing value")
    return parse_pointer(pointer)


def _value(op: dict[str, Any], kind: str) -> Any:
    if "value" not in op:
        raise _errors.rejected(f"{kind} operation, missing value field: missing value")
    return op["value"]


def _container(doc: Any, tokens: list[str], pointer: str, kind: str) -> Any:
    """The object or array that holds the last token of ``tokens``."""
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
    if not isinstance(node, (dict, list)):
        raise _errors.rejected(f'{kind} operation does not apply: doc is missing path: "{pointer}": missing value')
    return node


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list):
        index = _index(token)
        if index is None or not 0 <= index < len(node):
            return _MISSING
        return node[index]
    return _MISSING


def _index(token: str) -> int | None:
    """An array index token: digits without leading zeros, or a negative number (upstream's extension)."""
    digits = token[1:] if token.startswith("-") else token
    if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0"):
        return None
    return int(token)


def _get(doc: Any, tokens: list[str], missing: str) -> Any:
    node = doc
    for token in tokens:
        node = _child(node, token)
        if node is _MISSING:
            raise _errors.rejected(f"{missing}: missing value")
    return node


def _add(doc: Any, tokens: list[str], value: Any, pointer: str) -> Any:
    if not tokens:
        return _json.clone(value)
    parent = _container(doc, tokens, pointer, "add")
    key = tokens[-1]
    if isinstance(parent, dict):
        parent[key] = _json.clone(value)
        return doc
    if key == "-":
        parent.append(_json.clone(value))
        return doc
    index = _index(key)
    if index is None:
        raise _errors.rejected(f"error in add for path: '{pointer}': value was not a proper array index: '{key}'")
    size = len(parent) + 1
    if not -size <= index < size:
        raise _errors.rejected(f"error in add for path: '{pointer}': Unable to access invalid index: {index}: "
                               "invalid index referenced")
    parent.insert(index % size, _json.clone(value))
    return doc


def _remove(doc: Any, tokens: list[str], pointer: str) -> tuple[Any, Any]:
    """Remove the value at ``tokens``; returns (document, removed value)."""
    if not tokens:
        raise _errors.rejected(f'remove operation does not apply: doc is missing path: "{pointer}": missing value')
    parent = _container(doc, tokens, pointer, "remove")
    key = tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise _errors.rejected(f"error in remove for path: '{pointer}': Unable to remove nonexistent key: "
                                   f"{key}: missing value")
        return doc, parent.pop(key)
    index = _index(key)
    if index is None or not -len(parent) <= index < len(parent):
        raise _errors.rejected(f"error in remove for path: '{pointer}': Unable to access invalid index: {key}: "
                               "invalid index referenced")
    return doc, parent.pop(index)


def _replace(doc: Any, tokens: list[str], value: Any, pointer: str) -> Any:
    if not tokens:
        return _json.clone(value)
    parent = _container(doc, tokens, pointer, "replace")
    key = tokens[-1]
    if isinstance(parent, dict):
        parent[key] = _json.clone(value)  # a missing member is set, as upstream's library does
        return doc
    index = _index(key)
    if index is None or not 0 <= index < len(parent):
        raise _errors.rejected(f"replace operation does not apply: doc is missing key: {pointer}: missing value")
    parent[index] = _json.clone(value)
    return doc


def _move(doc: Any, op: dict[str, Any]) -> Any:
    source = _path(op, "from", "move")
    target = _path(op, "path", "move")
    if source == target:
        _get(doc, source, f"move operation does not apply: doc is missing from path: {op['from']}")
        return doc
    if target[:len(source)] == source:
        raise _errors.rejected(f"move operation does not apply: {op['from']} is a prefix of {op['path']}")
    _get(doc, source, f"move operation does not apply: doc is missing from path: {op['from']}")
    doc, value = _remove(doc, source, op["from"])
    return _add(doc, target, value, op["path"])


def _test(doc: Any, tokens: list[str], expected: Any, pointer: str) -> None:
    node = doc
    for token in tokens:
        node = _child(node, token)
        if node is _MISSING:
            break
    if node is _MISSING:
        if expected is None:
            return
        raise _errors.rejected(f"testing value {pointer} failed: test failed")
    if not _json.equal(node, expected):
        raise _errors.rejected(f"testing value {pointer} failed: test failed")


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"

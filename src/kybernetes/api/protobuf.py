"""Decode ``application/vnd.kubernetes.protobuf`` request bodies into JSON-shaped dicts.

kubectl's typed clientset (``kubectl create configmap|secret|deployment|…``, ``kubectl autoscale``)
sends protobuf. The body is ``b"k8s\\x00"`` followed by a ``runtime.Unknown`` message
``{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}`` whose ``raw``
holds the typed message (e.g. ``k8s.io.api.core.v1.ConfigMap``).

:func:`decode` returns what the Go apiserver's ``json.Marshal`` of the decoded Go object would
give: ``kind``/``apiVersion`` from the TypeMeta, Go struct field order, ``omitempty`` applied to
value fields, present pointers printed even when zero, absent non-pointer fields printed as their
Go zero value (structs as ``{}``-ish objects, nil slices/maps/pointers without ``omitempty`` as
``null``), inline-embedded structs flattened, and the custom JSON of the apimachinery types
(``Time``/``MicroTime`` → RFC 3339 or ``null``, ``Duration`` → Go duration string, ``Quantity``
→ its string, ``IntOrString`` → int or string, ``RawExtension``/``FieldsV1`` → parsed JSON,
``[]byte`` → base64).

The field table ``protofields.json`` is generated from the Kubernetes 1.32 ``generated.proto``
files (and the Go struct tags next to them) by ``scripts/gen_protofields.py``; it is loaded once,
on first use. Unknown field numbers are skipped, like Go's decoder does. Malformed input raises a
400 ``BadRequest`` :class:`~kybernetes.api.errors.StatusError`.
"""

from __future__ import annotations

import base64
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from kybernetes.api import errors

MAGIC = b"k8s\x00"
MAX_DEPTH = 100

_TABLE_PATH = Path(__file__).with_name("protofields.json")
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
#: Kinds apimachinery registers into every group version (``metav1.AddToGroupVersion``) or as
#: unversioned types.
_META_KINDS = frozenset({
    "DeleteOptions", "ListOptions", "GetOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "WatchEvent",
    "Status", "APIVersions", "APIGroupList", "APIGroup", "APIResourceList",
})
_ZERO_TIME_SECONDS = -62135596800  # Go's time.Time{} (0001-01-01T00:00:00Z) as Unix seconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MASK64 = (1 << 64) - 1

# Scalar kinds.
_INT32, _INT64, _UINT32, _UINT64, _SINT32, _SINT64, _BOOL, _STRING, _BYTES = range(9)
_FIXED32, _SFIXED32, _FLOAT, _FIXED64, _SFIXED64, _DOUBLE, _MESSAGE = range(9, 16)
_SCALAR_KINDS = {
    "int32": _INT32, "int64": _INT64, "uint32": _UINT32, "uint64": _UINT64, "sint32": _SINT32,
    "sint64": _SINT64, "bool": _BOOL, "string": _STRING, "bytes": _BYTES, "fixed32": _FIXED32,
    "sfixed32": _SFIXED32, "float": _FLOAT, "fixed64": _FIXED64, "sfixed64": _SFIXED64, "double": _DOUBLE,
}
_VARINT_KINDS = frozenset({_INT32, _INT64, _UINT32, _UINT64, _SINT32, _SINT64, _BOOL})
_WIRE_TYPE = {k: 0 for k in _VARINT_KINDS} | {
    _STRING: 2, _BYTES: 2, _MESSAGE: 2, _FIXED32: 5, _SFIXED32: 5, _FLOAT: 5,
    _FIXED64: 1, _SFIXED64: 1, _DOUBLE: 1,
}
_FIXED_FORMAT = {_FIXED32: "<I", _SFIXED32: "<i", _FLOAT: "<f", _FIXED64: "<Q", _SFIXED64: "<q", _DOUBLE: "<d"}
_ZERO: dict[int, Any] = {
    _INT32: 0, _INT64: 0, _UINT32: 0, _UINT64: 0, _SINT32: 0, _SINT64: 0, _BOOL: False, _STRING: "",
    _BYTES: None, _FIXED32: 0, _SFIXED32: 0, _FLOAT: 0.0, _FIXED64: 0, _SFIXED64: 0, _DOUBLE: 0.0,
}


class _ProtoError(Exception):
    """Malformed wire data; turned into a 400 at the API boundary."""


class _Field:
    """One compiled field of a message."""

    __slots__ = ("excluded", "inline", "key_kind", "kind", "map", "message", "name", "number", "omitempty",
                 "pointer", "repeated", "value_wire_type", "wire_type")

    def __init__(self, row: list[Any], messages: dict[str, _Message]) -> None:
        number, name, type_name, flags = row[0], row[1], row[2], row[3]
        self.number: int = number
        self.name: str = name
        self.kind: int = _SCALAR_KINDS.get(type_name, _MESSAGE)
        self.message: _Message | None = messages[type_name] if self.kind == _MESSAGE else None
        self.repeated = "r" in flags
        self.map = "m" in flags
        self.pointer = "p" in flags
        self.omitempty = "o" in flags
        self.inline = "i" in flags
        self.excluded = "x" in flags
        self.key_kind: int = _SCALAR_KINDS[row[4]] if self.map else _STRING
        self.value_wire_type = _WIRE_TYPE[self.kind]
        self.wire_type = 2 if self.map else self.value_wire_type


class _Message:
    """One compiled message: fields in Go struct order and by number, plus its JSON special-casing."""

    __slots__ = ("by_number", "fields", "name", "special")

    def __init__(self, name: str, special: str | None) -> None:
        self.name = name
        self.special = special
        self.fields: tuple[_Field, ...] = ()
        self.by_number: dict[int, _Field] = {}


class _Table:
    """The loaded field table."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.source: str = raw.get("source", "")
        self.groups: dict[str, str] = raw["groups"]
        self.kinds: set[str] = {f"{pkg}.{k}" for pkg, names in raw["kinds"].items() for k in names}
        special: dict[str, str] = raw["special"]
        self.messages: dict[str, _Message] = {n: _Message(n, special.get(n)) for n in raw["messages"]}
        for name, rows in raw["messages"].items():
            msg = self.messages[name]
            msg.fields = tuple(_Field(row, self.messages) for row in rows)
            msg.by_number = {f.number: f for f in msg.fields}

    def message_for(self, api_version: str, kind: str) -> _Message | None:
        """The top-level message of a kind, or None when the table does not have the kind."""
        package = self.groups.get(api_version)
        if package is None:
            return None
        name = f"{package}.{kind}"
        if name in self.kinds:
            return self.messages[name]
        if kind in _META_KINDS:
            return self.messages.get(f"{_META}.{kind}")
        return None


_table: _Table | None = None


def table() -> _Table:
    """The field table, loaded on first use."""
    global _table
    if _table is None:
        _table = _Table(orjson.loads(_TABLE_PATH.read_bytes()))
    return _table


def supports(api_version: str, kind: str) -> bool:
    """Whether ``decode`` knows the message for this apiVersion/kind."""
    return table().message_for(api_version, kind) is not None


def decode(body: bytes, *, api_version: str | None = None, kind: str | None = None) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf body into the object's JSON-shaped dict.

    ``api_version``/``kind`` fill in an envelope that leaves them empty (as the Go decoder does
    with the endpoint's defaults). Raises a 400 ``StatusError`` for malformed input or a kind
    that is not in the table.
    """
    return _decode_object(body, api_version or "", kind or "", 0)


def _decode_object(body: bytes, default_gv: str, default_kind: str, depth: int) -> dict[str, Any]:
    """Decode one envelope (``decode`` and RawExtensions holding a protobuf object)."""
    if not body:
        raise errors.bad_request("empty data")
    if not body.startswith(MAGIC):
        raise errors.bad_request("provided data does not appear to be a protobuf message, expected prefix "
                                 "[107 56 115 0]")
    if len(body) == len(MAGIC):
        raise errors.bad_request("empty body")
    try:
        gv, k, raw = _unknown(body, len(MAGIC), len(body))
    except _ProtoError as e:
        raise errors.bad_request(f"unable to decode protobuf envelope: {e}") from None
    gv = gv or default_gv
    k = k or default_kind
    if not k:
        raise errors.bad_request(f"Object 'Kind' is missing in '{_type_meta_repr(gv, k)}'")
    if not gv:
        raise errors.bad_request(f"Object 'apiVersion' is missing in '{_type_meta_repr(gv, k)}'")
    msg = table().message_for(gv, k)
    if msg is None:
        raise errors.bad_request(f'no kind "{k}" is registered for version "{gv}" in scheme '
                                 '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"')
    obj: dict[str, Any] = {"kind": k, "apiVersion": gv}
    try:
        body_obj = _message(msg, raw, 0, len(raw), depth)
    except _ProtoError as e:
        raise errors.bad_request(f"unable to decode {k} ({gv}) from protobuf: {e}") from None
    except RecursionError:
        raise errors.bad_request(f"unable to decode {k} ({gv}) from protobuf: nesting too deep") from None
    if isinstance(body_obj, dict):
        body_obj.pop("kind", None)
        body_obj.pop("apiVersion", None)
        obj.update(body_obj)
    return obj


def _unknown(buf: bytes, pos: int, end: int) -> tuple[str, str, bytes]:
    """Parse ``runtime.Unknown``: returns (apiVersion, kind, raw); contentEncoding/Type are ignored."""
    api_version = kind = ""
    raw = b""
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if number in (1, 2, 3, 4):
            if wire_type != 2:
                raise _ProtoError(f"wrong wireType = {wire_type} for field {number}")
            start, pos = _length(buf, pos, end)
            if number == 1:
                for n, _wt, v in _scan(buf, start, pos, {1: 2, 2: 2}):
                    text = bytes(v).decode("utf-8", "replace")
                    if n == 1:
                        api_version = text
                    else:
                        kind = text
            elif number == 2:
                raw = buf[start:pos]
        elif number <= 0:
            raise _ProtoError(f"Unknown: illegal tag {number} (wire type {wire_type})")
        else:
            pos = _skip(buf, pos, end, wire_type, number)
    return api_version, kind, raw


def decode_message(message: str, data: bytes) -> Any:
    """Decode the bare protobuf ``data`` (no envelope) as the fully-qualified ``message``.

    Returns its JSON value (a dict for ordinary messages). Raises a 400 ``StatusError`` for
    malformed input and ``KeyError`` for a message that is not in the table.
    """
    msg = table().messages[message]
    try:
        return _message(msg, data, 0, len(data), 0)
    except _ProtoError as e:
        raise errors.bad_request(f"unable to decode {message} from protobuf: {e}") from None
    except RecursionError:
        raise errors.bad_request(f"unable to decode {message} from protobuf: nesting too deep") from None


def _type_meta_repr(api_version: str, kind: str) -> str:
    return f'{{"apiVersion":"{api_version}","kind":"{kind}"}}'


# ---------------------------------------------------------------------------------------------
# Wire primitives


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; returns (value as unsigned 64-bit, new position)."""
    if pos < end:
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _ProtoError("unexpected EOF")
        if shift >= 64:
            raise _ProtoError("integer overflow")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a length prefix; returns (payload start, payload end)."""
    n, pos = _varint(buf, pos, end)
    stop = pos + n
    if stop > end:
        raise _ProtoError("unexpected EOF")
    return pos, stop


def _skip(buf: bytes, pos: int, end: int, wire_type: int, number: int) -> int:
    """Skip one field value of ``wire_type``; returns the new position."""
    if wire_type == 0:
        return _varint(buf, pos, end)[1]
    if wire_type == 2:
        return _length(buf, pos, end)[1]
    if wire_type == 1:
        stop = pos + 8
    elif wire_type == 5:
        stop = pos + 4
    elif wire_type == 3:
        depth = 1
        while depth:
            key, pos = _varint(buf, pos, end)
            wt = key & 7
            if wt == 3:
                depth += 1
            elif wt == 4:
                depth -= 1
            else:
                pos = _skip(buf, pos, end, wt, key >> 3)
        return pos
    else:
        raise _ProtoError(f"illegal wireType {wire_type} for field {number}")
    if stop > end:
        raise _ProtoError("unexpected EOF")
    return stop


def _to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _convert_varint(kind: int, v: int) -> Any:
    if kind == _INT64:
        return v - (1 << 64) if v >> 63 else v
    if kind == _INT32:
        return _to_signed(v, 32)
    if kind == _BOOL:
        return v != 0
    if kind == _UINT32:
        return v & 0xFFFFFFFF
    if kind == _UINT64:
        return v
    if kind == _SINT32:
        v &= 0xFFFFFFFF
        return (v >> 1) ^ -(v & 1)
    return (v >> 1) ^ -(v & 1)  # _SINT64


def _scalar(kind: int, wire_type: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    """Read one scalar of ``kind`` (wire type already checked); returns (JSON value, position)."""
    if wire_type == 0:
        v, pos = _varint(buf, pos, end)
        return _convert_varint(kind, v), pos
    if wire_type == 2:
        start, stop = _length(buf, pos, end)
        if kind == _STRING:
            return buf[start:stop].decode("utf-8", "replace"), stop
        return base64.b64encode(buf[start:stop]).decode("ascii"), stop
    size = 8 if wire_type == 1 else 4
    if pos + size > end:
        raise _ProtoError("unexpected EOF")
    return struct.unpack_from(_FIXED_FORMAT[kind], buf, pos)[0], pos + size


def _check_wire(f: _Field, wire_type: int) -> None:
    if wire_type != f.wire_type and not (wire_type == 2 and f.repeated and f.wire_type in (0, 1, 5)):
        raise _ProtoError(f"wrong wireType = {wire_type} for field {f.name}")


# ---------------------------------------------------------------------------------------------
# Messages


def _message(msg: _Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    """Decode ``buf[pos:end]`` as ``msg`` and return its Go-JSON value."""
    if depth > MAX_DEPTH:
        raise _ProtoError("nesting too deep")
    if msg.special is not None:
        return _special(msg, buf, pos, end, depth)
    by_number = msg.by_number
    values: dict[int, Any] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number = key >> 3
        wire_type = key & 7
        if number <= 0:
            raise _ProtoError(f"{msg.name.rsplit('.', 1)[-1]}: illegal tag {number} (wire type {wire_type})")
        if wire_type == 4:
            raise _ProtoError(f"{msg.name.rsplit('.', 1)[-1]}: wiretype end group for non-group")
        f = by_number.get(number)
        if f is None:
            pos = _skip(buf, pos, end, wire_type, number)
            continue
        _check_wire(f, wire_type)
        kind = f.kind
        if f.map:
            start, pos = _length(buf, pos, end)
            k, v = _map_entry(f, buf, start, pos, depth)
            entries = values.get(number)
            if entries is None:
                values[number] = entries = {}
            entries[k] = v
        elif kind == _MESSAGE:
            start, pos = _length(buf, pos, end)
            if f.repeated:
                assert f.message is not None
                values.setdefault(number, []).append(_message(f.message, buf, start, pos, depth + 1))
            else:
                spans.setdefault(number, []).append((start, pos))
        elif f.repeated:
            items = values.get(number)
            if items is None:
                values[number] = items = []
            if wire_type == 2 and f.wire_type != 2:  # packed
                start, pos = _length(buf, pos, end)
                inner_wt = f.wire_type
                while start < pos:
                    v, start = _scalar(kind, inner_wt, buf, start, pos)
                    items.append(v)
            else:
                v, pos = _scalar(kind, wire_type, buf, pos, end)
                items.append(v)
        else:
            values[number], pos = _scalar(kind, wire_type, buf, pos, end)
    return _render(msg, buf, values, spans, depth)


def _sub(f: _Field, buf: bytes, spans: list[tuple[int, int]] | None, depth: int) -> Any:
    """Decode a singular message field from its occurrences (several occurrences merge)."""
    assert f.message is not None
    if not spans:
        return _message(f.message, b"", 0, 0, depth + 1)
    if len(spans) == 1:
        start, stop = spans[0]
        return _message(f.message, buf, start, stop, depth + 1)
    joined = b"".join(buf[a:b] for a, b in spans)
    return _message(f.message, joined, 0, len(joined), depth + 1)


def _render(msg: _Message, buf: bytes, values: dict[int, Any], spans: dict[int, list[tuple[int, int]]],
            depth: int) -> dict[str, Any]:
    """Apply Go ``encoding/json`` rules to the decoded fields."""
    out: dict[str, Any] = {}
    for f in msg.fields:
        if f.excluded:
            continue
        number = f.number
        if f.map or f.repeated:
            v = values.get(number)
            if not v:
                if not f.omitempty:
                    out[f.name] = None
                continue
            out[f.name] = v
        elif f.kind == _MESSAGE:
            s = spans.get(number)
            if s is None and f.pointer:
                if not f.omitempty and not f.inline:  # a nil embedded pointer prints nothing
                    out[f.name] = None
                continue
            v = _sub(f, buf, s, depth)
            if f.inline:
                if isinstance(v, dict):
                    out.update(v)
                continue
            assert f.message is not None
            if f.omitempty and not v and f.message.special == "list":
                continue  # a Go named slice type: omitempty applies
            out[f.name] = v
        elif number in values:
            v = values[number]
            if f.omitempty and not f.pointer and (v is None or v == "" or (v == 0 and v is not True)):
                continue
            out[f.name] = v
        elif f.pointer or f.omitempty:
            if not f.omitempty:
                out[f.name] = None
        else:
            out[f.name] = _ZERO[f.kind]
    return out


def _map_entry(f: _Field, buf: bytes, pos: int, end: int, depth: int) -> tuple[str, Any]:
    """Decode one ``{1: key, 2: value}`` map entry."""
    key: Any = None
    value: Any = None
    value_span: list[tuple[int, int]] = []
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number = tag >> 3
        wire_type = tag & 7
        if number == 1 and wire_type == _WIRE_TYPE[f.key_kind]:
            key, pos = _scalar(f.key_kind, wire_type, buf, pos, end)
        elif number == 2 and wire_type == f.value_wire_type:
            if f.kind == _MESSAGE:
                start, pos = _length(buf, pos, end)
                value_span.append((start, pos))
            else:
                value, pos = _scalar(f.kind, wire_type, buf, pos, end)
        elif number in (1, 2):
            raise _ProtoError(f"wrong wireType = {wire_type} for field {f.name}")
        else:
            pos = _skip(buf, pos, end, wire_type, number)
    if key is None:
        key = _ZERO[f.key_kind] if f.key_kind != _BYTES else ""
    if f.kind == _MESSAGE:
        value = _sub(f, buf, value_span, depth)
    elif value is None:
        value = _ZERO[f.kind] if f.kind != _BYTES else ""
    return key if isinstance(key, str) else str(key), value



# ---------------------------------------------------------------------------------------------
# apimachinery types with custom JSON


_QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")


def _scan(buf: bytes, pos: int, end: int, expected: dict[int, int]) -> list[tuple[int, int, Any]]:
    """Read the fields of a small fixed-shape message.

    ``expected`` maps field number → wire type; other numbers are skipped. Returns
    ``(number, wire type, value)`` with ints for varints and memoryview-able bytes for
    length-delimited values, in wire order.
    """
    out: list[tuple[int, int, Any]] = []
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        want = expected.get(number)
        if want is None:
            if number <= 0:
                raise _ProtoError(f"illegal tag {number} (wire type {wire_type})")
            pos = _skip(buf, pos, end, wire_type, number)
            continue
        if wire_type != want:
            raise _ProtoError(f"wrong wireType = {wire_type} for field {number}")
        if wire_type == 0:
            v, pos = _varint(buf, pos, end)
            out.append((number, 0, v))
        else:
            start, pos = _length(buf, pos, end)
            out.append((number, 2, buf[start:pos]))
    return out


def _last(fields: list[tuple[int, int, Any]], number: int, default: Any) -> Any:
    value = default
    for n, _wt, v in fields:
        if n == number:
            value = v
    return value


def _special(msg: _Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    special = msg.special
    if special == "time" or special == "microtime":
        if pos == end:
            return None  # Time.Unmarshal of no bytes: the zero time
        fields = _scan(buf, pos, end, {1: 0, 2: 0})
        seconds = _to_signed(_last(fields, 1, 0), 64)
        if special == "time":  # Time.Unmarshal drops nanos
            return None if seconds == _ZERO_TIME_SECONDS else _format_time(seconds, None)
        nanos = _to_signed(_last(fields, 2, 0), 32)
        micros = nanos // 1000 if nanos >= 0 else -(-nanos // 1000)  # Duration.Truncate: toward zero
        if seconds * 1_000_000 + micros == _ZERO_TIME_SECONDS * 1_000_000:
            return None
        return _format_time(seconds, micros)
    if special == "duration":
        return _go_duration(_to_signed(_last(_scan(buf, pos, end, {1: 0}), 1, 0), 64))
    if special == "quantity":
        fields = _scan(buf, pos, end, {1: 2})
        if not fields:
            return "0"
        text = bytes(_last(fields, 1, b"")).decode("utf-8", "replace")
        if not _QUANTITY_RE.match(text):
            raise _ProtoError(_QUANTITY_FORMAT)
        return text
    if special == "intorstring":
        fields = _scan(buf, pos, end, {1: 0, 2: 0, 3: 2})
        kind = _to_signed(_last(fields, 1, 0), 64)
        if kind == 0:
            return _to_signed(_last(fields, 2, 0), 32)
        if kind == 1:
            return bytes(_last(fields, 3, b"")).decode("utf-8", "replace")
        raise _ProtoError("impossible IntOrString.Type")
    if special == "rawjson":
        raw = _last(_scan(buf, pos, end, {1: 2}), 1, None)
        if not raw:
            return None
        raw = bytes(raw)
        if raw.startswith(MAGIC):
            return _decode_object(raw, "", "", depth + 1)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise _ProtoError(f"invalid JSON in {msg.name.rsplit('.', 1)[-1]}: {e}") from None
    if special == "list":
        items = [bytes(v).decode("utf-8", "replace") for _n, _wt, v in _scan(buf, pos, end, {1: 2})]
        return items or None
    raise _ProtoError(f"unsupported special type {special}")


def _format_time(seconds: int, micros: int | None) -> str:
    """RFC 3339 in UTC, as Go's ``time.RFC3339`` (``micros`` None) or apimachinery's ``RFC3339Micro``."""
    try:
        t = _EPOCH + timedelta(seconds=seconds, microseconds=micros or 0)
    except OverflowError:
        raise _ProtoError(f"time out of range: {seconds}s") from None
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{text}.{t.microsecond:06d}Z" if micros is not None else text + "Z"


def _frac(value: int, digits: int) -> str:
    """``value / 10**digits`` printed like Go's ``fmtFrac``+``fmtInt`` (no trailing zeros)."""
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def _go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` (``1h2m3.5s``, ``1.5µs``, ``0s``)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_frac(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_frac(u, 6)}ms"
    text = _frac(u % 60_000_000_000, 9) + "s"
    minutes = u // 60_000_000_000
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text

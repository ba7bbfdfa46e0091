#!/usr/bin/env python3
"""Generate ``src/kybernetes/api/protofields.json`` from Kubernetes ``generated.proto`` files.

The table drives :mod:`kybernetes.api.protobuf`, which turns ``application/vnd.kubernetes.protobuf``
request bodies into the JSON-shaped dicts the Go apiserver would produce.

Usage::

    python3 scripts/gen_protofields.py SRC_DIR [SRC_DIR ...] [-o OUT] [--label TEXT]

Each ``SRC_DIR`` is a checkout (or ``git archive`` extract) of ``k8s.io/api`` and/or
``k8s.io/apimachinery`` at the wanted release (v0.32.x for Kubernetes 1.32). The script walks
the directories for ``generated.proto`` files. Field numbers, proto types and ``repeated``/``map``
shapes come from the ``.proto`` files. The Go JSON facts that the ``.proto`` files cannot express
come from the Go structs next to each ``generated.proto`` (their ``json:"..."`` and
``protobuf:"..."`` struct tags, matched by field number):

* the JSON name (normally the proto field name),
* ``omitempty``,
* whether the Go field is a pointer (a present pointer is printed even when it holds a zero value;
  a value field is printed unless it is zero and ``omitempty``),
* inline embedding (``json:",inline"``: the nested message's fields are flattened into the parent),
* ``json:"-"`` (never printed).

When no Go struct is found for a message the script falls back to: JSON name = proto name,
``omitempty`` = the field comment carries ``+optional``, not a pointer.

Output format (compact JSON)::

    {"source": LABEL,
     "groups": {"apps/v1": "k8s.io.api.apps.v1", "v1": "k8s.io.api.core.v1", ...},
     "kinds": {"k8s.io.api.apps.v1": ["Deployment", "DeploymentList", ...], ...},
     "special": {"<message>": "time" | "microtime" | "duration" | "quantity" | "intorstring"
                              | "rawjson" | "list", ...},
     "messages": {"<message>": [[number, json_name, type, flags(, map_key_type)], ...]}}

``type`` is a proto scalar (``string``, ``int32``, ``bytes``, ...) or a full message name.
``flags`` letters: ``r`` repeated, ``m`` map (``type`` is the value type, the 5th element the key
type), ``p`` Go pointer, ``o`` omitempty, ``i`` inline, ``x`` excluded from JSON. Fields are
listed in Go struct order, which is the order Go's ``encoding/json`` prints them in.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Packages whose every message is a root of the table; the closure of referenced messages is added.
DEFAULT_PACKAGES = (
    "k8s.io.api.core.v1",
    "k8s.io.api.apps.v1",
    "k8s.io.api.batch.v1",
    "k8s.io.api.networking.v1",
    "k8s.io.api.rbac.v1",
    "k8s.io.api.policy.v1",
    "k8s.io.api.scheduling.v1",
    "k8s.io.api.autoscaling.v1",
    "k8s.io.api.autoscaling.v2",
    "k8s.io.api.coordination.v1",
    "k8s.io.api.discovery.v1",
    "k8s.io.api.storage.v1",
    "k8s.io.api.authentication.v1",
    "k8s.io.api.authorization.v1",
    # Other GA groups a 1.32 apiserver serves (kubectl certificate approve|deny sends a protobuf
    # CertificateSigningRequest).
    "k8s.io.api.certificates.v1",
    "k8s.io.api.events.v1",
    "k8s.io.api.node.v1",
    "k8s.io.api.admissionregistration.v1",
    "k8s.io.api.flowcontrol.v1",
    "k8s.io.apimachinery.pkg.apis.meta.v1",
    "k8s.io.apimachinery.pkg.runtime",
    "k8s.io.apimachinery.pkg.util.intstr",
    "k8s.io.apimachinery.pkg.api.resource",
)

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."

#: Types whose Go ``MarshalJSON`` does not follow the proto shape (cannot be derived from .proto).
SPECIAL = {
    _META + "Time": "time",
    _META + "MicroTime": "microtime",
    _META + "Duration": "duration",
    _META + "FieldsV1": "rawjson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "rawjson",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
}

SCALARS = frozenset({
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
})

_PACKAGE_RE = re.compile(r"^\s*package\s+([\w.]+)\s*;")
_MESSAGE_RE = re.compile(r"^message\s+(\w+)\s*\{")
_FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;")
_MAP_RE = re.compile(r"^\s*map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;")
_GO_STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*\{\s*$")
_GO_FIELD_RE = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
_GO_TAG_RE = re.compile(r'(\w+):"([^"]*)"')
_GO_TYPEMETA_RE = re.compile(r'^\s*(?:metav1\.|v1\.)?TypeMeta\s+`json:",inline"')
_GROUP_CONST_RE = re.compile(r'^\s*(?:const\s+)?GroupName\s*=\s*"([^"]*)"', re.M)
_GROUP_DOC_RE = re.compile(r"^//\s*\+groupName=([\w.-]*)\s*$", re.M)


@dataclass
class ProtoField:
    """One field of a ``.proto`` message."""

    number: int
    name: str
    type: str
    repeated: bool = False
    map_key: str | None = None
    optional_comment: bool = False


@dataclass
class ProtoMessage:
    """One ``.proto`` message with its comment markers."""

    name: str
    package: str
    fields: list[ProtoField] = field(default_factory=list)
    nullable: bool = False


@dataclass
class GoField:
    """One Go struct field that carries a ``protobuf`` tag."""

    go_name: str
    go_type: str
    embedded: bool
    json_tag: str | None
    number: int


def parse_proto(path: Path) -> list[ProtoMessage]:
    """Parse the messages of one ``generated.proto`` (top-level messages only, as k8s has)."""
    package = ""
    messages: list[ProtoMessage] = []
    current: ProtoMessage | None = None
    comments: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if m := _PACKAGE_RE.match(raw):
            package = m.group(1)
            continue
        if line.startswith("//"):
            comments.append(line[2:].strip())
            continue
        if not line:
            comments = []
            continue
        if current is None:
            if m := _MESSAGE_RE.match(line):
                current = ProtoMessage(m.group(1), package, nullable="+protobuf.nullable=true" in comments)
                messages.append(current)
            comments = []
            continue
        if line == "}":
            current = None
            comments = []
            continue
        optional = "+optional" in comments
        if m := _MAP_RE.match(raw):
            current.fields.append(ProtoField(int(m.group(4)), m.group(3), _resolve(m.group(2), package),
                                             map_key=_resolve(m.group(1), package),
                                             optional_comment=optional))
        elif m := _FIELD_RE.match(raw):
            current.fields.append(ProtoField(int(m.group(4)), m.group(3), _resolve(m.group(2), package),
                                             repeated=m.group(1) == "repeated", optional_comment=optional))
        elif line.startswith(("message ", "enum ", "oneof ")):
            raise SystemExit(f"{path}: nested declarations are not supported: {line}")
        comments = []
    return messages


def _resolve(type_name: str, package: str) -> str:
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        return type_name[1:]
    return f"{package}.{type_name}"


def parse_go_structs(directory: Path) -> tuple[dict[str, list[GoField]], set[str]]:
    """Struct name → fields with a ``protobuf`` tag, from the hand-written Go files of one package.

    Also returns the names of the structs that embed ``TypeMeta`` inline: the package's kinds.
    """
    structs: dict[str, list[GoField]] = {}
    kinds: set[str] = set()
    for path in sorted(directory.glob("*.go")):
        name = path.name
        if name.endswith("_test.go") or name.startswith("zz_generated") or name.startswith("generated."):
            continue
        if name.endswith("_swagger_doc_generated.go"):
            continue
        current: list[GoField] | None = None
        struct_name = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            if current is None:
                if m := _GO_STRUCT_RE.match(raw):
                    struct_name = m.group(1)
                    current = structs.setdefault(struct_name, [])
                continue
            if _GO_TYPEMETA_RE.match(raw):
                kinds.add(struct_name)
                continue
            if raw.startswith("}"):
                current = None
                continue
            stripped = raw.strip()
            if stripped.startswith("//"):
                continue
            m = _GO_FIELD_RE.match(raw)
            if not m:
                continue
            tags = dict(_GO_TAG_RE.findall(m.group(3)))
            pb = tags.get("protobuf")
            if not pb or pb == "-":
                continue
            parts = pb.split(",")
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            go_type = m.group(2)
            embedded = m.group(1) is None
            go_name = m.group(1) or go_type.lstrip("*").rsplit(".", 1)[-1]
            current.append(GoField(go_name, go_type, embedded, tags.get("json"), int(parts[1])))
    return structs, kinds


def read_group(directory: Path) -> str | None:
    """The API group of a package (``GroupName`` const in register.go, else ``+groupName`` in doc.go)."""
    register = directory / "register.go"
    if register.exists() and (m := _GROUP_CONST_RE.search(register.read_text(encoding="utf-8"))):
        return m.group(1)
    doc = directory / "doc.go"
    if doc.exists() and (m := _GROUP_DOC_RE.search(doc.read_text(encoding="utf-8"))):
        return m.group(1)
    return None


def field_entry(pf: ProtoField, go: GoField | None) -> list[object]:
    """The compact table row for one field."""
    flags = ""
    json_name = pf.name
    omitempty = pf.optional_comment
    pointer = False
    inline = False
    excluded = False
    if go is not None:
        pointer = go.go_type.startswith("*")
        if go.json_tag is None:
            json_name, omitempty = go.go_name, False
        else:
            tag_name, *options = go.json_tag.split(",")
            omitempty = "omitempty" in options
            if tag_name == "-" and not options:
                excluded = True
            elif tag_name:
                json_name = tag_name
            elif go.embedded:
                inline = True
            else:
                json_name = go.go_name
    if pf.repeated:
        flags += "r"
    if pf.map_key is not None:
        flags += "m"
    if pointer:
        flags += "p"
    if omitempty:
        flags += "o"
    if inline:
        flags += "i"
    if excluded:
        flags += "x"
    row: list[object] = [pf.number, json_name, pf.type, flags]
    if pf.map_key is not None:
        row.append(pf.map_key)
    return row


def build(sources: list[Path], packages: tuple[str, ...], label: str) -> dict[str, object]:
    """Parse every ``generated.proto`` under ``sources`` and build the table for ``packages``."""
    messages: dict[str, ProtoMessage] = {}
    go_by_package: dict[str, dict[str, list[GoField]]] = {}
    kinds_by_package: dict[str, set[str]] = {}
    groups: dict[str, str] = {}
    for source in sources:
        for proto in sorted(source.rglob("generated.proto")):
            parsed = parse_proto(proto)
            if not parsed:
                continue
            package = parsed[0].package
            for msg in parsed:
                messages[f"{package}.{msg.name}"] = msg
            go_by_package[package], kinds_by_package[package] = parse_go_structs(proto.parent)
            group = read_group(proto.parent)
            version = package.rsplit(".", 1)[-1]
            if group is not None and re.fullmatch(r"v\d+((alpha|beta)\d+)?", version):
                groups[f"{group}/{version}" if group else version] = package

    missing = [p for p in packages if not any(n.startswith(p + ".") for n in messages)]
    if missing:
        raise SystemExit(f"packages not found under {sources}: {missing}")

    todo = [n for n, m in messages.items() if m.package in packages]
    selected: set[str] = set()
    while todo:
        name = todo.pop()
        if name in selected:
            continue
        if name not in messages:
            raise SystemExit(f"unresolved message type {name}")
        selected.add(name)
        todo.extend(f.type for f in messages[name].fields if f.type not in SCALARS)

    table: dict[str, list[list[object]]] = {}
    special: dict[str, str] = {}
    for name in sorted(selected):
        msg = messages[name]
        go_fields = go_by_package.get(msg.package, {}).get(msg.name)
        by_number = {g.number: g for g in go_fields or ()}
        order = {g.number: i for i, g in enumerate(go_fields or ())}
        fields = sorted(msg.fields, key=lambda f: (order.get(f.number, len(order)), msg.fields.index(f)))
        table[name] = [field_entry(f, by_number.get(f.number)) for f in fields]
        if name in SPECIAL:
            special[name] = SPECIAL[name]
        elif msg.nullable and len(msg.fields) == 1 and msg.fields[0].repeated and msg.fields[0].name == "items":
            special[name] = "list"  # a Go named slice type (e.g. ExtraValue []string)
    wanted_groups = {gv: p for gv, p in sorted(groups.items()) if p in packages}
    kinds = {p: sorted(k for k in kinds_by_package.get(p, ()) if f"{p}.{k}" in table)
             for p in sorted(set(wanted_groups.values()))}
    return {"source": label, "groups": wanted_groups, "kinds": kinds, "special": special, "messages": table}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("sources", nargs="+", type=Path,
                        help="directories holding k8s.io/api and k8s.io/apimachinery sources")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent.parent / "src/kybernetes/api/protofields.json")
    parser.add_argument("--label", default="k8s.io/api+apimachinery v0.32.4",
                        help="free text recorded as the table's source")
    parser.add_argument("--package", action="append", dest="packages",
                        help="proto package to include (repeatable; default: the built-in list)")
    args = parser.parse_args(argv)
    for source in args.sources:
        if not source.is_dir():
            parser.error(f"not a directory: {source}")
    packages = tuple(args.packages) if args.packages else DEFAULT_PACKAGES
    table = build(args.sources, packages, args.label)
    text = json.dumps(table, separators=(",", ":"), sort_keys=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    messages = table["messages"]
    assert isinstance(messages, dict)
    print(f"wrote {args.output}: {len(messages)} messages, {len(text) / 1024:.1f} KB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

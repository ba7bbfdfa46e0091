"""Server-side field validation: the ``fieldValidation=Ignore|Warn|Strict`` query parameter.

Kubernetes decodes write bodies strictly unless told to ignore: fields the schema does not know and
keys repeated in one JSON/YAML object become *strict errors*. ``Strict`` (what kubectl sends for
create/apply/edit) fails the request, ``Warn`` (the default when the parameter is absent) returns
one ``Warning`` header per error, ``Ignore`` says nothing. Unknown fields are dropped in every mode
(the decoder never stores them): ``prune`` removes what ``unknown_fields`` reported.

Schema semantics follow both upstream paths: typed decoding for built-in kinds and structural
pruning for custom resources (``additionalProperties`` maps accept any key,
``x-kubernetes-preserve-unknown-fields`` keeps unknown keys but still checks known ones,
``x-kubernetes-embedded-resource`` objects and the root always allow ``apiVersion``/``kind`` and
check ``metadata`` against ObjectMeta, IntOrString/Quantity and free-form types are leaves).
Paths look like ``spec.template.spec.containers[0].imagePullPolice``.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kybernetes.api import errors
from kybernetes.api.errors import StatusError
from kybernetes.api.schema import REF_PREFIX, Schema, Schemas

if TYPE_CHECKING:  # imported where YAML bodies are checked
    import yaml

IGNORE, WARN, STRICT = "Ignore", "Warn", "Strict"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
#: Definitions that hold arbitrary JSON (no field is ever unknown below them).
_FREE_FORM = frozenset(("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "io.k8s.apimachinery.pkg.runtime.RawExtension",
                        _APIEXT + "JSON"))
#: "X or Y" definitions whose object form is a JSONSchemaProps.
_OR_PROPS = frozenset((_APIEXT + "JSONSchemaPropsOrArray", _APIEXT + "JSONSchemaPropsOrBool",
                       _APIEXT + "JSONSchemaPropsOrStringArray"))
_META_FIELDS = frozenset(("apiVersion", "kind", "metadata"))
_ANY, _OBJECT, _ARRAY, _LEAF, _PROPS_OR = range(5)
_YAML_PREFIX = "yaml: unmarshal errors:\n  "


class _Node:
    """A schema node reduced to what unknown-field detection needs."""

    __slots__ = ("embedded", "extra", "items", "kids", "kind", "preserve", "props")

    def __init__(self, kind: int, props: dict[str, Any] | None = None, extra: Any = None, items: Any = None,
                 preserve: bool = False, embedded: bool = False) -> None:
        # extra: the additionalProperties schema (dict), True for any value, None for none
        self.kind, self.props, self.extra, self.items = kind, props or {}, extra, items
        self.preserve, self.embedded = preserve, embedded
        self.kids: dict[str, _Node] = {}  # compiled nodes of the fields seen so far (by key)


_ANY_NODE = _Node(_ANY)
_LEAF_NODE = _Node(_LEAF)


class _Checker:
    """Compiles schema dicts of one ``Schemas`` on demand (memoized by identity) and walks objects."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self._cache: dict[int, tuple[Schema, _Node]] = {}

    def node(self, schema: Any) -> _Node:
        if not isinstance(schema, dict):
            return _ANY_NODE
        hit = self._cache.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        compiled = self._compile(schema)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[id(schema)] = (schema, compiled)
        return compiled

    def _compile(self, s: Schema) -> _Node:
        defs = self.schemas.definitions
        for _ in range(64):  # follow $ref and the allOf: [{$ref}] wrapper
            ref = s.get("$ref")
            if ref is None:
                all_of = s.get("allOf")
                if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
                    ref = all_of[0].get("$ref")
            if not isinstance(ref, str):
                break
            name = ref.rsplit("/", 1)[-1] if ref.startswith(("#/components/schemas/", REF_PREFIX)) else ref
            if name in _FREE_FORM:
                return _ANY_NODE
            if name in _OR_PROPS:
                return _Node(_PROPS_OR, items=defs.get(_APIEXT + "JSONSchemaProps"))
            target = defs.get(name)
            if not isinstance(target, dict):
                return _ANY_NODE
            s = target
        if s.get("x-kubernetes-int-or-string"):
            return _LEAF_NODE
        t = s.get("type")
        types = set(t) if isinstance(t, list) else {t}
        props, extra = s.get("properties"), s.get("additionalProperties")
        preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        if isinstance(props, dict) or "object" in types or extra is not None or embedded:
            return _Node(_OBJECT, props if isinstance(props, dict) else None,
                         extra if isinstance(extra, dict) or extra is True else None, None, preserve, embedded)
        if "array" in types or "items" in s:
            return _Node(_ARRAY, items=s.get("items"), preserve=preserve)
        return _ANY_NODE if t is None else _LEAF_NODE

    def walk(self, value: Any, node: _Node, path: str, out: list[str], root: bool = False) -> None:
        kind = node.kind
        if kind == _OBJECT:
            if type(value) is not dict:
                return
            props, extra, embedded = node.props, node.extra, node.embedded or root
            if not props and not embedded and (extra is True or (extra is not None and self.node(extra).kind in
                                                                 (_ANY, _LEAF))):
                return  # a map of scalars (labels, data, ...): every key is allowed, nothing below to check
            kids = node.kids
            for key, child_value in value.items():
                if embedded and key in _META_FIELDS:
                    if key == "metadata" and type(child_value) is dict:
                        meta = self.schemas.definitions.get(OBJECT_META)
                        if meta is not None:
                            self.walk(child_value, self.node(meta), f"{path}.metadata" if path else "metadata", out)
                    continue
                child = props.get(key)
                if child is None:
                    if extra is None:
                        if not node.preserve:
                            out.append(f"{path}.{key}" if path else key)
                        continue
                    if extra is True:
                        continue
                    child = extra
                ctype = type(child_value)
                if ctype is dict or ctype is list:
                    kid = kids.get(key)  # ``child`` is the same schema for a key of this node
                    if kid is None:
                        kid = self.node(child)
                        if len(kids) < 256:  # keys of free-form maps are unbounded
                            kids[key] = kid
                    if kid.kind != _ANY and kid.kind != _LEAF:  # nothing to check below those
                        self.walk(child_value, kid, f"{path}.{key}" if path else key, out)
        elif kind == _ARRAY:
            if type(value) is not list:
                return
            item = self.node(node.items)
            if item.kind in (_ANY, _LEAF):
                return
            for i, element in enumerate(value):
                etype = type(element)
                if etype is dict or etype is list:
                    self.walk(element, item, f"{path}[{i}]", out)
        elif kind == _PROPS_OR:
            target = self.node(node.items)
            if type(value) is dict:
                self.walk(value, target, path, out)
            elif type(value) is list:
                for i, element in enumerate(value):
                    if type(element) is dict:
                        self.walk(element, target, f"{path}[{i}]", out)


_checkers: weakref.WeakKeyDictionary[Schemas, _Checker] = weakref.WeakKeyDictionary()


def unknown_fields(obj: Any, schema_root: Schema | None, schemas: Schemas) -> list[str]:
    """Paths of fields in ``obj`` that ``schema_root`` (a kind's definition) does not declare.

    Document order, like the typed decoder (custom resources' pruning reports them sorted: sort
    the result for those). No schema at all means nothing can be called unknown.
    """
    if schema_root is None:
        return []
    checker = _checkers.get(schemas)
    if checker is None:
        checker = _checkers[schemas] = _Checker(schemas)
    out: list[str] = []
    checker.walk(obj, checker.node(schema_root), "", out, root=True)
    return out


def prune(obj: Any, paths: Iterable[str]) -> None:
    """Remove the fields at ``paths`` (as returned by ``unknown_fields``) from ``obj`` in place."""
    targets = set(paths)
    if not targets:
        return
    prefixes = {p[:i] for p in targets for i, ch in enumerate(p) if ch in ".["}
    _prune(obj, "", targets, prefixes)


def _prune(value: Any, path: str, targets: set[str], prefixes: set[str]) -> None:
    if type(value) is dict:
        for key in list(value):
            child = f"{path}.{key}" if path else key
            if child in targets:
                del value[key]
            elif child in prefixes:
                _prune(value[key], child, targets, prefixes)
    elif type(value) is list:
        for i, element in enumerate(value):
            child = f"{path}[{i}]"
            if child in prefixes:
                _prune(element, child, targets, prefixes)


# --- duplicate keys ------------------------------------------------------------------------------
class _Duplicate(Exception):
    """Raised by the fast parse as soon as one object repeats a key."""


def _unique_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    built = dict(pairs)
    if len(built) != len(pairs):
        raise _Duplicate
    return built


class _Pairs(list[tuple[str, Any]]):
    """A JSON object kept as its key/value pairs (so repeated keys survive parsing)."""


def _json_duplicates(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, child in value:
            child_path = f"{path}.{key}" if path else key
            if key in seen:
                out.append(f"duplicate field {go_quote(child_path)}")
            seen.add(key)
            _json_duplicates(child, child_path, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _json_duplicates(child, f"{path}[{i}]", out)


def _yaml_key(node: yaml.Node) -> str:
    """A map key as go-yaml's ``%#v`` prints it: quoted strings, bare numbers and booleans."""
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return go_quote(node.value) if node.tag.endswith(":str") else "<nil>" if node.tag.endswith(":null") else node.value


def _yaml_duplicates(node: yaml.Node, out: list[str]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[tuple[str, str]] = set()
        for key_node, value_node in node.value:
            _yaml_duplicates(value_node, out)
            key = (key_node.tag, str(key_node.value))
            if key in seen:
                out.append(f"line {value_node.start_mark.line + 1}: key {_yaml_key(key_node)} already set in map")
            seen.add(key)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _yaml_duplicates(child, out)


_UNIQUE_KEYS = json.JSONDecoder(object_pairs_hook=_unique_dict)  # stateless: one for every call


def _has_json_duplicate(raw_body: bytes) -> bool:
    try:  # what json.loads(raw_body, object_pairs_hook=_unique_dict) does, without a new decoder each time
        _UNIQUE_KEYS.decode(raw_body.decode(json.detect_encoding(raw_body), "surrogatepass"))
    except _Duplicate:
        return True
    except ValueError:
        pass
    return False


def duplicate_fields(raw_body: bytes, content_type: str = "application/json") -> list[str]:
    """Strict errors for keys repeated within one object of the request body.

    JSON bodies give one ``duplicate field "metadata.name"`` per repeat. YAML bodies (any content
    type containing ``yaml``, also apply patches, which upstream always reads as YAML) give one
    combined ``yaml: unmarshal errors:\\n  line 5: key "name" already set in map`` error, as
    go-yaml reports them. Unparsable bodies give ``[]``: decoding reports those itself.
    """
    is_json = raw_body.lstrip()[:1] == b"{"
    if is_json and not _has_json_duplicate(raw_body):
        return []  # the common case: one C-speed parse, no repeated key anywhere
    if "yaml" in content_type:
        import yaml

        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            root = yaml.compose(raw_body, Loader=loader)
        except yaml.YAMLError:
            return []
        found: list[str] = []
        if root is not None:
            _yaml_duplicates(root, found)
        return [_YAML_PREFIX + "\n  ".join(found)] if found else []
    if not is_json:
        return []
    out: list[str] = []
    _json_duplicates(json.loads(raw_body, object_pairs_hook=_Pairs), "", out)
    return out


# --- messages ------------------------------------------------------------------------------------
_GO_ESCAPES = {**{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)},
               **{ord(c): "\\" + e for c, e in zip('"\\\a\b\f\n\r\t\v', '"\\abfnrtv', strict=True)}}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (for ASCII controls), as used for field paths in strict errors."""
    return '"' + text.translate(_GO_ESCAPES) + '"'


def strict_errors(paths: Iterable[str], duplicates: Iterable[str] = ()) -> list[str]:
    """The individual strict decoding errors: duplicates first, then ``unknown field "<path>"``."""
    return [*duplicates, *(f"unknown field {go_quote(p)}" for p in paths)]


def strict_message(paths: Iterable[str], duplicates: Iterable[str] = ()) -> str:
    return "strict decoding error: " + ", ".join(strict_errors(paths, duplicates))


def strict_error(paths: Iterable[str], duplicates: Iterable[str] = (), *, kind: str = "",
                 version: str = "") -> StatusError:
    """400 for a create/update body under ``Strict``.

    With ``kind``/``version`` (the body's) the message carries the decoder's prefix, exactly as
    the apiserver words it: ``Deployment in version "v1" cannot be handled as a Deployment:
    strict decoding error: unknown field "spec.foo"``.
    """
    message = strict_message(paths, duplicates)
    if kind:
        message = f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {message}"
    return errors.bad_request(message)


def patch_strict_error(paths: Iterable[str], duplicates: Iterable[str], value: str) -> StatusError:
    """422 for a json/merge/strategic patch under ``Strict`` (upstream wraps it as ``patch: Invalid value``).

    ``value`` is what upstream shows: the patched object's JSON for json/merge patches, the
    patch rendered by ``go_value`` for strategic merge patches.
    """
    return errors.invalid_object("", "", "", [errors.invalid("patch", value, strict_message(paths, duplicates))])


def apply_strict_error(duplicates: Sequence[str]) -> StatusError:
    """400 for a server-side apply body with repeated keys (``duplicate_fields(body, "yaml")``)."""
    return errors.bad_request("error strict decoding YAML: " + ", ".join(duplicates))


def warnings(paths: Iterable[str], duplicates: Iterable[str] = ()) -> list[str]:
    """``Warn`` mode: one ``Warning`` header text per strict error (YAML errors split per line)."""
    out: list[str] = []
    for err in strict_errors(paths, duplicates):
        if err.startswith(_YAML_PREFIX):
            out.extend(line.strip() for line in err[len(_YAML_PREFIX):].split("\n"))
        else:
            out.append(err)
    return out


def json_patch_unknown_fields(operations: Any) -> list[str]:
    """Strict errors for unknown keys in JSON Patch operations (``json patch unknown field "[0].pathh"``)."""
    out: list[str] = []
    if isinstance(operations, list):
        for i, op in enumerate(operations):
            if isinstance(op, dict):
                out.extend(f"json patch unknown field {go_quote(f'[{i}].{k}')}" for k in op
                           if k not in ("op", "path", "from", "value"))
    return out


def parse_directive(value: str | None, options_kind: str = "CreateOptions") -> str:
    """The effective directive of a ``fieldValidation`` query value (absent → ``Warn``).

    Anything but ``Ignore``/``Warn``/``Strict`` is rejected with 422 like the apiserver does
    (``CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: …``).
    """
    if not value:
        return WARN
    if value in (IGNORE, WARN, STRICT):
        return value
    raise errors.invalid_object(options_kind, "meta.k8s.io", "", [
        errors.not_supported("fieldValidation", value, ["", IGNORE, STRICT, WARN])])

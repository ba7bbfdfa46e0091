"""Generic validation helpers shared by all kinds: names, labels, annotations, ObjectMeta.

Messages follow apimachinery's validation package word for word, because users search for them.
Kind-specific validation lives in the kind's strategy and calls these.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(f"^{_LABEL}$")
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_C_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_VAR_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_CONFIG_MAP_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")

DNS1123_LABEL_ERR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                     "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_ERR = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                         "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                         "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                         "[a-z0-9])?)*')")
DNS1035_LABEL_ERR = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
                     "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QUALIFIED_NAME_ERR = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                      "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                      "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_ERR = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
                   "[A-Za-z0-9])?')")


def is_dns1123_label(value: str) -> list[str]:
    msgs = []
    if len(value) > DNS1123_LABEL_MAX:
        msgs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL_RE.match(value):
        msgs.append(DNS1123_LABEL_ERR)
    return msgs


def is_dns1123_subdomain(value: str) -> list[str]:
    msgs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        msgs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        msgs.append(DNS1123_SUBDOMAIN_ERR)
    return msgs


def is_dns1035_label(value: str) -> list[str]:
    msgs = []
    if len(value) > DNS1123_LABEL_MAX:
        msgs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1035_LABEL_RE.match(value):
        msgs.append(DNS1035_LABEL_ERR)
    return msgs


def is_qualified_name(value: str) -> list[str]:
    """Label/annotation keys: optional DNS subdomain prefix + '/' + name part of ≤63 chars."""
    msgs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            msgs.append("prefix part must be non-empty")
        else:
            msgs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                "prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        msgs.append("name part must be non-empty")
    elif len(name) > 63:
        msgs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME_RE.match(name):
        msgs.append(QUALIFIED_NAME_ERR)
    return msgs


def is_label_value(value: str) -> list[str]:
    msgs = []
    if len(value) > 63:
        msgs.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        msgs.append(LABEL_VALUE_ERR)
    return msgs


def is_c_identifier(value: str) -> bool:
    return bool(_C_IDENTIFIER_RE.match(value))


def is_env_var_name(value: str) -> list[str]:
    if _ENV_VAR_NAME_RE.match(value):
        return []
    return ["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
            "and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex "
            "used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"]


def is_config_map_key(value: str) -> list[str]:
    msgs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        msgs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _CONFIG_MAP_KEY_RE.match(value):
        msgs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    if value in (".", ".."):
        msgs.append(f"must not be '{value}'")
    elif value.startswith(".."):
        msgs.append("must not start with '..'")
    return msgs


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [errors.invalid(path, labels, "must be a map of string keys to string values")]
    for k, v in labels.items():
        for m in is_qualified_name(k):
            errs.append(errors.invalid(path, k, m))
        if not isinstance(v, str):
            errs.append(errors.invalid(f"{path}.{k}", v, "must be a string"))
            continue
        for m in is_label_value(v):
            errs.append(errors.invalid(path, v, m))
    return errs


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if annotations is None:
        return errs
    if not isinstance(annotations, dict):
        return [errors.invalid(path, annotations, "must be a map of string keys to string values")]
    total = 0
    for k, v in annotations.items():
        for m in is_qualified_name(k.lower()):
            errs.append(errors.invalid(path, k, m))
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(errors.too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


NameValidator = Any  # Callable[[str], list[str]]


def validate_object_meta(obj: dict[str, Any], namespaced: bool, name_validator: Any = is_dns1123_subdomain,
                         path: str = "metadata") -> list[FieldError]:
    """The generic ObjectMeta checks of ``ValidateObjectMeta`` (name, namespace, labels, annotations)."""
    md = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = md.get("name", "")
    if not name and not md.get("generateName"):
        errs.append(errors.required(f"{path}.name", "name or generateName is required"))
    elif name:
        for m in name_validator(name):
            errs.append(errors.invalid(f"{path}.name", name, m))
    ns = md.get("namespace", "")
    if namespaced:
        if not ns:
            errs.append(errors.required(f"{path}.namespace", ""))
        else:
            for m in is_dns1123_label(ns):
                errs.append(errors.invalid(f"{path}.namespace", ns, m))
    elif ns:
        errs.append(errors.forbidden(f"{path}.namespace", "not allowed on this type"))
    errs.extend(validate_labels(md.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(md.get("annotations"), f"{path}.annotations"))
    for i, ref in enumerate(md.get("ownerReferences") or []):
        p = f"{path}.ownerReferences[{i}]"
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                errs.append(errors.invalid(f"{p}.{f}", ref.get(f, ""), f"{f} must not be empty"))
    controllers = [r for r in md.get("ownerReferences") or [] if r.get("controller")]
    if len(controllers) > 1:
        errs.append(errors.invalid(f"{path}.ownerReferences", md.get("ownerReferences"),
                                   "Only one reference can have Controller set to true"))
    for i, f in enumerate(md.get("finalizers") or []):
        if "/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(errors.invalid(f"{path}.finalizers[{i}]", f, "name is neither a standard finalizer name "
                                       "nor is it fully qualified"))
        else:
            for m in is_qualified_name(f):
                errs.append(errors.invalid(f"{path}.finalizers[{i}]", f, m))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any],
                                path: str = "metadata") -> list[FieldError]:
    """Immutable metadata (``ValidateObjectMetaUpdate``): name, namespace, uid, creationTimestamp."""
    nm, om = new.get("metadata") or {}, old.get("metadata") or {}
    errs: list[FieldError] = []
    for f in ("name", "namespace", "uid", "creationTimestamp"):
        if nm.get(f) != om.get(f):
            errs.append(errors.invalid(f"{path}.{f}", nm.get(f), "field is immutable"))
    return errs


def immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    """``field is immutable`` if the values differ (the common immutability check)."""
    if new != old:
        return [errors.invalid(path, new, "field is immutable")]
    return []

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


# --- Helpers for kinds' own validation (path segments, ports, selectors, IPs) -------------------

_WILDCARD_DNS1123_FMT = r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_DNS1123_RE = re.compile(f"^{_WILDCARD_DNS1123_FMT}$")
WILDCARD_DNS1123_ERR = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                        "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                        "alphanumeric character (e.g. '*.example.com', regex used for validation is "
                        f"'{_WILDCARD_DNS1123_FMT}')")
_PORT_NAME_CHARSET_RE = re.compile(r"^[-a-z0-9]+$")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile(f"^{_HTTP_PATH_FMT}$")


def is_path_segment_name(value: str) -> list[str]:
    """``path.IsValidPathSegmentName``: the lenient name rule (RBAC objects, e.g. ``system:node``)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    msgs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        msgs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _WILDCARD_DNS1123_RE.match(value):
        msgs.append(WILDCARD_DNS1123_ERR)
    return msgs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(port: str) -> list[str]:
    """``IsValidPortName``: at most 15 of [-a-z0-9], one letter at least, no edge or double hyphens."""
    msgs = []
    if len(port) > 15:
        msgs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARSET_RE.match(port):
        msgs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        msgs.append("must contain at least one letter (a-z)")
    if "--" in port:
        msgs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        msgs.append("must not begin or end with a hyphen")
    return msgs


def validate_domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    """``IsDomainPrefixedPath`` (``acme.io/foo``), e.g. an IngressClass controller."""
    if not value:
        return [errors.required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [errors.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [errors.invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.match(rest):
        errs.append(errors.invalid(path, rest, f"Invalid path (regex used for validation is '{_HTTP_PATH_FMT}')"))
    return errs


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """``metav1validation.ValidateLabelSelector``: matchLabels as labels, matchExpressions' operators."""
    if not isinstance(selector, dict):
        return []
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(errors.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(errors.forbidden(f"{p}.values",
                                             "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(errors.invalid(f"{p}.operator", op, "not a valid selector operator"))
        key = expr.get("key") or ""
        errs.extend(errors.invalid(f"{p}.key", key, m) for m in is_qualified_name(key))
        for j, v in enumerate(values):
            errs.extend(errors.invalid(f"{p}.values[{j}]", v, m) for m in is_label_value(str(v)))
    return errs


def validate_ip(value: str, path: str, family: int = 0) -> list[FieldError]:
    """``IsValidIP`` / ``IsValidIPv4Address`` / ``IsValidIPv6Address`` (``family`` 0, 4 or 6)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        ip = None
    if family == 4 and (ip is None or ip.version != 4):
        return [errors.invalid(path, value, "must be a valid IPv4 address")]
    if family == 6 and (ip is None or ip.version != 6):
        return [errors.invalid(path, value, "must be a valid IPv6 address")]
    if ip is None:
        return [errors.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def validate_cidr(value: str, path: str) -> list[FieldError]:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [errors.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


# --- Go-rendered bad values and int-or-percent rules (workload kinds) ------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


class GoValue:
    """A bad value already rendered the way apimachinery prints it (Go ``%#v``).

    ``FieldError`` shows ``str()`` of values that are not JSON scalars verbatim, so passing
    ``GoValue('map[string]string{"app":"web"}')`` reproduces Kubernetes' message exactly.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"GoValue({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoValue) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def go_quote(value: str) -> str:
    """Go's ``strconv.Quote``."""
    out = ['"']
    for ch in value:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_string_map(value: Any) -> GoValue:
    """``map[string]string{"a":"b", "c":"d"}`` (keys sorted), ``map[string]string(nil)`` for nil."""
    if not isinstance(value, dict):
        return GoValue("map[string]string(nil)")
    body = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return GoValue("map[string]string{" + body + "}")


def go_int_or_string(value: Any) -> GoValue:
    """``intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}`` (its String method needs a pointer)."""
    if isinstance(value, str):
        return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")
    number = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return GoValue(f'intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:""}}')


def go_label_selector(selector: Any) -> GoValue:
    """A ``metav1.LabelSelector`` as ``v1.LabelSelector{MatchLabels:…, MatchExpressions:…}``."""
    if not isinstance(selector, dict):
        return GoValue("null")
    labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    if isinstance(exprs, list):
        items = []
        for e in exprs:
            e = e if isinstance(e, dict) else {}
            values = e.get("values")
            vals = ("[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}"
                    if isinstance(values, list) else "[]string(nil)")
            items.append(f"v1.LabelSelectorRequirement{{Key:{go_quote(str(e.get('key') or ''))}, "
                         f"Operator:{go_quote(str(e.get('operator') or ''))}, Values:{vals}}}")
        exprs_text = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{go_string_map(labels)}, MatchExpressions:{exprs_text}}}")


NEGATIVE_ERR = "must be greater than or equal to 0"
PERCENT_ERR = ("a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
               "'93%', regex used for validation is '[0-9]+%')")
_PERCENT_RE = re.compile(r"^[0-9]+%$")


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    """``ValidateNonnegativeField`` for an optional integer field."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [errors.invalid(path, value, NEGATIVE_ERR)]
    return []


def is_valid_percent(value: str) -> list[str]:
    return [] if _PERCENT_RE.match(value) else [PERCENT_ERR]


def validate_positive_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """apps ``ValidatePositiveIntOrPercent``: a non-negative integer or a ``N%`` string."""
    if isinstance(value, str):
        return [errors.invalid(path, go_int_or_string(value), m) for m in is_valid_percent(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        return validate_nonnegative(value, path)
    return [errors.invalid(path, go_int_or_string(value), "must be an integer or percentage (e.g '5%%')")]


def int_or_percent_value(value: Any) -> int:
    """The number of an int-or-string (``25%`` → 25, ``"3"`` → 3, junk → 0)."""
    if isinstance(value, str):
        text = value[:-1] if _PERCENT_RE.match(value) else value
        try:
            return int(text)
        except ValueError:
            return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def validate_not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    """apps ``IsNotMoreThan100Percent``."""
    if isinstance(value, str) and _PERCENT_RE.match(value) and int(value[:-1]) > 100:
        return [errors.invalid(path, go_int_or_string(value), "must not be greater than 100%")]
    return []


# --- resource.Quantity: parsing, canonical form, comparisons (PodSpec resources, quotas, PVs) -------

QUANTITY_ERR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_QUANTITY_NUMBER_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_QUANTITY_EXPONENT_RE = re.compile(r"^[eE][+-]?[0-9]+$")
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {v: k for k, v in _DECIMAL_SUFFIXES.items()}


def parse_quantity(value: Any) -> tuple[Any, str] | None:
    """``resource.ParseQuantity``: ``(Fraction value, format)`` or ``None`` when malformed.

    ``format`` is ``BinarySI`` (Ki…Ei), ``DecimalExponent`` (``1e3``) or ``DecimalSI``; JSON numbers
    are accepted like the Go decoder does. Precision below 10⁻⁹ rounds up, as in Kubernetes.
    """
    from fractions import Fraction

    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        return None
    m = _QUANTITY_NUMBER_RE.match(value.strip())
    if not m:
        return None
    number, suffix = m.group(1), m.group(2)
    amount = Fraction(number.lstrip("+"))
    if suffix in _BINARY_SUFFIXES:
        fmt, amount = "BinarySI", amount * 1024 ** _BINARY_SUFFIXES[suffix]
    elif suffix in _DECIMAL_SUFFIXES:
        fmt, amount = "DecimalSI", amount * Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
    elif _QUANTITY_EXPONENT_RE.match(suffix):
        fmt, amount = "DecimalExponent", amount * Fraction(10) ** int(suffix[1:])
    else:
        return None
    return round_quantity_up(amount, 9), fmt


def round_quantity_up(amount: Any, digits: int) -> Any:
    """Round away from zero to ``digits`` decimal places (``Quantity.RoundUp(-digits)``)."""
    import math
    from fractions import Fraction

    scaled = amount * 10 ** digits
    if scaled.denominator == 1:
        return amount
    rounded = math.ceil(abs(scaled)) * (1 if scaled > 0 else -1)
    return Fraction(rounded, 10 ** digits)


def format_quantity(amount: Any, fmt: str) -> str:
    """``Quantity.String()``: the canonical form (``1500m``, ``1536Mi``, ``1k``, ``129e6``)."""
    from fractions import Fraction

    amount = Fraction(amount)
    if amount == 0:
        return "0"
    if fmt == "BinarySI" and (-1024 < amount < 1024 or amount.denominator != 1):
        fmt = "DecimalSI"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if fmt == "BinarySI":
        number, exp = int(amount), 0
        while number % 1024 == 0 and exp < 6:
            number, exp = number // 1024, exp + 1
        return f"{sign}{number}{['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][exp]}"
    exponent = 0
    while amount.denominator != 1:
        amount, exponent = amount * 10, exponent - 1
    number = int(amount)
    while number % 10 == 0:
        number, exponent = number // 10, exponent + 1
    shift = exponent % 3
    number, exponent = number * 10 ** shift, exponent - shift
    if fmt == "DecimalSI" and exponent in _DECIMAL_BY_EXPONENT:
        return f"{sign}{number}{_DECIMAL_BY_EXPONENT[exponent]}"
    return f"{sign}{number}e{exponent}" if exponent else f"{sign}{number}"


def canonical_quantity(value: Any, round_milli: bool = False) -> Any:
    """The canonical string of a quantity; malformed values come back unchanged (validation reports them).

    ``round_milli`` applies ``SetDefaults_ResourceList`` (resource lists round up to 0.001).
    """
    parsed = parse_quantity(value)
    if parsed is None:
        return value
    amount, fmt = parsed
    if round_milli:
        amount = round_quantity_up(amount, 3)
    return format_quantity(amount, fmt)


def canonicalize_resource_list(resources: Any, round_milli: bool = True) -> None:
    """Canonicalise every quantity of a ``ResourceList`` in place."""
    if isinstance(resources, dict):
        for key, value in list(resources.items()):
            resources[key] = canonical_quantity(value, round_milli)


def quantity_value(value: Any) -> Any:
    """The numeric value (``Fraction``) of a quantity, ``None`` when malformed."""
    parsed = parse_quantity(value)
    return parsed[0] if parsed is not None else None


def validate_quantity(value: Any, path: str) -> list[FieldError]:
    """A malformed quantity (Kubernetes rejects it while decoding the body)."""
    if parse_quantity(value) is None:
        return [errors.invalid(path, value if isinstance(value, str) else GoValue(str(value)), QUANTITY_ERR)]
    return []


def validate_nonnegative_quantity(value: Any, path: str) -> list[FieldError]:
    """``ValidateNonnegativeQuantity`` (bad value is ``quantity.String()``)."""
    amount = quantity_value(value)
    if amount is None:
        return validate_quantity(value, path)
    if amount < 0:
        return [errors.invalid(path, canonical_quantity(value), NEGATIVE_ERR)]
    return []


def validate_dns1123_label(value: str, path: str) -> list[FieldError]:
    """``ValidateDNS1123Label``: one Invalid per message."""
    return [errors.invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> list[FieldError]:
    return [errors.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def validate_qualified_name(value: str, path: str) -> list[FieldError]:
    """``ValidateQualifiedName`` / ``ValidateLabelName``."""
    return [errors.invalid(path, value, m) for m in is_qualified_name(value)]


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"

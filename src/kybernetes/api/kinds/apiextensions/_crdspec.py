"""``ValidateCustomResourceDefinition`` for apiextensions.k8s.io/v1 objects.

Kubernetes validates the internal form of a CRD: when every version carries the same schema,
subresources or printer columns, v1→internal conversion lifts them to ``spec.validation``,
``spec.subresources`` and ``spec.additionalPrinterColumns``, so those are the paths its errors
name; otherwise they name ``spec.versions[i]...``. This module reproduces that, and the
internal names of the conversion fields (``spec.conversion.webhookClientConfig``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apiextensions import structural

SCOPES = ["Cluster", "Namespaced"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_SELECTABLE_FIELDS = 8
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
_APPROVAL_HELP = "see https://github.com/kubernetes/enhancements/pull/1111"


def _dns1035(value: str, path: str) -> list[FieldError]:
    msgs = validation.is_dns1035_label(value)
    return [errors.invalid(path, value, ",".join(msgs))] if msgs else []


def validate_names(names: dict[str, Any], path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionNames`` (spec.names and status.acceptedNames)."""
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        if names.get(key):
            errs.extend(_dns1035(names[key], f"{path}.{key}"))
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        msgs = validation.is_dns1035_label(value.lower())
        if value and msgs:
            errs.append(errors.invalid(f"{path}.{key}", value,
                                       "may have mixed case, but should otherwise match: " + ",".join(msgs)))
    for i, short in enumerate(names.get("shortNames") or []):
        errs.extend(_dns1035(short, f"{path}.shortNames[{i}]"))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(errors.invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for i, category in enumerate(names.get("categories") or []):
        errs.extend(_dns1035(category, f"{path}.categories[{i}]"))
    return errs


def _simple_json_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [errors.invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [errors.invalid(path, value, "must be a simple json path starting with .")]
    return []


def validate_subresources(sub: Any, path: str) -> list[FieldError]:
    scale = (sub or {}).get("scale") if isinstance(sub, dict) else None
    if not isinstance(scale, dict):
        return []
    errs: list[FieldError] = []
    for key, prefix in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value, p = scale.get(key) or "", f"{path}.scale.{key}"
        if not value:
            errs.append(errors.required(p))
            continue
        bad = _simple_json_path(value, p)
        if not bad and not value.startswith(prefix):
            bad = [errors.invalid(p, value, f"should be a json path under {prefix[:-1]}")]
        errs.extend(bad)
    selector = scale.get("labelSelectorPath") or ""
    if selector:
        p = f"{path}.scale.labelSelectorPath"
        bad = _simple_json_path(selector, p)
        if not bad and not selector.startswith((".spec.", ".status.")):
            bad = [errors.invalid(p, selector, "should be a json path under either .spec or .status")]
        errs.extend(bad)
    return errs


def validate_column(col: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(errors.required(f"{path}.name"))
    ctype, detail = col.get("type") or "", "must be one of " + ",".join(COLUMN_TYPES)
    if not ctype:
        errs.append(errors.required(f"{path}.type", detail))
    elif ctype not in COLUMN_TYPES:
        errs.append(errors.invalid(f"{path}.type", ctype, detail))
    fmt = col.get("format") or ""
    if fmt and fmt not in COLUMN_FORMATS:
        errs.append(errors.invalid(f"{path}.format", fmt, "must be one of " + ",".join(COLUMN_FORMATS)))
    json_path = col.get("jsonPath") or ""
    if not json_path:
        errs.append(errors.required(f"{path}.JSONPath"))
    else:
        errs.extend(_simple_json_path(json_path, f"{path}.JSONPath"))
    return errs


def _validate_selectable_fields(fields: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, field in enumerate(fields):
        value = (field or {}).get("jsonPath") or ""
        p = f"{path}[{i}].jsonPath"
        if not value:
            errs.append(errors.required(p))
            continue
        if value == ".metadata" or value.startswith(".metadata."):
            errs.append(errors.invalid(p, value, "must not point to fields in metadata"))
        if value in seen:
            errs.append(errors.duplicate(p, value))
        seen.add(value)
    if len(seen) > MAX_SELECTABLE_FIELDS:
        errs.append(FieldError(path, "FieldValueTooMany", f"must have at most {MAX_SELECTABLE_FIELDS} items",
                               len(seen), True))
    return errs


def _deprecation_errors(version: dict[str, Any], path: str) -> list[FieldError]:
    warning = version.get("deprecationWarning")
    if warning is None:
        return []
    p = f"{path}.deprecationWarning"
    if not version.get("deprecated"):
        return [errors.invalid(p, warning, "can only be set for deprecated versions")]
    errs = []
    if len(warning) > 256:
        errs.append(errors.invalid(p, warning, "must be <= 256 characters long"))
    if not warning:
        errs.append(errors.invalid(p, warning, "must not be an empty string"))
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            errs.append(errors.invalid(p, warning, "must only contain printable UTF-8 characters; non-printable "
                                                   f"character found at index {i}"))
            break
    return errs


def _lifted(versions: list[dict[str, Any]], key: str) -> Any:
    """The value every version shares for ``key`` (what conversion lifts to the spec), else None."""
    if not versions:
        return None
    first = versions[0].get(key)
    if key == "additionalPrinterColumns" and not first:
        return None
    return first if all(v.get(key) == first for v in versions) else None


def _status_enabled(sub: Any) -> bool:
    return isinstance(sub, dict) and sub.get("status") is not None


def _schema_errors(schema_holder: Any, path: str, status_enabled: bool) -> list[FieldError]:
    schema = (schema_holder or {}).get("openAPIV3Schema") if isinstance(schema_holder, dict) else None
    if not isinstance(schema, dict):
        return []
    return structural.validate_schema(schema, f"{path}.openAPIV3Schema", status_enabled)


def _has(schema_holder: Any, predicate: Callable[[dict[str, Any]], bool]) -> bool:
    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return predicate(node) or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False
    return walk((schema_holder or {}).get("openAPIV3Schema") if isinstance(schema_holder, dict) else None)


def validate_versions(spec: dict[str, Any], path: str = "spec") -> tuple[list[FieldError], list[FieldError]]:
    """Errors of the versions (per version, then uniqueness and storage) and, separately, of what
    is shared by all versions (reported after the names, like Kubernetes' top-level fields)."""
    versions = [v if isinstance(v, dict) else {} for v in spec.get("versions") or []]
    lifted_schema, lifted_sub = _lifted(versions, "schema"), _lifted(versions, "subresources")
    lifted_cols = _lifted(versions, "additionalPrinterColumns")
    errs: list[FieldError] = []
    if lifted_schema is None:
        errs.extend(errors.required(f"{path}.versions[{i}].schema.openAPIV3Schema", "schemas are required")
                    for i, v in enumerate(versions)
                    if not isinstance(v.get("schema"), dict) or v["schema"].get("openAPIV3Schema") is None)
    if spec.get("preserveUnknownFields") and any(_has(v.get("schema"), lambda n: "default" in n) for v in versions):
        errs.append(errors.invalid(f"{path}.preserveUnknownFields", True,
                                   "must be false in order to use defaults in the schema"))
    names = [v.get("name", "") for v in versions]
    for i, version in enumerate(versions):
        vp = f"{path}.versions[{i}]"
        errs.extend(_dns1035(version.get("name", ""), f"{vp}.name"))
        errs.extend(_deprecation_errors(version, vp))
        if lifted_schema is None:
            sub = version.get("subresources") if lifted_sub is None else lifted_sub
            errs.extend(_schema_errors(version.get("schema"), f"{vp}.schema", _status_enabled(sub)))
        if lifted_sub is None:
            errs.extend(validate_subresources(version.get("subresources"), f"{vp}.subresources"))
        if lifted_cols is None:
            for j, col in enumerate(version.get("additionalPrinterColumns") or []):
                errs.extend(validate_column(col, f"{vp}.additionalPrinterColumns[{j}]"))
        if version.get("selectableFields"):
            errs.extend(_validate_selectable_fields(version["selectableFields"], f"{vp}.selectableFields"))
    if len(set(names)) != len(names):
        errs.append(errors.invalid(f"{path}.versions", spec.get("versions"), "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(errors.invalid(f"{path}.versions", spec.get("versions"),
                                   "must have exactly one version marked as storage version"))
    if names and names[0]:
        errs.extend(_dns1035(names[0], f"{path}.version"))
    return errs, _lifted_errors(versions, lifted_schema, lifted_sub, lifted_cols, path)


def _lifted_errors(versions: list[dict[str, Any]], schema: Any, sub: Any, cols: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if schema is not None:
        any_status = _status_enabled(sub) or any(_status_enabled(v.get("subresources")) for v in versions)
        errs.extend(_schema_errors(schema, f"{path}.validation", any_status))
    if sub is not None:
        errs.extend(validate_subresources(sub, f"{path}.subresources"))
    for j, col in enumerate(cols or []):
        errs.extend(validate_column(col, f"{path}.additionalPrinterColumns[{j}]"))
    return errs


def validate_conversion(spec: dict[str, Any], path: str = "spec.conversion") -> list[FieldError]:
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        return []
    errs: list[FieldError] = []
    strategy = conversion.get("strategy") or ""
    if strategy not in ("", "None") and spec.get("preserveUnknownFields"):
        errs.append(errors.invalid(f"{path}.strategy", strategy, "must be None if spec.preserveUnknownFields is true"))
    if not strategy:
        errs.append(errors.required(f"{path}.strategy"))
    elif strategy not in ("None", "Webhook"):
        errs.append(errors.not_supported(f"{path}.strategy", strategy, ["None", "Webhook"]))
    webhook = conversion.get("webhook") or {}
    config, reviews = webhook.get("clientConfig"), webhook.get("conversionReviewVersions") or []
    if strategy != "Webhook":
        if config is not None:
            errs.append(errors.forbidden(f"{path}.webhookClientConfig",
                                         "should not be set when strategy is not set to Webhook"))
        if reviews:
            errs.append(errors.forbidden(f"{path}.conversionReviewVersions",
                                         "should not be set when strategy is not set to Webhook"))
        return errs
    if config is None:
        errs.append(errors.required(f"{path}.webhookClientConfig", "required when strategy is set to Webhook"))
    elif (config.get("url") is None) == (config.get("service") is None):
        errs.append(errors.required(f"{path}.webhookClientConfig", "exactly one of url or service is required"))
    elif config.get("url") is not None and not str(config["url"]).startswith("https://"):
        errs.append(errors.invalid(f"{path}.webhookClientConfig.url", config["url"],
                                   "'https' is the only allowed URL scheme"))
    rp = f"{path}.conversionReviewVersions"
    if not reviews:
        errs.append(errors.required(rp))
    seen: set[str] = set()
    for i, v in enumerate(reviews):
        if v in seen:
            errs.append(errors.invalid(f"{rp}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        errs.extend(errors.invalid(f"{rp}[{i}]", v, m) for m in validation.is_dns1035_label(v))
    if reviews and not seen & set(REVIEW_VERSIONS):
        errs.append(errors.invalid(rp, reviews, "must include at least one of v1, v1beta1"))
    return errs


def validate_approval(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """Groups under k8s.io and kubernetes.io need the ``api-approved.kubernetes.io`` annotation."""
    group = (obj.get("spec") or {}).get("group") or ""
    if not any(group == d or group.endswith("." + d) for d in ("k8s.io", "kubernetes.io")):
        return []

    def state(o: dict[str, Any]) -> str:
        value = ((o.get("metadata") or {}).get("annotations") or {}).get(APPROVAL_ANNOTATION)
        if value is None:
            return "missing"
        if value.startswith("unapproved"):
            return "bypassed"
        return "approved" if value.startswith(("http://", "https://")) else "invalid"

    new_state = state(obj)
    if (old is not None and state(old) == new_state) or new_state in ("approved", "bypassed"):
        return []
    path = f"metadata.annotations[{APPROVAL_ANNOTATION}]"
    if new_state == "missing":
        return [errors.required(path, f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", '
                                      f"{_APPROVAL_HELP}")]
    value = obj["metadata"]["annotations"][APPROVAL_ANNOTATION]
    return [errors.invalid(path, value, f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}" '
                                        'with either a URL or a reason starting with "unapproved", '
                                        f"{_APPROVAL_HELP}")]

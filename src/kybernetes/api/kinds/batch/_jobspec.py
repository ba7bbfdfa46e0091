"""JobSpec validation shared by Jobs (``job.py``) and CronJob job templates (``cronjob.py``).

Covers parallelism/completions, indexed completion rules, backoff limits per index, managedBy,
pod failure and success policies, pod replacement policy, the pod template (through
``api.podspec``) and the Job-specific restartPolicy rule, with Kubernetes 1.32's messages.
"""

from __future__ import annotations

import itertools
from typing import Any

from kybernetes.api import errors, podspec, validation
from kybernetes.api.errors import FieldError

MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]
_EXIT_OPERATORS = ["In", "NotIn"]
_CONDITION_STATUSES = ["False", "True", "Unknown"]


def _go_list(values: list[str]) -> str:
    """``%q`` of a Go ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(validation.go_quote(v) for v in values) + "]"


def _int32s(values: Any) -> validation.GoValue:
    if not isinstance(values, list):
        return validation.GoValue("[]int32(nil)")
    return validation.GoValue("[]int32{" + ", ".join(str(v) for v in values) + "}")


def _too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(path, "FieldValueTooMany", f"must have at most {limit} items", actual, True)


def _too_long(path: str, limit: int) -> FieldError:
    return FieldError(path, "FieldValueTooLong", f"may not be more than {limit} bytes")


def _omit(path: str, detail: str) -> FieldError:
    """``field.Invalid(path, field.OmitValueType{}, detail)``: no value in the message."""
    return FieldError(path, "FieldValueInvalid", detail)


def parse_index_interval(text: str, completions: int) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) > 2:
        raise ValueError(f"the fragment {validation.go_quote(text)} violates the requirement that an index interval "
                         "can have at most two parts separated by '-'")

    def number(s: str) -> int:
        try:
            value = int(s)
        except ValueError:
            raise ValueError(f"cannot convert string to integer for index: {validation.go_quote(s)}") from None
        if value >= completions:
            raise ValueError(f"too large index: {validation.go_quote(s)}")
        return value

    x = number(parts[0])
    if len(parts) == 1:
        return x, x
    y = number(parts[1])
    if x >= y:
        raise ValueError(f"non-increasing order, previous: {x}, current: {y}")
    return x, y


def indexes_total(text: str, completions: int) -> int:
    """Number of indexes in ``1,3-5`` (raises ``ValueError`` with Kubernetes' message)."""
    if not text:
        return 0
    last: int | None = None
    total = 0
    for interval in text.split(","):
        x, y = parse_index_interval(interval, completions)
        if last is not None and last >= x:
            raise ValueError(f"non-increasing order, previous: {last}, current: {x}")
        total += y - x + 1
        last = y
    return total


def _validate_exit_codes(req: dict[str, Any], path: str, containers: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    op = req.get("operator") or ""
    if op == "":
        errs.append(errors.required(f"{path}.operator", f"valid values: {_go_list(_EXIT_OPERATORS)}"))
    elif op not in _EXIT_OPERATORS:
        errs.append(errors.not_supported(f"{path}.operator", op, _EXIT_OPERATORS))
    name = req.get("containerName")
    if name is not None and name not in containers:
        errs.append(errors.invalid(f"{path}.containerName", name,
                                   "must be one of the container or initContainer names in the pod template"))
    values = req.get("values")
    values_list = values if isinstance(values, list) else []
    if not values_list:
        errs.append(errors.invalid(f"{path}.values", _int32s(values), "at least one value is required"))
    elif len(values_list) > 255:
        errs.append(_too_many(f"{path}.values", len(values_list), 255))
    seen: set[Any] = set()
    for j, v in enumerate(values_list):
        if op == "In" and v == 0:
            errs.append(errors.invalid(f"{path}.values[{j}]", v, "must not be 0 for the In operator"))
        if v in seen:
            errs.append(errors.duplicate(f"{path}.values[{j}]", v))
        seen.add(v)
    if any(isinstance(a, int) and isinstance(b, int) and a > b for a, b in itertools.pairwise(values_list)):
        errs.append(errors.invalid(f"{path}.values", _int32s(values_list), "must be ordered"))
    return errs


def _validate_pod_conditions(patterns: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(patterns) > 20:
        errs.append(_too_many(path, len(patterns), 20))
    for j, pattern in enumerate(patterns):
        pattern = pattern if isinstance(pattern, dict) else {}
        kind = str(pattern.get("type") or "")
        errs.extend(errors.invalid(f"{path}[{j}].type", kind, m) for m in validation.is_qualified_name(kind))
        st = pattern.get("status") or ""
        if st == "":
            errs.append(errors.required(f"{path}[{j}].status", f"valid values: {_go_list(_CONDITION_STATUSES)}"))
        elif st not in _CONDITION_STATUSES:
            errs.append(errors.not_supported(f"{path}[{j}].status", st, _CONDITION_STATUSES))
    return errs


def _validate_pod_failure_policy(spec: dict[str, Any], path: str) -> list[FieldError]:
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    errs: list[FieldError] = []
    if len(rules) > 20:
        errs.append(_too_many(f"{path}.rules", len(rules), 20))
    pod = (spec.get("template") or {}).get("spec") or {}
    names = {str(c.get("name")) for key in ("containers", "initContainers") for c in pod.get(key) or []
             if isinstance(c, dict)}
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        p = f"{path}.rules[{i}]"
        action = rule.get("action") or ""
        if action == "":
            errs.append(errors.required(f"{p}.action", f"valid values: {_go_list(_ACTIONS)}"))
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(errors.invalid(f"{p}.action", action, "requires the backoffLimitPerIndex to be set"))
        elif action not in _ACTIONS:
            errs.append(errors.not_supported(f"{p}.action", action, _ACTIONS))
        exit_codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions") or []
        if isinstance(exit_codes, dict):
            errs.extend(_validate_exit_codes(exit_codes, f"{p}.onExitCodes", names))
        if conditions:
            errs.extend(_validate_pod_conditions(conditions, f"{p}.onPodConditions"))
        if exit_codes is not None and conditions:
            errs.append(_omit(p, "specifying both OnExitCodes and OnPodConditions is not supported"))
        if exit_codes is None and not conditions:
            errs.append(_omit(p, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _success_policy_value(policy: Any) -> validation.GoValue:
    rules = (policy or {}).get("rules") if isinstance(policy, dict) else None
    items = []
    for rule in rules or []:
        rule = rule if isinstance(rule, dict) else {}
        idx = "(nil)" if rule.get("succeededIndexes") is None else "(0xc000010000)"
        cnt = "(nil)" if rule.get("succeededCount") is None else "(0xc000010008)"
        items.append(f"batch.SuccessPolicyRule{{SucceededIndexes:(*string){idx}, SucceededCount:(*int32){cnt}}}")
    body = "[]batch.SuccessPolicyRule(nil)" if rules is None else "[]batch.SuccessPolicyRule{" + ", ".join(items) + "}"
    return validation.GoValue(f"batch.SuccessPolicy{{Rules:{body}}}")


def _validate_success_policy(spec: dict[str, Any], path: str) -> list[FieldError]:
    rules = (spec.get("successPolicy") or {}).get("rules") or []
    completions: int = spec["completions"] if isinstance(spec.get("completions"), int) else 0
    errs: list[FieldError] = []
    if not rules:
        errs.append(errors.required(f"{path}.rules",
                                    "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > 20:
        errs.append(_too_many(f"{path}.rules", len(rules), 20))
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        p = f"{path}.rules[{i}]"
        indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if indexes is None and count is None:
            errs.append(errors.required(p, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if indexes is not None:
            if len(str(indexes)) > 64 * 1024:
                errs.append(_too_long(f"{p}.succeededIndexes", 64 * 1024))
            try:
                total = indexes_total(str(indexes), completions)
            except ValueError as exc:
                errs.append(errors.invalid(f"{p}.succeededIndexes", indexes, f"error parsing succeededIndexes: {exc}"))
        if isinstance(count, int):
            errs.extend(validation.validate_nonnegative(count, f"{p}.succeededCount"))
            if count > completions:
                errs.append(errors.invalid(f"{p}.succeededCount", count, f"must be less than or equal to "
                                           f"{completions} (the number of specified completions)"))
            if indexes is not None and count > total:
                errs.append(errors.invalid(f"{p}.succeededCount", count, f"must be less than or equal to {total} "
                                           "(the number of indexes in the specified succeededIndexes field)"))
    return errs


def _validate_indexed(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    max_failed, per_index = spec.get("maxFailedIndexes"), spec.get("backoffLimitPerIndex")
    if completions is None:
        errs.append(errors.required(f"{path}.completions", "when completion mode is Indexed"))
    if isinstance(parallelism, int) and parallelism > MAX_PARALLELISM_INDEXED:
        errs.append(errors.invalid(f"{path}.parallelism", parallelism, "must be less than or equal to "
                                   f"{MAX_PARALLELISM_INDEXED} when completion mode is Indexed"))
    if isinstance(completions, int) and isinstance(max_failed, int) and max_failed > completions:
        errs.append(errors.invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"))
    if isinstance(max_failed, int) and max_failed > MAX_FAILED_INDEXES:
        errs.append(errors.invalid(f"{path}.maxFailedIndexes", max_failed,
                                   f"must be less than or equal to {MAX_FAILED_INDEXES}"))
    if isinstance(completions, int) and completions > COMPLETIONS_SOFT_LIMIT and per_index is not None:
        suffix = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if max_failed is None:
            errs.append(errors.required(f"{path}.maxFailedIndexes",
                                        f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))
        if isinstance(parallelism, int) and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
            errs.append(errors.invalid(f"{path}.parallelism", parallelism, "must be less than or equal to "
                                       f"{PARALLELISM_LIMIT_HIGH_COMPLETIONS} {suffix}"))
        if isinstance(max_failed, int) and max_failed > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
            errs.append(errors.invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to "
                                       f"{MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {suffix}"))
    return errs


def validate_job_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """``validateJobSpec``: everything but the selector (which JobTemplates may not set)."""
    errs: list[FieldError] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex", "maxFailedIndexes"):
        errs.extend(validation.validate_nonnegative(spec.get(f), f"{path}.{f}"))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(errors.required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        errs.extend(validation.validate_domain_prefixed_path(str(managed_by), f"{path}.managedBy"))
        if len(str(managed_by)) > 63:
            errs.append(_too_long(f"{path}.managedBy", 63))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(errors.not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        errs.extend(_validate_indexed(spec, path))
    if mode in (None, "NonIndexed"):
        for f in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(f) is not None:
                errs.append(errors.invalid(f"{path}.{f}", spec[f], "requires indexed completion mode"))
    if spec.get("podFailurePolicy") is not None:
        errs.extend(_validate_pod_failure_policy(spec, f"{path}.podFailurePolicy"))
    if spec.get("successPolicy") is not None:
        if mode != "Indexed":
            errs.append(errors.invalid(f"{path}.successPolicy", _success_policy_value(spec["successPolicy"]),
                                       "requires indexed completion mode"))
        else:
            errs.extend(_validate_success_policy(spec, f"{path}.successPolicy"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = ["Failed"] if spec.get("podFailurePolicy") is not None else ["Failed", "TerminatingOrFailed"]
        if replacement not in allowed:
            errs.append(errors.not_supported(f"{path}.podReplacementPolicy", replacement, allowed))
    template = spec.get("template")
    template = template if isinstance(template, dict) else {}
    errs.extend(podspec.validate_pod_template(template, f"{path}.template"))
    policy = (template.get("spec") or {}).get("restartPolicy") or ""
    rp_path = f"{path}.template.spec.restartPolicy"
    if policy in ("Always", ""):
        errs.append(errors.required(rp_path, 'valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        errs.append(errors.not_supported(rp_path, policy, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and policy != "Never":
        errs.append(errors.invalid(rp_path, policy, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def default_pod_failure_policy(spec: dict[str, Any]) -> None:
    """``onPodConditions[].status`` defaults to ``True``."""
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule or {}).get("onPodConditions") or []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"

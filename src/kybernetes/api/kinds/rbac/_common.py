"""Rules, subjects and role references shared by the four RBAC kinds (validation, defaults, table).

RBAC names are path segments, not DNS names (``system:node``), so the strategies expose
``name_validator`` for the generic metadata checks.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy, WriteContext
from kybernetes.api.types import Object

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def validate_rules(rules: Any, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules or []):
        rule = rule if isinstance(rule, dict) else {}
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(errors.required(f"{p}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(errors.invalid(f"{p}.nonResourceURLs", urls,
                                           "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(errors.invalid(f"{p}.nonResourceURLs", urls,
                                           "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(errors.required(f"{p}.apiGroups", "resource rules must supply at least one api group"))
        resources = rule.get("resources") or []
        if not resources:
            errs.append(errors.required(f"{p}.resources", "resource rules must supply at least one resource"))
        if rule.get("resourceNames") and len(resources) > 1:
            errs.append(errors.required(f"{p}.resourceNames", "resource names cannot apply to multiple resources"))
    return errs


class RoleStrategyBase(Strategy):
    """Roles and ClusterRoles: rules only; no status, no generation."""

    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_path_segment_name)
    namespaced = True

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_rules(obj.get("rules"), self.namespaced)


def default_binding(obj: Object) -> None:
    """``SetDefaults_RoleBinding``/``SetDefaults_Subject``: the RBAC API group where it is implied."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            kind = subject.get("kind")
            if kind == "ServiceAccount":
                subject["apiGroup"] = ""
            elif kind in ("User", "Group"):
                subject["apiGroup"] = GROUP


def _validate_subject(subject: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = subject.get("name") or "", subject.get("kind"), subject.get("apiGroup") or ""
    if not name:
        errs.append(errors.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs.extend(errors.invalid(f"{path}.name", name, m) for m in validation.is_dns1123_subdomain(name))
        if group:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(errors.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(errors.invalid(f"{path}.name", name, f"{kind.lower()} name cannot be empty"))
        if group != GROUP:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(errors.not_supported(f"{path}.kind", kind, list(SUBJECT_KINDS)))
    return errs


def validate_binding(obj: Object, namespaced: bool) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    errs: list[FieldError] = []
    if ref.get("apiGroup") != GROUP:
        errs.append(errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(errors.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    name = ref.get("name") or ""
    if not name:
        errs.append(errors.required("roleRef.name"))
    else:
        errs.extend(errors.invalid("roleRef.name", name, m) for m in validation.is_path_segment_name(name))
    for i, subject in enumerate(obj.get("subjects") or []):
        errs.extend(_validate_subject(subject if isinstance(subject, dict) else {}, namespaced, f"subjects[{i}]"))
    return errs


def subjects_strings(subjects: list[dict[str, Any]]) -> tuple[str, str, str]:
    """Users, groups and service accounts (``namespace/name``) of a binding, ", "-joined."""
    users, groups, sas = [], [], []
    for s in subjects:
        if s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


@functools.cache
def binding_columns(kind: str) -> tuple[Column, ...]:
    noun = kind[0].lower() + kind[1:]
    return (
        NAME_COLUMN,
        Column("Role", description=printing.field_doc(f"io.k8s.api.rbac.v1.{kind}", "roleRef")),
        AGE_COLUMN,
        Column("Users", priority=1, description=f"Users in the {noun}"),
        Column("Groups", priority=1, description=f"Groups in the {noun}"),
        Column("ServiceAccounts", priority=1, description=f"ServiceAccounts in the {noun}"),
    )


class BindingStrategyBase(Strategy):
    """RoleBindings and ClusterRoleBindings: defaulted subjects, immutable roleRef."""

    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_path_segment_name)
    namespaced = True
    kind = "RoleBinding"

    def default(self, obj: Object) -> None:
        default_binding(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_binding(obj, self.namespaced)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        if obj.get("roleRef") != old.get("roleRef"):
            errs.append(errors.invalid("roleRef", obj.get("roleRef"), "cannot change roleRef"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return binding_columns(self.kind)

    def row(self, obj: Object, now: float) -> list[Any]:
        ref = obj.get("roleRef") or {}
        users, groups, sas = subjects_strings(obj.get("subjects") or [])
        return [(obj.get("metadata") or {}).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
                printing.age(obj, now), users, groups, sas]

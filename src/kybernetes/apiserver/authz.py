"""Authorization: RBAC over the stored Roles/ClusterRoles and their bindings, and the
SelfSubjectAccessReview / SubjectAccessReview answers ``kubectl auth can-i`` relies on.

``system:masters`` may do anything (as in Kubernetes); everyone else gets what RBAC grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.watchcache import WatchCache


@dataclass(frozen=True, slots=True)
class Attributes:
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests

    @property
    def is_resource(self) -> bool:
        return not self.path


def forbidden(user: User, a: Attributes) -> errors.StatusError:
    """The 403 RBAC's denial gets, worded like Kubernetes' (``pods "x" is forbidden: User "u"
    cannot get resource "pods" in API group "" in the namespace "ns"``)."""
    scope = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    res = errors.qualified(a.resource, a.group)  # the subresource shows only in "cannot … resource"
    target = f'{res} "{a.name}"' if a.name else res
    return errors.forbidden_message(
        f'{target} is forbidden: User "{user.name}" cannot {a.verb} resource "{a.resource}'
        f'{"/" + a.subresource if a.subresource else ""}" in API group "{a.group}"{scope}',
        a.resource, a.group, a.name or None)


def _match(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)  # type: ignore[operator]


def rule_allows(rule: dict[str, Any], a: Attributes) -> bool:
    if not _match(rule.get("verbs"), a.verb):
        return False
    if not a.is_resource:
        urls = rule.get("nonResourceURLs") or []
        return any(u == a.path or u == "*" or (u.endswith("*") and a.path.startswith(u[:-1])) for u in urls)
    if not _match(rule.get("apiGroups"), a.group):
        return False
    res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    resources = rule.get("resources") or []
    if not ("*" in resources or res in resources or (a.subresource and f"*/{a.subresource}" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def _subject_matches(subject: dict[str, Any], user: User, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace') or namespace}:{name}"
    return False


_RBAC = tuple(f"/registry/rbac.authorization.k8s.io/{r}/"
              for r in ("clusterrolebindings", "clusterroles", "rolebindings", "roles"))
RULES_CACHED = 4096  # (user, namespace) pairs whose rules are remembered until RBAC changes


class Authorizer:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self._rules: dict[tuple[str, tuple[str, ...], str], list[dict[str, Any]]] = {}
        self._rules_as_of: tuple[int, ...] = ()

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        if ref.get("kind") == "ClusterRole":
            e = self.cache.get(f"/registry/rbac.authorization.k8s.io/clusterroles/{ref.get('name')}")
        else:
            e = self.cache.get(f"/registry/rbac.authorization.k8s.io/roles/{namespace}/{ref.get('name')}")
        return list((e.obj.get("rules") if e else None) or [])

    def rules_for(self, user: User, namespace: str) -> list[dict[str, Any]]:
        """Every rule RBAC grants ``user`` in ``namespace`` (shared: do not change the list). Each
        request needs them, so they are kept until a role or binding changes."""
        as_of = tuple(self.cache.last_change(p) for p in _RBAC)
        if as_of != self._rules_as_of or len(self._rules) >= RULES_CACHED:
            self._rules.clear()
            self._rules_as_of = as_of
        key = (user.name, user.groups, namespace)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = self._collect_rules(user, namespace)
        return rules

    def _collect_rules(self, user: User, namespace: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        for e in self.cache.list("/registry/rbac.authorization.k8s.io/clusterrolebindings/"):
            if any(_subject_matches(s, user, "") for s in e.obj.get("subjects") or []):
                rules += self._role_rules(e.obj.get("roleRef") or {}, "")
        if namespace:
            for e in self.cache.list(f"/registry/rbac.authorization.k8s.io/rolebindings/{namespace}/"):
                if any(_subject_matches(s, user, namespace) for s in e.obj.get("subjects") or []):
                    rules += self._role_rules(e.obj.get("roleRef") or {}, namespace)
        return rules

    def allowed(self, user: User, a: Attributes) -> bool:
        if user.is_admin:
            return True
        return any(rule_allows(r, a) for r in self.rules_for(user, a.namespace))

    def review(self, user: User, spec: dict[str, Any]) -> dict[str, Any]:
        """The ``status`` of an access review for ``spec`` (resourceAttributes or nonResourceAttributes)."""
        ra = spec.get("resourceAttributes")
        if ra is not None:
            a = Attributes(ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""),
                           ra.get("subresource", ""), ra.get("namespace", ""), ra.get("name", ""))
        else:
            nra = spec.get("nonResourceAttributes") or {}
            a = Attributes(nra.get("verb", ""), path=nra.get("path", ""))
        ok = self.allowed(user, a)
        status: dict[str, Any] = {"allowed": ok}
        if ok:
            status["reason"] = "" if user.is_admin else "RBAC: allowed"
        return status

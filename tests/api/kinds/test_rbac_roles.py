from __future__ import annotations

from typing import Any

from kybernetes.api.kinds.rbac import clusterrole, clusterrolebinding, role, rolebinding
from tests.api.kinds._helpers import CREATED, CTX, NOW, messages, meta

ROLE = role.RESOURCES[0].strategy
CLUSTER_ROLE = clusterrole.RESOURCES[0].strategy
BINDING = rolebinding.RESOURCES[0].strategy
CLUSTER_BINDING = clusterrolebinding.RESOURCES[0].strategy


def test_names_are_path_segments() -> None:
    for cls in (role.RoleStrategy, clusterrole.ClusterRoleStrategy, rolebinding.RoleBindingStrategy,
                clusterrolebinding.ClusterRoleBindingStrategy):
        validator = cls.name_validator
        assert validator("system:controller:job") == []
        assert validator("a/b") == ["may not contain '/'"]
        assert validator("..") == ["may not be '..'"]


def test_role_rules() -> None:
    obj = {"metadata": meta("r", "default"), "rules": [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"apiGroups": [""], "resources": ["pods", "services"], "resourceNames": ["x"]},
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
        {"verbs": ["get"]},
    ]}
    assert messages(ROLE.validate(obj, CTX)) == [
        "rules[1].verbs: Required value: verbs must contain at least one value",
        "rules[1].resourceNames: Required value: resource names cannot apply to multiple resources",
        'rules[2].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
        "rules[3].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[3].resources: Required value: resource rules must supply at least one resource",
    ]
    cluster = {"metadata": meta("cr"), "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert CLUSTER_ROLE.validate(cluster, CTX) == []


def test_cluster_role_aggregation() -> None:
    obj: dict[str, Any] = {"metadata": meta("agg"), "aggregationRule": {"clusterRoleSelectors": []}}
    assert messages(CLUSTER_ROLE.validate(obj, CTX)) == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if "
        "aggregationRule is non-nil"]
    obj["aggregationRule"]["clusterRoleSelectors"] = [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]
    assert CLUSTER_ROLE.validate(obj, CTX) == []


def test_roles_print_default_columns() -> None:
    assert [c.name for c in ROLE.columns()] == ["Name", "Created At"]
    assert ROLE.row({"metadata": meta("r", "d")}, NOW) == ["r", CREATED]


def _binding(ref: dict[str, Any], subjects: list[dict[str, Any]], ns: str | None = "default") -> dict[str, Any]:
    return {"metadata": meta("b", ns), "roleRef": ref, "subjects": subjects}


def test_binding_defaults_and_table() -> None:
    obj = _binding({"kind": "ClusterRole", "name": "view"},
                   [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "name": "default", "namespace": "default"},
                    {"kind": "User", "name": "bob"}])
    BINDING.default(obj)
    assert obj["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s["apiGroup"] for s in obj["subjects"]] == ["rbac.authorization.k8s.io"] * 2 + ["", "rbac.authorization.k8s.io"]
    assert BINDING.validate(obj, CTX) == []
    assert [c.name for c in BINDING.columns()] == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    assert [c.priority for c in BINDING.columns()] == [0, 0, 0, 1, 1, 1]
    assert BINDING.row(obj, NOW) == ["b", "ClusterRole/view", "60m", "alice, bob", "devs", "default/default"]
    assert CLUSTER_BINDING.columns()[3].description == "Users in the clusterRoleBinding"


def test_binding_validation() -> None:
    obj = _binding({"apiGroup": "x", "kind": "Role", "name": ""},
                   [{"kind": "ServiceAccount", "name": "sa", "apiGroup": "v1"}, {"kind": "Robot", "name": "r"},
                    {"kind": "User", "name": "", "apiGroup": "rbac.authorization.k8s.io"}], ns=None)
    assert messages(CLUSTER_BINDING.validate(obj, CTX)) == [
        'roleRef.apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"',
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "roleRef.name: Required value",
        'subjects[0].apiGroup: Unsupported value: "v1": supported values: ""',
        "subjects[0].namespace: Required value",
        'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        "subjects[2].name: Required value",
        'subjects[2].name: Invalid value: "": user name cannot be empty',
    ]


def test_role_ref_is_immutable() -> None:
    old = _binding({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}, [])
    new = _binding({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}, [])
    assert messages(BINDING.validate_update(new, old, CTX)) == [
        'roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"}: '
        "cannot change roleRef"]

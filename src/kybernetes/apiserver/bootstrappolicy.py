"""RBAC objects every cluster starts with, for the identities this server hands out itself.

``system:node`` carries what a kubelet needs (upstream's bootstrap policy for nodes: register and
report its Node and Lease, read the pods, services, configmaps, secrets and volumes its pods use,
report pod status, create events, evictions and service-account tokens), granted to the group
``system:nodes`` that every node client certificate carries. Upstream additionally narrows each node
to its own objects with the Node authorizer; here the role applies as written. ``system:node-proxier``
is the service proxy's (user ``system:kube-proxy``); ``system:basic-user`` lets every authenticated
user ask who it is and what it may do (the self-reviews). Created by the API server's bootstrap when
absent (an edited role is kept).
"""

from __future__ import annotations

from typing import Any

RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]


def _rule(verbs: list[str], group: str, *resources: str) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": list(resources), "verbs": verbs}


NODE_RULES = [
    _rule(["create"], "authentication.k8s.io", "tokenreviews"),
    _rule(["create"], "authorization.k8s.io", "subjectaccessreviews", "localsubjectaccessreviews"),
    _rule(READ, "", "services"),
    _rule(["create", "get", "list", "watch", "update", "patch"], "", "nodes"),
    _rule(["update", "patch"], "", "nodes/status"),
    _rule(["create", "update", "patch"], "", "events"),
    _rule(["create", "update", "patch"], "events.k8s.io", "events"),
    _rule([*READ, "create", "delete"], "", "pods"),
    _rule(["update", "patch"], "", "pods/status"),
    _rule(["create"], "", "pods/eviction"),
    _rule(READ, "", "secrets", "configmaps"),
    _rule(["get"], "", "persistentvolumeclaims", "persistentvolumes", "endpoints"),
    _rule(["get", "update", "patch"], "", "persistentvolumeclaims/status"),
    _rule(["create"], "", "serviceaccounts/token"),
    _rule(["create", "get", "list", "watch"], "certificates.k8s.io", "certificatesigningrequests"),
    _rule(["get", "create", "update", "patch", "delete"], "coordination.k8s.io", "leases"),
    _rule(["get"], "storage.k8s.io", "volumeattachments"),
    _rule(READ, "storage.k8s.io", "csidrivers"),
    _rule([*READ, "create", "update", "patch", "delete"], "storage.k8s.io", "csinodes"),
    _rule(READ, "node.k8s.io", "runtimeclasses"),
]

PROXIER_RULES = [
    _rule(["list", "watch"], "", "endpoints", "services"),
    _rule(READ, "", "nodes"),
    _rule(["create", "update", "patch"], "", "events"),
    _rule(["create", "update", "patch"], "events.k8s.io", "events"),
    _rule(["list", "watch"], "discovery.k8s.io", "endpointslices"),
]

BASIC_USER_RULES = [
    _rule(["create"], "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
    _rule(["create"], "authentication.k8s.io", "selfsubjectreviews"),
]

LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def _role(name: str, rules: list[dict[str, Any]], subject: dict[str, str]) -> list[dict[str, Any]]:
    meta = {"name": name, "labels": LABELS, "annotations": AUTOUPDATE}
    return [{"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules},
            {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": meta,
             "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
             "subjects": [{"apiGroup": RBAC, **subject}]}]


def objects() -> list[dict[str, Any]]:
    return [*_role("system:node", NODE_RULES, {"kind": "Group", "name": "system:nodes"}),
            *_role("system:node-proxier", PROXIER_RULES, {"kind": "User", "name": "system:kube-proxy"}),
            *_role("system:basic-user", BASIC_USER_RULES, {"kind": "Group", "name": "system:authenticated"})]

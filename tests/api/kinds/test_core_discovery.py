"""The core/v1 resources as Kubernetes 1.32 lists them in ``/api/v1`` (bindings and componentstatuses aside)."""

from __future__ import annotations

from kybernetes.api.kinds import builtin_resources
from kybernetes.api.strategy import ALL_VERBS

SUB = ("get", "patch", "update")
PROXY = ("create", "delete", "get", "patch", "update")

#: plural → (kind, singular, namespaced, verbs, short names, categories, subresources)
EXPECTED = {
    "configmaps": ("ConfigMap", "configmap", True, ALL_VERBS, ("cm",), (), ()),
    "endpoints": ("Endpoints", "endpoints", True, ALL_VERBS, ("ep",), (), ()),
    "events": ("Event", "event", True, ALL_VERBS, ("ev",), (), ()),
    "limitranges": ("LimitRange", "limitrange", True, ALL_VERBS, ("limits",), (), ()),
    "namespaces": ("Namespace", "namespace", False, ("create", "delete", "get", "list", "patch", "update", "watch"),
                   ("ns",), (), (("finalize", "Namespace", "", ("update",)), ("status", "Namespace", "", SUB))),
    "nodes": ("Node", "node", False, ALL_VERBS, ("no",), (),
              (("proxy", "NodeProxyOptions", "", PROXY), ("status", "Node", "", SUB))),
    "persistentvolumeclaims": ("PersistentVolumeClaim", "persistentvolumeclaim", True, ALL_VERBS, ("pvc",), (),
                               (("status", "PersistentVolumeClaim", "", SUB),)),
    "persistentvolumes": ("PersistentVolume", "persistentvolume", False, ALL_VERBS, ("pv",), (),
                          (("status", "PersistentVolume", "", SUB),)),
    "pods": ("Pod", "pod", True, ALL_VERBS, ("po",), ("all",), (
        ("attach", "PodAttachOptions", "", ("create", "get")), ("binding", "Binding", "", ("create",)),
        ("ephemeralcontainers", "Pod", "", SUB), ("eviction", "Eviction", "policy", ("create",)),
        ("exec", "PodExecOptions", "", ("create", "get")), ("log", "Pod", "", ("get",)),
        ("portforward", "PodPortForwardOptions", "", ("create", "get")), ("proxy", "PodProxyOptions", "", PROXY),
        ("status", "Pod", "", SUB))),
    "podtemplates": ("PodTemplate", "podtemplate", True, ALL_VERBS, (), (), ()),
    "replicationcontrollers": ("ReplicationController", "replicationcontroller", True, ALL_VERBS, ("rc",), ("all",),
                               (("scale", "Scale", "autoscaling", SUB),
                                ("status", "ReplicationController", "", SUB))),
    "resourcequotas": ("ResourceQuota", "resourcequota", True, ALL_VERBS, ("quota",), (),
                       (("status", "ResourceQuota", "", SUB),)),
    "secrets": ("Secret", "secret", True, ALL_VERBS, (), (), ()),
    "serviceaccounts": ("ServiceAccount", "serviceaccount", True, ALL_VERBS, ("sa",), (),
                        (("token", "TokenRequest", "authentication.k8s.io", ("create",)),)),
    "services": ("Service", "service", True, ALL_VERBS, ("svc",), ("all",),
                 (("proxy", "ServiceProxyOptions", "", PROXY), ("status", "Service", "", SUB))),
}


def test_core_resources_match_kubernetes_discovery() -> None:
    core = {r.plural: r for r in builtin_resources() if r.group == "" and r.version == "v1"}
    assert set(EXPECTED) <= set(core)
    for plural, (kind, singular, namespaced, verbs, short, categories, subs) in EXPECTED.items():
        info = core[plural]
        got_subs = tuple(sorted((s.name, s.kind, s.group, s.verbs) for s in info.subresources))
        assert (info.kind, info.singular, info.namespaced, tuple(sorted(info.verbs)), info.short_names,
                info.categories, got_subs) == (kind, singular, namespaced, tuple(sorted(verbs)), short, categories,
                                               tuple(sorted(subs))), plural


def test_every_core_strategy_has_a_table_and_name_selectors() -> None:
    for info in builtin_resources():
        if info.group != "" or info.plural not in EXPECTED:
            continue
        cols = info.strategy.columns()
        assert cols[0].name in ("Name", "Last Seen")
        assert all(c.description for c in cols), info.plural
        fields = info.strategy.field_selectors({"metadata": {}})
        assert "metadata.name" in fields
        assert ("metadata.namespace" in fields) == info.namespaced, info.plural

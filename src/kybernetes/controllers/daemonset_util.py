"""Pure DaemonSet rules: which nodes should run a daemon pod, the pod template, and updated-ness.

``should_run(node, ds)`` is ``NodeShouldRunDaemonPod``: the template's ``nodeName``, its
``nodeSelector`` and required node affinity must match the node, and every NoSchedule/NoExecute
taint must be tolerated — by the template's tolerations plus the ones every daemon pod gets
(``AddOrUpdateDaemonPodTolerations``: not-ready and unreachable NoExecute; disk-, memory-,
pid-pressure and unschedulable NoSchedule; network-unavailable for host-network pods). A pod on a
node whose NoExecute taints it tolerates may keep running even when a new one would not be placed.
``pod_template`` adds those tolerations and the ``pod-template-generation`` and
``controller-revision-hash`` labels; ``pin_to_node`` replaces the required node affinity with
``matchFields metadata.name In [node]`` so the scheduler binds the pod there. The matching rules
mirror the scheduler's (``v1helper``/``nodeaffinity``), which controllers may not import.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import nodeselection
from kybernetes.api.printing import parse_time
from kybernetes.controllers import podstate
from kybernetes.controllers.loop import Obj

API_VERSION, KIND = "apps/v1", "DaemonSet"
HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"

#: (key, effect) of the tolerations every daemon pod carries, in Kubernetes' order
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


def md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


# --- tolerations and taints -----------------------------------------------------------------------
def _same_toleration(a: Obj, b: Obj) -> bool:
    fields = ("key", "operator", "value", "effect", "tolerationSeconds")
    return all((a.get(f) or None) == (b.get(f) or None) for f in fields)


def add_or_update_toleration(pod_spec: dict[str, Any], toleration: Obj) -> None:
    """Append, or replace one with the same key/operator/value/effect (``AddOrUpdateTolerationInPodSpec``)."""
    tolerations = pod_spec.setdefault("tolerations", [])
    for i, t in enumerate(tolerations):
        same_identity = all((t.get(f) or "") == (toleration.get(f) or "") for f in ("key", "operator", "value",
                                                                                  "effect"))
        if same_identity:
            if not _same_toleration(t, toleration):
                tolerations[i] = dict(toleration)
            return
    tolerations.append(dict(toleration))


def add_daemon_tolerations(pod_spec: dict[str, Any]) -> None:
    keys = list(DAEMON_TOLERATIONS) + ([NETWORK_UNAVAILABLE] if pod_spec.get("hostNetwork") else [])
    for key, effect in keys:
        add_or_update_toleration(pod_spec, {"key": key, "operator": "Exists", "effect": effect})


def node_affinity_matches(pod_spec: dict[str, Any], node: Obj) -> bool:
    """``nodeSelector`` AND any term of the required node affinity."""
    return nodeselection.RequiredNodeAffinity(pod_spec).matches(md(node).get("labels") or {}, md(node).get("name", ""))


def should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(should run a daemon pod here, may keep one running here)."""
    template_spec = copy.deepcopy(spec(ds).get("template") or {}).get("spec") or {}
    node_name = md(node).get("name", "")
    if template_spec.get("nodeName") and template_spec["nodeName"] != node_name:
        return False, False
    add_daemon_tolerations(template_spec)
    if not node_affinity_matches(template_spec, node):
        return False, False
    taints = spec(node).get("taints") or []
    tolerations = template_spec.get("tolerations") or []
    if nodeselection.find_untolerated_taint(taints, tolerations, nodeselection.do_not_schedule) is None:
        return True, True
    no_execute = nodeselection.find_untolerated_taint(taints, tolerations, lambda t: t.get("effect") == NO_EXECUTE)
    return False, no_execute is None


# --- pods -----------------------------------------------------------------------------------------
def template_generation(ds: Obj) -> str | None:
    return (md(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def pod_template(ds: Obj, hash_: str) -> dict[str, Any]:
    """The template daemon pods are made from (``CreatePodTemplate``)."""
    template = copy.deepcopy(spec(ds).get("template") or {})
    add_daemon_tolerations(template.setdefault("spec", {}))
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    generation = template_generation(ds)
    if generation is not None:
        labels[GENERATION_LABEL] = generation
    if hash_:
        labels[HASH_LABEL] = hash_
    return template


def pin_to_node(template: dict[str, Any], node_name: str) -> dict[str, Any]:
    """A copy whose required node affinity is ``metadata.name In [node]`` (``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    out = copy.deepcopy(template)
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = out.setdefault("spec", {}).setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]
    return out


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: its ``nodeName``, or the node its affinity pins it to."""
    if spec(pod).get("nodeName"):
        return str(spec(pod)["nodeName"])
    required = ((((spec(pod).get("affinity") or {}).get("nodeAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution")) or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and \
                    len(field.get("values") or []) == 1:
                return str(field["values"][0])
    return ""


def is_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    """At the current template: same revision hash, or (older pods) same template generation."""
    labels = md(pod).get("labels") or {}
    return (bool(hash_) and labels.get(HASH_LABEL) == hash_) or \
        (generation is not None and labels.get(GENERATION_LABEL) == generation)


def _created(pod: Obj) -> float:
    return parse_time(md(pod).get("creationTimestamp")) or 0.0


def oldest_first(pods: list[Obj]) -> list[Obj]:
    """By creation time; among equals, running before pending (``podByCreationTimestampAndPhase``)."""
    order = {"Running": 0}
    return sorted(pods, key=lambda p: (_created(p), order.get(podstate.phase(p), 1), md(p).get("name", "")))


def updated_pods_on_node(pods: list[Obj], hash_: str, generation: str | None) -> tuple[Obj | None, Obj | None, bool]:
    """(new pod, old pod, ok) among a node's live pods; not ok when there are two of either."""
    new = old = None
    for pod in pods:
        if md(pod).get("deletionTimestamp"):
            continue
        if is_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def scaled_value(value: Any, total: int) -> int:
    """An int-or-percent scaled against ``total``, percentages rounded up."""
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)
    return int(value or 0)

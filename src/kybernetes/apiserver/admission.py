"""Admission: the mutating and validating plugins the apiserver runs on writes, after defaulting
and before the strategy's ``prepare_for_create`` (Kubernetes' order).

Enabled plugins, as in a default Kubernetes 1.32 cluster:
- LimitRanger (``limitranger.py``): resource defaults and bounds from the namespace's LimitRanges;
- ServiceAccount: ``serviceAccountName: default`` and the projected ``kube-api-access-*`` token
  volume mounted at /var/run/secrets/kubernetes.io/serviceaccount in every container;
- DefaultTolerationSeconds: NoExecute tolerations for not-ready/unreachable nodes, 300 s;
- Priority: ``priority``/``preemptionPolicy`` from the PriorityClass (or the global default);
- DefaultStorageClass: a PersistentVolumeClaim that names no class gets the default StorageClass;
- StorageObjectInUseProtection: new claims get the ``kubernetes.io/pvc-protection`` finalizer and
  new volumes ``kubernetes.io/pv-protection`` (the controllers of the same names remove them).
NamespaceLifecycle lives in ``objects.ObjectStore.namespace_admission``.
"""

from __future__ import annotations

import secrets
from typing import Any

from kybernetes.api import errors
from kybernetes.api import persistentvolumes as pvmatch
from kybernetes.api.strategy import ResourceInfo
from kybernetes.apiserver.limitranger import LimitRanger
from kybernetes.apiserver.watchcache import WatchCache

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_EXPIRATION = 3607  # what the ServiceAccount plugin asks for (1 h + 7 s of jitter headroom)
DEFAULT_TOLERATION_SECONDS = 300
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _token_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


class Admission:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self.limits = LimitRanger(cache)

    def admit_create(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        """Mutating admission for a create (raises StatusError to reject)."""
        self.limits.admit(info, obj)
        if info.group == "" and info.plural == "pods":
            spec = obj.setdefault("spec", {})
            self._service_account(obj, spec)
            self._default_tolerations(spec)
            self._priority(obj, spec)
        elif info.group == "" and info.plural == "persistentvolumeclaims":
            self._default_storage_class(obj)
            _add_finalizer(obj, pvmatch.PVC_PROTECTION)
        elif info.group == "" and info.plural == "persistentvolumes":
            _add_finalizer(obj, pvmatch.PV_PROTECTION)

    # --- ServiceAccount -------------------------------------------------------------------------
    def _service_account(self, pod: dict[str, Any], spec: dict[str, Any]) -> None:
        md = pod.get("metadata") or {}
        ns = md.get("namespace", "")
        name = spec.get("serviceAccountName") or "default"
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        sa = self.cache.get(f"/registry/core/serviceaccounts/{ns}/{name}")
        if sa is None and name != "default":
            # the default account is created by a controller moments after the namespace; a pod
            # racing it is admitted (its token is fetched later by the kubelet)
            raise errors.forbidden_message(
                f'pods "{md.get("name") or md.get("generateName", "")}" is forbidden: error looking up service '
                f'account {ns}/{name}: serviceaccount "{name}" not found', "pods", "", md.get("name"))
        automount = spec.get("automountServiceAccountToken")
        if automount is None and sa is not None:
            automount = sa.obj.get("automountServiceAccountToken")
        if automount is False:
            return
        containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
        if any(m.get("mountPath") == TOKEN_MOUNT_PATH for c in containers for m in c.get("volumeMounts") or []):
            return
        vol_name = "kube-api-access-" + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        spec.setdefault("volumes", []).append(_token_volume(vol_name))
        for c in containers:
            c.setdefault("volumeMounts", []).append({"name": vol_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})

    # --- DefaultTolerationSeconds ---------------------------------------------------------------
    @staticmethod
    def _default_tolerations(spec: dict[str, Any]) -> None:
        tolerations = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if any(_tolerates_no_execute(t, key) for t in tolerations):
                continue
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})

    # --- Priority -------------------------------------------------------------------------------
    def _priority(self, pod: dict[str, Any], spec: dict[str, Any]) -> None:
        cls_name = spec.get("priorityClassName")
        cls: dict[str, Any] | None = None
        if cls_name:
            entry = self.cache.get(f"/registry/scheduling.k8s.io/priorityclasses/{cls_name}")
            if entry is None:
                md = pod.get("metadata") or {}
                raise errors.forbidden_message(
                    f'pods "{md.get("name") or md.get("generateName", "")}" is forbidden: no PriorityClass with '
                    f"name {cls_name} was found", "pods", "", md.get("name"))
            cls = entry.obj
        else:
            for e in self.cache.list("/registry/scheduling.k8s.io/priorityclasses/"):
                if e.obj.get("globalDefault"):
                    cls = e.obj
                    spec["priorityClassName"] = e.obj["metadata"]["name"]
                    break
        value = int(cls.get("value", 0)) if cls else 0
        if spec.get("priority") is not None and spec["priority"] != value:
            raise errors.forbidden_message("the integer value of priority "
                                           f"({spec['priority']}) must not be provided in pod spec; priority "
                                           "admission controller computed "
                                           f"{value} from the given PriorityClass name", "pods", "")
        spec["priority"] = value
        spec["preemptionPolicy"] = (cls or {}).get("preemptionPolicy") or spec.get("preemptionPolicy") or \
            "PreemptLowerPriority"


    # --- DefaultStorageClass --------------------------------------------------------------------
    def _default_storage_class(self, claim: dict[str, Any]) -> None:
        """Only an absent class is defaulted: ``storageClassName: ""`` asks for a class-less volume."""
        spec = claim.setdefault("spec", {})
        if spec.get("storageClassName") is not None or pvmatch.ANN_BETA_CLASS in pvmatch.annotations_of(claim):
            return
        default = pvmatch.default_class([e.obj for e in self.cache.list("/registry/storage.k8s.io/storageclasses/")])
        if default is not None:
            spec["storageClassName"] = default["metadata"]["name"]


def _add_finalizer(obj: dict[str, Any], finalizer: str) -> None:
    md = obj.setdefault("metadata", {})
    finalizers = md.get("finalizers") or []
    if finalizer not in finalizers:
        md["finalizers"] = [*finalizers, finalizer]


def _tolerates_no_execute(t: dict[str, Any], key: str) -> bool:
    if t.get("effect") not in (None, "", "NoExecute"):
        return False
    return (not t.get("key") and t.get("operator") == "Exists") or t.get("key") == key


SYSTEM_PRIORITY_CLASSES = [
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
     "metadata": {"name": "system-node-critical"}, "value": 2000001000,
     "description": "Used for system critical pods that must not be moved from their current node."},
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
     "metadata": {"name": "system-cluster-critical"}, "value": 2000000000,
     "description": "Used for system critical pods that must run in the cluster, but can be moved to another node "
                    "if necessary."},
]

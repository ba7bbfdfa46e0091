"""What the workload controller tests need beyond ``fakes.FakeClient``: the API server's side effects.

``WorkloadFakeClient`` gives created pods ``status.phase: Pending`` (the pod strategy does that),
honours the ``$deleteFromPrimitiveList/finalizers`` directive of strategic merge patches (how the
Job controller drops its tracking finalizer), and merges server-side-apply bodies like a merge
patch. ``set_pod_status`` plays the kubelet.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.rest import PODS, Resource
from tests.controllers.fakes import FakeClient

Obj = dict[str, Any]
DELETE_FINALIZERS = "$deleteFromPrimitiveList/finalizers"


class WorkloadFakeClient(FakeClient):
    async def create(self, res: Resource, obj: Obj, namespace: str | None = None, subresource: str | None = None,
                     name: str | None = None, **params: Any) -> Obj:
        if res.plural == "pods" and not subresource:
            obj = copy.deepcopy(obj)
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        return await super().create(res, obj, namespace, subresource, name, **params)

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = "application/merge-patch+json",
                    **params: Any) -> Obj:
        pmd = (patch.get("metadata") or {}) if isinstance(patch, dict) else {}
        if DELETE_FINALIZERS in pmd:
            old = self.objects.get(self._key(res, namespace, name))
            if old is not None:
                drop = set(pmd[DELETE_FINALIZERS])
                patch = copy.deepcopy(patch)
                del patch["metadata"][DELETE_FINALIZERS]
                patch["metadata"]["finalizers"] = [f for f in old["metadata"].get("finalizers") or [] if f not in drop]
        return await super().patch(res, name, patch, namespace, subresource, patch_type, **params)

    async def set_pod_status(self, name: str, phase: str, ready: bool = False, namespace: str = "default",
                             restarts: int = 0, finished_at: float | None = None) -> Obj:
        """Write a pod's status as its kubelet would (Ready condition, restart counts, finish time)."""
        pod = self.stored(PODS, name, namespace)
        assert pod is not None, name
        now = format_time(self.clock())
        status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                       "lastTransitionTime": now}]}
        container: Obj = {"name": "c", "restartCount": restarts}
        if phase in ("Succeeded", "Failed"):
            container["state"] = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                                                 "finishedAt": format_time(finished_at or self.clock())}}
        status["containerStatuses"] = [container]
        pod = copy.deepcopy(pod)
        pod["status"] = status
        return await self.replace(PODS, pod, namespace, subresource="status")

"""Taint eviction controller (the NoExecute taint manager): pods leave nodes whose NoExecute taints
they do not tolerate.

``sync(pod key)`` compares the pod's tolerations with its node's NoExecute taints: a taint no
toleration matches means deletion now; otherwise the smallest ``tolerationSeconds`` among the
tolerations in use is a countdown that starts when this controller first sees the pod under those
taints (a restart starts it again, as in Kubernetes), after which the pod is deleted; tolerations
without ``tolerationSeconds`` tolerate forever. Deletion first records ``TaintManagerEviction``
("Marking for deletion Pod ns/name") and adds the ``DisruptionTarget`` pod condition; a countdown
that no longer applies (taint gone, toleration changed) is cancelled with its own event. The
node lifecycle controller adds the ``unreachable``/``not-ready`` taints that usually start this.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kybernetes.api import nodeselection
from kybernetes.api.printing import format_time
from kybernetes.client.errors import NotFoundError
from kybernetes.client.events import NORMAL
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import PODS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj
from kybernetes.controllers.nodelifecycle import NODE_NAME_INDEX, node_name_index, pods_on

log = logging.getLogger(__name__)

EVICTION_REASON = "TaintManagerEviction"
DISRUPTION_TARGET = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint"}
SMP = "application/strategic-merge-patch+json"


def no_execute_taints(node: Obj | None) -> list[dict[str, Any]]:
    if node is None:
        return []
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


def toleration_seconds(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]]) -> float | None:
    """Seconds until eviction: 0 when some taint is not tolerated, None when tolerated forever
    (``GetMatchingTolerations`` + ``getMinTolerationTime``)."""
    used: list[dict[str, Any]] = []
    for taint in taints:
        match = next((t for t in tolerations if nodeselection.toleration_tolerates(t, taint)), None)
        if match is None:
            return 0.0
        used.append(match)
    if not used:
        return 0.0
    seconds = [int(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return float(max(min(seconds), 0))


def _pod_ref(key: str) -> Obj:
    ns, name = loop.split_key(key)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}


class TaintEvictionController(loop.Controller):
    name = "taint-eviction-controller"

    def __init__(self, node_informer: Informer, pod_informer: Informer, client: Client, recorder: loop.Recorder,
                 *, clock: loop.Clock = time.time) -> None:
        super().__init__([node_informer, pod_informer])
        self.node_informer = node_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self._since: dict[str, float] = {}  # pod key → when its eviction countdown started
        pod_informer.add_index(NODE_NAME_INDEX, node_name_index)
        node_informer.add_handlers(self._node_changed, self._node_updated, self._node_changed)
        pod_informer.add_handlers(self._pod_changed, self._pod_updated, self._pod_changed)

    # --- callbacks --------------------------------------------------------------------------------
    def _node_changed(self, node: Obj) -> None:
        for pod in pods_on(self.pod_informer, node["metadata"]["name"]):
            self.enqueue(pod)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(cur):
            self._node_changed(cur)

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") or key_of(pod) in self._since:
            self.enqueue(pod)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        o, c = old.get("spec") or {}, cur.get("spec") or {}
        if o.get("nodeName") != c.get("nodeName") or o.get("tolerations") != c.get("tolerations"):
            self._pod_changed(cur)

    # --- sync -------------------------------------------------------------------------------------
    def _cancel(self, key: str, pod: Obj | None) -> None:
        if self._since.pop(key, None) is not None:
            self.recorder.record(pod or _pod_ref(key), NORMAL, EVICTION_REASON, f"Cancelling deletion of Pod {key}")

    async def sync(self, key: str) -> None:
        pod = self.pod_informer.get(key)
        if pod is None:
            self._cancel(key, None)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        taints = no_execute_taints(self.node_informer.get(node_name)) if node_name else []
        if not taints or (pod.get("metadata") or {}).get("deletionTimestamp"):
            self._cancel(key, pod)
            return
        seconds = toleration_seconds(taints, list((pod.get("spec") or {}).get("tolerations") or []))
        if seconds is None:
            log.debug("pod %s tolerates the taints of %s forever", key, node_name)
            self._cancel(key, pod)
            return
        now = self.clock()
        start = self._since.setdefault(key, now)
        if now < start + seconds:
            self.queue.add_after(key, start + seconds - now)
            return
        await self._evict(key, pod, now)

    async def _evict(self, key: str, pod: Obj, now: float) -> None:
        ns, name = loop.split_key(key)
        log.info("deleting pod %s: node %s has NoExecute taints it does not tolerate", key,
                 (pod.get("spec") or {}).get("nodeName"))
        self._since.pop(key, None)
        self.recorder.record(pod, NORMAL, EVICTION_REASON, f"Marking for deletion Pod {key}")
        conditions = (pod.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == DISRUPTION_TARGET["type"] and c.get("status") == "True" for c in conditions):
            patch = {"status": {"conditions": [{**DISRUPTION_TARGET, "lastTransitionTime": format_time(now)}]},
                     "metadata": {"uid": (pod.get("metadata") or {}).get("uid")}}
            try:
                await self.client.patch(PODS, name, patch, ns, subresource="status", patch_type=SMP)
            except NotFoundError:
                return
        try:
            await self.client.delete(PODS, name, ns)
        except NotFoundError:
            log.debug("pod %s is already gone", key)


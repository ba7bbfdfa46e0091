"""DaemonSet controller: one daemon pod on every node that should run it, rolled between revisions.

DaemonSet, pod and node callbacks enqueue DaemonSet keys (a node change wakes the sets whose
placement it changes). ``sync`` constructs the revision history, and — once earlier creates and
deletes have been observed (``expectations``) — runs ``manage``: per node, create a pod pinned to
it (``daemonset_util.pin_to_node``) when it should run one and has none; delete failed pods (with
a per-node backoff and a ``FailedDaemonPod`` warning), succeeded ones, surplus ones (the oldest is
kept) and all of them where the node no longer qualifies; delete unscheduled pods for nodes that no
longer exist. Then the RollingUpdate strategy (``daemonset_update``), history cleanup, and status:
desired/current/misscheduled/ready/available/updated counts and observedGeneration.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import time
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.selectors import LabelSelector, selector_from_label_selector
from kybernetes.client.errors import ApiError, ConflictError, NotFoundError, has_status_cause
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import CONTROLLERREVISIONS, DAEMONSETS, PODS, Client
from kybernetes.controllers import daemonset_util as du
from kybernetes.controllers import history, loop, podcontrol, podstate, refmanager
from kybernetes.controllers.daemonset_update import DaemonSetUpdater
from kybernetes.controllers.expectations import ControllerExpectations
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

BURST_REPLICAS = 250
FAILED_DAEMON_POD = "FailedDaemonPod"
SELECTING_ALL = "SelectingAll"
FAILED_POD_BACKOFF, MAX_FAILED_POD_BACKOFF = 1.0, 900.0
_COUNTS = ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled", "numberReady",
           "updatedNumberScheduled", "numberAvailable", "numberUnavailable")


class DaemonSetController(DaemonSetUpdater, loop.Controller):
    name = "daemonset"

    def __init__(self, ds_informer: Informer, pod_informer: Informer, node_informer: Informer,
                 revision_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 burst_replicas: int = BURST_REPLICAS, clock: loop.Clock = time.time) -> None:
        loop.Controller.__init__(self, [ds_informer, pod_informer, node_informer, revision_informer])
        self.ds_informer = ds_informer
        self.pod_informer = pod_informer
        self.node_informer = node_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.burst_replicas = burst_replicas
        self.pod_control = podcontrol.PodControl(client, recorder)
        self.expectations = ControllerExpectations()
        self.history = history.History(client, revision_informer, du.API_VERSION, du.KIND)
        self._backoff: dict[str, tuple[float, float]] = {}  # "<ds uid>/<node>" → (delay, last failure)
        ds_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self._delete_ds)
        pod_informer.add_handlers(self._add_pod, self._update_pod, self._delete_pod)
        node_informer.add_handlers(self._add_node, self._update_node, self._delete_node)

    # --- callbacks: objects → keys --------------------------------------------------------------
    def _delete_ds(self, ds: Obj) -> None:
        self.expectations.delete_expectations(key_of(ds))
        self.enqueue(ds)

    def _resolve(self, pod: Obj) -> Obj | None:
        ref = refmanager.controller_ref_of(pod)
        if ref is None or ref.get("kind") != du.KIND:
            return None
        ds = self.ds_informer.get(f"{du.md(pod).get('namespace', '')}/{ref.get('name')}")
        return ds if ds is not None and du.md(ds).get("uid") == ref.get("uid") else None

    def _selecting(self, pod: Obj) -> list[Obj]:
        out = []
        for ds in self.ds_informer.list(du.md(pod).get("namespace", "")):
            sel = self._selector(ds)
            if sel is not None and not sel.empty and sel.matches(du.md(pod).get("labels")):
                out.append(ds)
        return out

    def _add_pod(self, pod: Obj) -> None:
        if du.md(pod).get("deletionTimestamp"):
            self._delete_pod(pod)
            return
        if refmanager.controller_ref_of(pod) is not None:
            if (ds := self._resolve(pod)) is not None:
                self.expectations.creation_observed(key_of(ds))
                self.enqueue(ds)
            return
        for ds in self._selecting(pod):
            self.enqueue(ds)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if du.md(old).get("resourceVersion") == du.md(cur).get("resourceVersion"):
            return
        old_ref, cur_ref = refmanager.controller_ref_of(old), refmanager.controller_ref_of(cur)
        if old_ref != cur_ref and (old_ds := self._resolve(old)) is not None:
            self.enqueue(old_ds)
        if cur_ref is not None:
            if (ds := self._resolve(cur)) is not None:
                self.enqueue(ds)
                min_ready = int(du.spec(ds).get("minReadySeconds") or 0)
                if min_ready and not podstate.is_pod_ready(old) and podstate.is_pod_ready(cur):
                    self.enqueue_after(ds, min_ready)
            return
        if du.md(old).get("labels") != du.md(cur).get("labels") or old_ref != cur_ref:
            for ds in self._selecting(cur):
                self.enqueue(ds)

    def _delete_pod(self, pod: Obj) -> None:
        if (ds := self._resolve(pod)) is not None:
            self.expectations.deletion_observed(key_of(ds))
            self.enqueue(ds)

    def _add_node(self, node: Obj) -> None:
        for ds in self.ds_informer.list():
            if du.should_run(node, ds)[0]:
                self.enqueue(ds)

    def _update_node(self, old: Obj, cur: Obj) -> None:
        def placement(n: Obj) -> Any:
            conditions = [(c.get("type"), c.get("status")) for c in (n.get("status") or {}).get("conditions") or []]
            return du.md(n).get("labels"), du.spec(n), conditions
        if placement(old) == placement(cur):
            return  # a heartbeat: nothing that decides placement changed
        for ds in self.ds_informer.list():
            if du.should_run(old, ds) != du.should_run(cur, ds):
                self.enqueue(ds)

    def _delete_node(self, _node: Obj) -> None:
        for ds in self.ds_informer.list():
            self.enqueue(ds)

    # --- sync ----------------------------------------------------------------------------------
    @staticmethod
    def _selector(ds: Obj) -> LabelSelector | None:
        try:
            return selector_from_label_selector(du.spec(ds).get("selector"))
        except api_errors.StatusError:
            return None

    async def sync(self, key: str) -> None:
        cached = self.ds_informer.get(key)
        if cached is None:
            log.debug("DaemonSet %s has been deleted", key)
            self.expectations.delete_expectations(key)
            return
        ds = copy.deepcopy(cached)
        selector = self._selector(ds)
        if selector is None or selector.empty:
            self.recorder.record(ds, WARNING, SELECTING_ALL,
                                 "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if du.md(ds).get("deletionTimestamp"):
            return  # its revisions may already be gone: status cannot be computed reliably
        nodes = self.node_informer.list()
        current, old = await self.construct_history(ds)
        hash_ = (du.md(current).get("labels") or {}).get(du.HASH_LABEL, "")
        if not self.expectations.satisfied(key):
            await self._update_status(ds, nodes, hash_, observed=False)
            return
        error: Exception | None = None
        try:
            await self.manage(ds, nodes, hash_)
            if self.expectations.satisfied(key) and \
                    (du.spec(ds).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                await self.rolling_update(ds, nodes, hash_)
            await self.cleanup_history(ds, old)
        except Exception as e:
            error = e
        await self._update_status(ds, nodes, hash_, observed=True)
        if error is not None:
            raise error

    async def controlled_revisions(self, ds: Obj) -> list[Obj]:
        selector = self._selector(ds) or LabelSelector()
        manager = refmanager.ControllerRefManager(self.client, CONTROLLERREVISIONS, ds, selector,
                                                  du.API_VERSION, du.KIND,
                                                  refmanager.recheck_deletion_timestamp(self._fresh(ds), ds))
        return await manager.claim(self.history.informer.list(du.md(ds).get("namespace", "")))

    def _fresh(self, ds: Obj) -> Any:
        async def get() -> Obj:
            return await self.client.get(DAEMONSETS, du.md(ds)["name"], du.md(ds).get("namespace"))
        return get

    async def nodes_to_pods(self, ds: Obj, include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
        """The claimed daemon pods by the node they are for."""
        selector = self._selector(ds) or LabelSelector()
        manager = refmanager.ControllerRefManager(self.client, PODS, ds, selector, du.API_VERSION, du.KIND,
                                                  refmanager.recheck_deletion_timestamp(self._fresh(ds), ds))
        pods = await manager.claim(self.pod_informer.list(du.md(ds).get("namespace", "")))
        out: dict[str, list[Obj]] = collections.defaultdict(list)
        for pod in pods:
            if not include_deleted_terminal and podstate.is_pod_terminal(pod) and du.md(pod).get("deletionTimestamp"):
                continue
            node = du.target_node(pod)
            if node:
                out[node].append(pod)
        return out

    async def manage(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        by_node = await self.nodes_to_pods(ds)
        create_on: list[str] = []
        delete: list[str] = []
        for node in nodes:
            c, d = self._pods_should_be_on_node(ds, node, by_node.get(du.md(node).get("name", ""), []), hash_)
            create_on += c
            delete += d
        names = {du.md(n).get("name") for n in nodes}
        for node_name, pods in by_node.items():
            if node_name not in names:
                delete += [du.md(p)["name"] for p in pods if not du.spec(p).get("nodeName")]
        await self.sync_nodes(ds, delete, create_on, hash_)

    def _pods_should_be_on_node(self, ds: Obj, node: Obj, pods: list[Obj], hash_: str) -> tuple[list[str], list[str]]:
        node_name = du.md(node).get("name", "")
        run, keep = du.should_run(node, ds)
        if run and not pods:
            return [node_name], []
        if not keep:
            return [], [du.md(p)["name"] for p in pods if not du.md(p).get("deletionTimestamp")]
        delete: list[str] = []
        running: list[Obj] = []
        for pod in pods:
            if du.md(pod).get("deletionTimestamp"):
                continue
            phase = podstate.phase(pod)
            if phase == "Failed":
                if not self._failed_pod_may_go(ds, node_name):
                    continue
                self.recorder.record(ds, WARNING, FAILED_DAEMON_POD, f"Found failed daemon pod "
                                     f"{du.md(pod).get('namespace')}/{du.md(pod)['name']} on node {node_name}, "
                                     "will try to kill it")
                delete.append(du.md(pod)["name"])
            elif phase == "Succeeded":
                delete.append(du.md(pod)["name"])
            else:
                running.append(pod)
        if len(running) <= 1:
            return [], delete
        running = du.oldest_first(running)
        rolling = (du.spec(ds).get("updateStrategy") or {}).get("rollingUpdate") or {}
        if not du.scaled_value(rolling.get("maxSurge", 0), 1) or \
                (du.spec(ds).get("updateStrategy") or {}).get("type") == "OnDelete":
            return [], delete + [du.md(p)["name"] for p in running[1:]]
        generation = du.template_generation(ds)
        newest = oldest = None
        for pod in running:
            if du.is_updated(pod, hash_, generation):
                if newest is None:
                    newest = pod
                    continue
            elif oldest is None:
                oldest = pod
                continue
            delete.append(du.md(pod)["name"])
        if newest is not None and oldest is not None and (not podstate.is_pod_ready(oldest) or podstate.is_pod_available(
                newest, int(du.spec(ds).get("minReadySeconds") or 0), self.clock())):
            delete.append(du.md(oldest)["name"])
        return [], delete

    def _failed_pod_may_go(self, ds: Obj, node_name: str) -> bool:
        """A per-(set, node) backoff between deletions of failed pods, so a kubelet that rejects the
        pod is not fought in a hot loop."""
        key, now = f"{du.md(ds).get('uid')}/{node_name}", self.clock()
        delay, last = self._backoff.get(key, (0.0, 0.0))
        if delay and now - last < delay:
            self.enqueue_after(ds, delay - (now - last))
            return False
        expired = now - last > 2 * MAX_FAILED_POD_BACKOFF
        self._backoff[key] = (FAILED_POD_BACKOFF if not delay or expired else min(2 * delay, MAX_FAILED_POD_BACKOFF),
                              now)
        return True

    async def sync_nodes(self, ds: Obj, delete: list[str], create_on: list[str], hash_: str) -> None:
        """Create pods for ``create_on`` in slow-start batches and delete ``delete``, under expectations."""
        key, ns = key_of(ds), du.md(ds).get("namespace", "")
        create_on, delete = create_on[:self.burst_replicas], delete[:self.burst_replicas]
        self.expectations.set_expectations(key, len(create_on), len(delete))
        template = du.pod_template(ds, hash_)
        ref = refmanager.new_controller_ref(ds, du.API_VERSION, du.KIND)
        targets = iter(create_on)
        errors: list[Exception] = []

        async def create_one() -> None:
            try:
                await self.pod_control.create_pods(ns, du.pin_to_node(template, next(targets)), ds, ref)
            except ApiError as e:
                if has_status_cause(e, podcontrol.NAMESPACE_TERMINATING):
                    return
                self.expectations.creation_observed(key)
                raise

        done, error = await podcontrol.slow_start_batch(len(create_on), 1, create_one)
        if error is not None:
            errors.append(error)
            skipped = sum(1 for _ in targets)  # never attempted: will not be observed
            self.expectations.lower_expectations(key, skipped, 0)
            log.debug("DaemonSet %s: %d of %d creates done, %d skipped after a failure", key, done, len(create_on),
                      skipped)

        async def delete_one(name: str) -> None:
            try:
                await self.pod_control.delete_pod(ns, name, ds)
            except ApiError as e:
                self.expectations.deletion_observed(key)
                if not isinstance(e, NotFoundError):
                    raise

        results = await asyncio.gather(*(delete_one(n) for n in delete), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                if not isinstance(r, Exception):
                    raise r
                errors.append(r)
        if errors:
            raise errors[0]

    async def _update_status(self, ds: Obj, nodes: list[Obj], hash_: str, observed: bool) -> None:
        by_node = await self.nodes_to_pods(ds)
        generation, now = du.template_generation(ds), self.clock()
        min_ready = int(du.spec(ds).get("minReadySeconds") or 0)
        counts = dict.fromkeys(_COUNTS, 0)
        for node in nodes:
            pods = by_node.get(du.md(node).get("name", ""), [])
            run, _ = du.should_run(node, ds)
            if not run:
                counts["numberMisscheduled"] += bool(pods)
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            pod = du.oldest_first(pods)[0]
            if podstate.is_pod_ready(pod):
                counts["numberReady"] += 1
                counts["numberAvailable"] += podstate.is_pod_available(pod, min_ready, now)
            counts["updatedNumberScheduled"] += du.is_updated(pod, hash_, generation)
        counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        old = ds.get("status") or {}
        gen = int(du.md(ds).get("generation") or 0)
        if all(int(old.get(k) or 0) == v for k, v in counts.items()) and int(old.get("observedGeneration") or 0) >= gen:
            return
        status = copy.deepcopy(old)
        for k, v in counts.items():
            if v or k in ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled", "numberReady"):
                status[k] = v
            else:
                status.pop(k, None)
        target = copy.deepcopy(ds)
        for attempt in range(2):
            if observed:
                status["observedGeneration"] = gen
            target["status"] = status
            try:
                await self.client.replace(DAEMONSETS, target, du.md(ds).get("namespace"), subresource="status")
                break
            except ConflictError:
                if attempt:
                    raise
                target = await self.client.get(DAEMONSETS, du.md(ds)["name"], du.md(ds).get("namespace"))
                status = {**(target.get("status") or {}), **{k: v for k, v in status.items() if k in _COUNTS}}
        if min_ready and counts["numberReady"] != counts["numberAvailable"]:
            self.queue.add_after(key_of(ds), min_ready)

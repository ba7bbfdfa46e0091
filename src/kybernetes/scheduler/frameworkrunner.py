"""``Framework``: one profile's plugin instances, run per extension point in Kubernetes' order.

It is also the ``Handle`` the plugins receive (snapshot, listers, client, recorder, nominated pods).
``scheduler.py`` drives it: PreFilter once, Filter per node, PostFilter on failure, PreScore/Score
over the feasible nodes, then Reserve → Permit → (async) PreBind → Bind → PostBind.
Upstream: pkg/scheduler/framework/runtime/framework.go.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kybernetes.scheduler import framework as fw
from kybernetes.scheduler import plugins as registry
from kybernetes.scheduler.framework import CycleState, NodeToStatus, PreFilterResult, Status
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

if TYPE_CHECKING:
    from kybernetes.client.events import EventRecorder
    from kybernetes.client.rest import Client
    from kybernetes.scheduler.profile import Profile

log = logging.getLogger(__name__)

MEMO_KEYS = 4096  # distinct pod keys remembered before the memos start over
_MEMO_IDS = itertools.count()  # process-wide: frameworks of several profiles share the NodeInfos


class DictLister:
    """A static lister (tests, or resources the scheduler does not watch): ``get(key)``/``list()``."""

    def __init__(self, objects: list[dict[str, Any]] | None = None) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        for o in objects or ():
            md = o.get("metadata") or {}
            ns = md.get("namespace")
            self.store[f"{ns}/{md['name']}" if ns else md["name"]] = o

    def get(self, key: str) -> dict[str, Any] | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.store.values()
                if namespace is None or (o.get("metadata") or {}).get("namespace") == namespace]


class Framework:
    """Plugins of one profile, and the handle they share."""

    def __init__(self, profile: Profile, snapshot: fw.SharedLister, client: Client | None = None,
                 recorder: EventRecorder | None = None, listers: dict[str, Any] | None = None,
                 nominator: Any = None) -> None:
        self.profile = profile
        self._snapshot = snapshot
        self._client = client
        self._recorder = recorder
        self._listers = listers or {}
        self._nominator = nominator
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.REGISTRY.get(spec.name)
            if factory is None:
                raise ValueError(f"unknown scheduler plugin {spec.name!r}; known: {', '.join(sorted(registry.REGISTRY))}")
            self.plugins[spec.name] = factory(spec.args, self)
            self.weights[spec.name] = spec.weight
        ps = list(self.plugins.values())
        self.pre_enqueue = [p for p in ps if isinstance(p, fw.PreEnqueuePlugin)]
        self.pre_filter = [p for p in ps if isinstance(p, fw.PreFilterPlugin)]
        self.pre_filter_ext = [p for p in ps if isinstance(p, fw.PreFilterExtensions)]
        self.filter = [p for p in ps if isinstance(p, fw.FilterPlugin)]
        self.post_filter = [p for p in ps if isinstance(p, fw.PostFilterPlugin)]
        self.pre_score = [p for p in ps if isinstance(p, fw.PreScorePlugin)]
        self.score = [p for p in ps if isinstance(p, fw.ScorePlugin)]
        self.reserve = [p for p in ps if isinstance(p, fw.ReservePlugin)]
        self.permit = [p for p in ps if isinstance(p, fw.PermitPlugin)]
        self.pre_bind = [p for p in ps if isinstance(p, fw.PreBindPlugin)]
        self.bind = [p for p in ps if isinstance(p, fw.BindPlugin)]
        self.post_bind = [p for p in ps if isinstance(p, fw.PostBindPlugin)]
        # (name, score, normalize or None, weight), resolved once: isinstance on Protocols is slow
        self._scorers = [(p.name, p.score, p.normalize_score if isinstance(p, fw.NormalizeScorePlugin) else None,
                          self.weights.get(p.name) or 1) for p in self.score]
        self._filter_keys = [(p.name, getattr(p, "filter_key", None)) for p in self.filter]
        self._score_keys = [(name, normalize is None and getattr(self.plugins[name], "score_key", None))
                            for name, _, normalize, _ in self._scorers]
        # Verdicts are remembered across cycles on the NodeInfos (``filter_verdict``, ``score_total``,
        # forgotten when a node changes), for a pod key id (``filter_memo_key``/``score_memo_key``): a
        # burst of alike pods re-filters and re-scores only the nodes that changed since the last cycle.
        self._memo_ids: dict[Any, int] = {}

    def set_nominator(self, nominator: Any) -> None:
        """The queue, which knows which pods preemption nominated to which nodes."""
        self._nominator = nominator

    # --- Handle -------------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        assert self._client is not None, "this framework has no client"
        return self._client

    @property
    def recorder(self) -> EventRecorder:
        assert self._recorder is not None, "this framework has no event recorder"
        return self._recorder

    def snapshot(self) -> fw.SharedLister:
        return self._snapshot

    def lister(self, resource: str) -> Any:
        lst = self._listers.get(resource)
        if lst is None:
            lst = self._listers[resource] = DictLister()
        return lst

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.lister("Namespace").get(namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        if self._nominator is None:
            return []
        pods: list[PodInfo] = self._nominator.nominated_pods_for_node(node_name)
        return pods

    def events(self) -> dict[str, list[fw.ClusterEvent]]:
        return {name: p.events_to_register() for name, p in self.plugins.items()
                if isinstance(p, fw.EnqueueExtensions)}

    # --- PreEnqueue / PreFilter / Filter ------------------------------------------------------------
    def run_pre_enqueue(self, pod: PodInfo) -> Status | None:
        for p in self.pre_enqueue:
            st = p.pre_enqueue(pod)
            if not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return st
        return None

    def run_pre_filter(self, state: CycleState, pod: PodInfo
                       ) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """→ (merged node-name restriction, first rejection, plugins that restricted/rejected)."""
        result: PreFilterResult | None = None
        restricting: list[str] = []
        for p in self.pre_filter:
            r, st = p.pre_filter(state, pod)
            if st is not None and st.code == fw.Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            if not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return None, st, {p.name}
            if r is None or r.node_names is None:
                continue
            result = r if result is None else result.merge(r)
            restricting.append(p.name)
        if result is not None and result.node_names is not None and not result.node_names:
            msg = (f"node(s) didn't satisfy plugin {restricting[0]}" if len(restricting) == 1 else
                   f"node(s) didn't satisfy plugin(s) [{' '.join(restricting)}] simultaneously")
            return result, Status.unresolvable(msg), set(restricting)
        return result, None, set(restricting)

    # --- memoized verdicts --------------------------------------------------------------------------
    def filter_memo_key(self, state: CycleState, pod: PodInfo) -> int | None:
        """A number standing for everything this cycle's Filter plugins read of ``pod``, when each of
        them declares (``filter_key(pod)``) that its verdict on a node is a function of that key and
        of the node (as of its ``generation``) alone; None when one does not."""
        parts = []
        for name, key_of in self._filter_keys:
            if name in state.skip_filter:
                continue
            key = key_of(pod) if key_of else None
            if key is None:
                return None
            parts.append((name, key))
        return self._memo_id(("filter", tuple(parts)))

    def score_memo_key(self, state: CycleState, pod: PodInfo) -> int | None:
        """Likewise for the weighted total of this cycle's Score plugins (``score_key(pod)``; a
        plugin that normalizes its scores depends on the other nodes, so it never qualifies)."""
        parts = []
        for name, key_of in self._score_keys:
            if name in state.skip_score:
                continue
            key = key_of(pod) if key_of else None
            if key is None:
                return None
            parts.append((name, key))
        return self._memo_id(("score", tuple(parts)))

    def _memo_id(self, key: Any) -> int:
        ids = self._memo_ids
        kid = ids.get(key)
        if kid is None:
            if len(ids) >= MEMO_KEYS:  # many pod shapes: start over rather than grow
                ids.clear()
            kid = ids[key] = next(_MEMO_IDS)  # never reused: a stale memo can never match
        return kid

    def filter_funcs(self, state: CycleState) -> list[tuple[str, Callable[..., Status | None]]]:
        return [(p.name, p.filter) for p in self.filter if p.name not in state.skip_filter]

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for name, f in self.filter_funcs(state):
            st = f(state, pod, node)
            if st is not None and st.code != fw.Code.SUCCESS:
                st.plugin = name
                return st
        return None

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: PodInfo,
                                               node: NodeInfo) -> Status | None:
        """Filter twice when higher-or-equal priority pods are nominated here: with them (they
        will take their room) and without (affinity to them must not count)."""
        nominated = [p for p in self.nominated_pods_for_node(node.name)
                     if p.priority >= pod.priority and p.key != pod.key]
        if nominated:
            s2 = state.clone()
            n2 = node.clone()
            for p in nominated:
                n2.add_pod(p)
                st = self.run_pre_filter_extension_add_pod(s2, pod, p, n2)
                if not fw.is_success(st):
                    return st
            st = self.run_filter(s2, pod, n2)
            if not fw.is_success(st):
                return st
        return self.run_filter(state, pod, node)

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo,
                                         node: NodeInfo) -> Status | None:
        return self._run_pre_filter_extension("add_pod", state, pod, added, node)

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, victim: PodInfo,
                                            node: NodeInfo) -> Status | None:
        return self._run_pre_filter_extension("remove_pod", state, pod, victim, node)

    def _run_pre_filter_extension(self, method: str, state: CycleState, pod: PodInfo, other: PodInfo,
                                  node: NodeInfo) -> Status | None:
        """Tell every PreFilter extension (not skipped this cycle) that ``other`` joins/leaves ``node``."""
        for p in self.pre_filter_ext:
            if p.name in state.skip_filter:
                continue
            st = getattr(p, method)(state, pod, other, node)
            if not fw.is_success(st):
                return st
        return None

    async def run_post_filter(self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
                              ) -> tuple[fw.PostFilterResult | None, Status | None]:
        result: fw.PostFilterResult | None = None
        last: Status | None = Status(fw.Code.UNSCHEDULABLE)
        for p in self.post_filter:
            r, st = await p.post_filter(state, pod, statuses)
            if fw.is_success(st):
                return r, None
            assert st is not None
            if st.code != fw.Code.UNSCHEDULABLE:
                st.plugin = p.name
                return r, st
            result, last = r or result, st
        return result, last

    # --- PreScore / Score ---------------------------------------------------------------------------
    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for p in self.pre_score:
            st = p.pre_score(state, pod, nodes)
            if st is not None and st.code == fw.Code.SKIP:
                state.skip_score.add(p.name)
            elif not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return st
        return None

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Weighted total per node (same order as ``nodes``)."""
        kid = self.score_memo_key(state, pod)
        if kid is not None:
            return self._memo_scores(state, pod, nodes, kid)
        total = [0] * len(nodes)
        skip = state.skip_score
        for name, f, normalize, weight in self._scorers:
            if name in skip:
                continue
            scores = [f(state, pod, n) for n in nodes]
            if normalize is not None:
                normalize(state, pod, nodes, scores)
            if weight == 1:
                total = [t + s for t, s in zip(total, scores, strict=True)]
            else:
                total = [t + s * weight for t, s in zip(total, scores, strict=True)]
        return total

    def _memo_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], kid: int) -> list[int]:
        scorers = [(f, weight) for name, f, _, weight in self._scorers if name not in state.skip_score]
        out = []
        for n in nodes:
            m = n.score_total
            if m is not None and m[0] == kid:
                out.append(m[1])
                continue
            total = 0
            for f, weight in scorers:
                total += f(state, pod, n) * weight
            n.score_total = (kid, total)
            out.append(total)
        return out

    @property
    def has_score_plugins(self) -> bool:
        return bool(self.score)

    # --- Reserve / Permit / Bind --------------------------------------------------------------------
    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.reserve:
            st = p.reserve(state, pod, node)
            if not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return st
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for p in reversed(self.reserve):
            p.unreserve(state, pod, node)

    def run_permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.permit:
            st = p.permit(state, pod, node)
            if not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return st
        return None

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.pre_bind:
            st = await p.pre_bind(state, pod, node)
            if not fw.is_success(st):
                assert st is not None
                st.plugin = p.name
                return st
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.bind:
            st = await p.bind(state, pod, node)
            if st is not None and st.code == fw.Code.SKIP:
                continue
            if st is not None:
                st.plugin = p.name
            return st
        return Status.error("no bind plugin handled the pod")

    def run_post_bind(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for p in self.post_bind:
            p.post_bind(state, pod, node)

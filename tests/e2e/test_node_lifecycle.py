"""A node that stops heartbeating, seen with the real kubectl: the node lifecycle and taint eviction
controllers (in-process, 2 s grace period, pointed at a real ``kyb server``) mark it NotReady/Unknown,
taint it ``node.kubernetes.io/unreachable``, and evict the pod that tolerates that for only 1 s.

Two nodes share a zone of their own, and one keeps renewing its Lease, so the zone is not "fully
disrupted" (Kubernetes stops evicting when every node is down). Deadlines, no fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kybernetes.api.printing import format_time
from kybernetes.client.events import EventRecorder
from kybernetes.client.rest import LEASES, NODES, PODS, Client, load_kubeconfig
from kybernetes.client.sharedinformers import SharedInformerFactory
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from kybernetes.controllers.tainteviction import TaintEvictionController
from tests.e2e.conftest import Cluster, Kubectl

pytestmark = pytest.mark.e2e

GRACE = 2.0


async def kc(kubectl: Kubectl, *args: str, **kw: Any) -> str:
    return await asyncio.to_thread(kubectl, *args, **kw)


async def eventually(what: str, check: Callable[[], Any], deadline: float = 30.0) -> Any:
    """Poll ``check`` (an async callable returning a truthy result when done) until ``deadline``."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last saw: {last!r}")


def node_yaml(name: str, zone: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Node
        metadata:
          name: {name}
          labels: {{topology.kubernetes.io/zone: {zone}, kubernetes.io/hostname: {name}}}
        ---
        apiVersion: coordination.k8s.io/v1
        kind: Lease
        metadata:
          name: {name}
          namespace: kube-node-lease
        spec:
          holderIdentity: {name}
          leaseDurationSeconds: 40
          renewTime: "{format_time(time.time(), micro=True)}"
        """)


def ready_status(now: float) -> str:
    conditions = [{"type": t, "status": s, "reason": r, "message": "e2e", "lastHeartbeatTime": format_time(now),
                   "lastTransitionTime": format_time(now)}
                  for t, s, r in (("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                                  ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                                  ("PIDPressure", "False", "KubeletHasSufficientPID"),
                                  ("Ready", "True", "KubeletReady"))]
    return json.dumps({"status": {"conditions": conditions}})


@pytest.fixture
async def controllers(cluster: Cluster) -> AsyncIterator[Client]:
    """Node lifecycle + taint eviction controllers against the cluster, with a 2 s grace period."""
    client = Client(load_kubeconfig(cluster.kubeconfig, user_agent="e2e-node-lifecycle"))
    factory = SharedInformerFactory(client)
    recorder = EventRecorder(client, "node-controller")
    taint_recorder = EventRecorder(client, "taint-eviction-controller")
    lifecycle = NodeLifecycleController(factory.informer(NODES), factory.informer(LEASES), factory.informer(PODS),
                                        client, recorder, grace_period=GRACE, monitor_period=0.5)
    eviction = TaintEvictionController(factory.informer(NODES), factory.informer(PODS), client, taint_recorder)
    factory.start()
    recorder.start()
    taint_recorder.start()
    tasks = [asyncio.create_task(lifecycle.run(2), name="e2e-nodelifecycle"),
             asyncio.create_task(eviction.run(2), name="e2e-tainteviction")]
    try:
        yield client
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(recorder.stop(), taint_recorder.stop(), return_exceptions=True)
        await factory.stop()
        await client.close()


async def test_silent_node_goes_unknown_is_tainted_and_its_pod_evicted(kubectl: Kubectl, controllers: Client) -> None:
    client = controllers
    tag = f"{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    healthy, silent, ns, zone = f"nl-ok-{tag}", f"nl-gone-{tag}", f"nl-{tag}", f"e2e-{tag}"
    await kc(kubectl, "create", "namespace", ns)
    await kc(kubectl, "apply", "-f", "-", input=node_yaml(healthy, zone) + "---\n" + node_yaml(silent, zone))
    for name in (healthy, silent):
        await kc(kubectl, "patch", "node", name, "--subresource=status", "--type=merge", "-p", ready_status(time.time()))
    pod = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: web, namespace: {ns}}}
        spec:
          nodeName: {silent}
          containers: [{{name: c, image: busybox}}]
          tolerations:
          - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}}
        """)
    await kc(kubectl, "apply", "-f", "-", input=pod)

    stop = asyncio.Event()

    async def heartbeat() -> None:  # only the healthy node's kubelet is "alive"
        while not stop.is_set():
            await client.patch(LEASES, healthy, {"spec": {"renewTime": format_time(time.time(), micro=True)}},
                               "kube-node-lease")
            await asyncio.sleep(0.3)

    beat = asyncio.create_task(heartbeat(), name="e2e-heartbeat")
    try:
        async def silent_node_unreachable() -> Any:
            node = json.loads(await kc(kubectl, "get", "node", silent, "-o", "json"))
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
            if ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in taints:
                return node
            return None

        node = await eventually("the silent node to turn Unknown and be tainted", silent_node_unreachable)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
        taint = next(t for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
        assert taint["key"] == "node.kubernetes.io/unreachable" and taint.get("timeAdded")
        rows = {line.split()[0]: line.split()[1] for line in
                (await kc(kubectl, "get", "nodes", healthy, silent, "--no-headers")).splitlines()}
        assert rows == {healthy: "Ready", silent: "NotReady"}

        async def pod_evicted() -> Any:
            out = await kc(kubectl, "get", "pod", "web", "-n", ns, "-o", "json", "--ignore-not-found")
            if not out.strip():
                return "gone"
            got = json.loads(out)
            return got if got["metadata"].get("deletionTimestamp") else None

        evicted = await eventually("the pod to be evicted", pod_evicted)
        if evicted != "gone":
            cond = {c["type"]: c for c in evicted["status"].get("conditions") or []}["DisruptionTarget"]
            assert (cond["status"], cond["reason"]) == ("True", "DeletionByTaintManager")

        async def eviction_event() -> Any:
            events = json.loads(await kc(kubectl, "get", "events", "-n", ns, "-o", "json"))["items"]
            return [e for e in events if e["reason"] == "TaintManagerEviction"
                    and e["message"] == f"Marking for deletion Pod {ns}/web"]

        await eventually("the TaintManagerEviction event", eviction_event, deadline=15)
        healthy_node = json.loads(await kc(kubectl, "get", "node", healthy, "-o", "json"))
        assert not any(t["effect"] == "NoExecute" for t in healthy_node["spec"].get("taints") or [])
    finally:
        stop.set()
        await asyncio.gather(beat, return_exceptions=True)
        await kc(kubectl, "delete", "node", healthy, silent, "--ignore-not-found", "--wait=false", check=False)
        await kc(kubectl, "delete", "lease", "-n", "kube-node-lease", healthy, silent, "--ignore-not-found", check=False)
        await kc(kubectl, "delete", "namespace", ns, "--wait=false", check=False)

"""Controllers end to end: a real ``kyb server``, the controller manager running in this process (its
own event loop in a thread, talking HTTPS with the cluster's kubeconfig), and the real kubectl.

No nodes run, so pods stay Pending; readiness is simulated by patching pod status through the API
(``pods/status``), as a kubelet would. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    DISPATCHER,
    Cluster,
    ComponentThread,
    Kubectl,
    bare_server,
    kubectl_137,
    wait_until,
)

pytestmark = pytest.mark.e2e


class ControllerManagerThread(ComponentThread):
    name = "controller-manager"

    async def main(self, stop: asyncio.Event) -> None:
        from kybernetes.client.rest import Client, load_kubeconfig
        from kybernetes.controllers import manager

        client = Client(load_kubeconfig(self.cluster.kubeconfig, user_agent="kube-controller-manager"))
        ca = manager.root_ca_from_kubeconfig(str(self.cluster.kubeconfig))
        self.started.set()
        try:
            await manager.run_controller_manager(client, stop, "e2e-controller-manager", root_ca_pem=ca)
        finally:
            await client.close()


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server without its embedded controller manager (and scheduler): the one under test runs here."""
    with bare_server(tmp_path_factory.mktemp("kyb-controllers"), "--disable-controller-manager",
                     "--disable-scheduler") as c:
        yield c


@pytest.fixture(scope="module")
def controller_manager(own_cluster: Cluster) -> Iterator[ControllerManagerThread]:
    with ControllerManagerThread(own_cluster) as cm:
        yield cm


@pytest.fixture(params=["1.32", "1.37"], scope="module")
def k(request: pytest.FixtureRequest, own_cluster: Cluster) -> Kubectl:
    if request.param == "1.32":
        return Kubectl(own_cluster, DISPATCHER, "1.32")
    return Kubectl(own_cluster, kubectl_137(), "1.37")


def get_json(k: Kubectl, *args: str) -> dict[str, Any]:
    return json.loads(k("get", *args, "-o", "json"))


def items(k: Kubectl, kind: str, ns: str) -> list[dict[str, Any]]:
    return get_json(k, kind, "-n", ns)["items"]


def make_ready(k: Kubectl, ns: str) -> int:
    """Mark every pod that is not Ready yet as Running and Ready, with an IP (what a kubelet reports)."""
    n = 0
    for i, pod in enumerate(items(k, "pods", ns)):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", [])):
            continue
        status = {"phase": "Running", "podIP": f"10.42.7.{i + 10}", "podIPs": [{"ip": f"10.42.7.{i + 10}"}],
                  "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
        with contextlib.suppress(AssertionError):  # the pod may be deleted meanwhile
            k("patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": status}))
            n += 1
    return n


def controller_of(obj: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in obj["metadata"].get("ownerReferences", []) if r.get("controller"))


def roll_out(k: Kubectl, ns: str, name: str = "web") -> dict[str, Any]:
    """Keep marking new pods ready until the Deployment reports a completed rollout."""
    def done() -> dict[str, Any] | None:
        make_ready(k, ns)
        d = get_json(k, "deploy", name, "-n", ns)
        st, want = d.get("status", {}), d["spec"]["replicas"]
        ok = st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas") == want \
            and st.get("replicas") == want and st.get("availableReplicas") == want
        return d if ok else None

    return wait_until(f"deployment {ns}/{name} to roll out", done)


def test_deployment_lifecycle(k: Kubectl, controller_manager: ControllerManagerThread) -> None:
    ns = f"ctl-{k.version.replace('.', '')}"
    k("create", "namespace", ns)
    wait_until("default service account", lambda: k.run("get", "sa", "default", "-n", ns, check=False).returncode == 0)
    ca = get_json(k, "cm", "kube-root-ca.crt", "-n", ns)
    assert "BEGIN CERTIFICATE" in ca["data"]["ca.crt"]

    k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "-n", ns)
    pods = wait_until("3 pods", lambda: p if len(p := items(k, "pods", ns)) == 3 else None)
    [rs1] = items(k, "rs", ns)
    deploy = get_json(k, "deploy", "web", "-n", ns)
    h = rs1["metadata"]["labels"]["pod-template-hash"]
    assert rs1["metadata"]["name"] == f"web-{h}"
    assert rs1["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert controller_of(rs1)["uid"] == deploy["metadata"]["uid"] and controller_of(rs1)["kind"] == "Deployment"
    for p in pods:
        assert p["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
        assert p["metadata"]["name"].startswith(f"web-{h}-")
        ref = controller_of(p)
        assert (ref["kind"], ref["name"], ref["uid"], ref["blockOwnerDeletion"]) == \
            ("ReplicaSet", rs1["metadata"]["name"], rs1["metadata"]["uid"], True)

    roll_out(k, ns)
    out = k("rollout", "status", "deploy/web", "-n", ns, "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in out
    described = k("describe", "deploy", "web", "-n", ns)
    assert f"NewReplicaSet:   web-{h} (3/3 replicas created)" in described
    assert "ScalingReplicaSet" in described and f"Scaled up replica set web-{h} from 0 to 3" in described

    # a service gets Endpoints and an EndpointSlice for the ready pods
    k("expose", "deploy", "web", "--port=80", "-n", ns)
    ep = wait_until("endpoints", lambda: (e := get_json(k, "endpoints", "web", "-n", ns)).get("subsets") and e)
    assert len(ep["subsets"][0]["addresses"]) == 3
    slices = wait_until("endpointslice", lambda: items(k, "endpointslices", ns))
    assert slices[0]["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"])

    # a new template: a second ReplicaSet, and history shows both revisions
    k("set", "image", "deploy/web", "nginx=nginx:1.26", "-n", ns)
    wait_until("a second replica set", lambda: len(items(k, "rs", ns)) == 2)
    roll_out(k, ns)
    history = k("rollout", "history", "deploy/web", "-n", ns)
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    rs_by_name = {r["metadata"]["name"]: r for r in items(k, "rs", ns)}
    assert rs_by_name[rs1["metadata"]["name"]]["spec"]["replicas"] == 0

    # undo to revision 1: the first ReplicaSet comes back as revision 3, no third ReplicaSet
    assert "rolled back" in k("rollout", "undo", "deploy/web", "--to-revision=1", "-n", ns)

    def reverted() -> bool:
        rss = {r["metadata"]["name"]: r for r in items(k, "rs", ns)}
        first = rss[rs1["metadata"]["name"]]
        ann = first["metadata"].get("annotations", {})
        return len(rss) == 2 and ann.get("deployment.kubernetes.io/revision") == "3" and \
            ann.get("deployment.kubernetes.io/revision-history") == "1"

    wait_until("rollback to revision 1", reverted)
    roll_out(k, ns)
    history = k("rollout", "history", "deploy/web", "-n", ns)
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    assert get_json(k, "deploy", "web", "-n", ns)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

    # scale
    k("scale", "deploy/web", "--replicas=5", "-n", ns)
    wait_until("5 pods of the first replica set", lambda: sum(
        1 for p in items(k, "pods", ns) if controller_of(p)["uid"] == rs1["metadata"]["uid"]) == 5)

    # cascade delete: the garbage collector removes the ReplicaSets and their pods
    k("delete", "deploy", "web", "-n", ns)
    wait_until("replica sets and pods to be collected",
               lambda: not items(k, "rs", ns) and not items(k, "pods", ns))

    # namespace deletion empties and finalizes the namespace
    k("delete", "svc", "web", "-n", ns)
    k("delete", "namespace", ns, "--wait=false")
    wait_until("namespace to go away", lambda: k.run("get", "namespace", ns, check=False).returncode != 0,
               deadline_s=60)


def test_foreground_and_orphan_deletion(k: Kubectl, controller_manager: ControllerManagerThread) -> None:
    ns = f"gc-{k.version.replace('.', '')}"
    k("create", "namespace", ns)
    k("create", "deployment", "fg", "--image=nginx", "--replicas=2", "-n", ns)
    k("create", "deployment", "orph", "--image=nginx", "--replicas=2", "-n", ns)
    wait_until("4 pods", lambda: len(items(k, "pods", ns)) == 4)
    k("delete", "deploy", "fg", "--cascade=foreground", "-n", ns, timeout=60)  # waits until the owner is gone
    remaining = items(k, "rs", ns)
    assert [r["metadata"]["name"].rsplit("-", 1)[0] for r in remaining] == ["orph"]
    assert all(controller_of(p)["uid"] == remaining[0]["metadata"]["uid"] for p in items(k, "pods", ns))
    k("delete", "deploy", "orph", "--cascade=orphan", "-n", ns, timeout=60)
    wait_until("orphaned replica set", lambda: not items(k, "rs", ns)[0]["metadata"].get("ownerReferences"))
    assert len(items(k, "pods", ns)) == 2  # orphaning keeps the dependents
    k("delete", "namespace", ns, "--wait=false")


def test_resource_quota_counts_and_refuses(k: Kubectl, controller_manager: ControllerManagerThread) -> None:
    ns = f"quota-{k.version.replace('.', '')}"
    k("create", "namespace", ns)
    k("create", "quota", "q", "--hard=pods=2,count/configmaps=10", "-n", ns)
    wait_until("quota status from the controller",
               lambda: get_json(k, "quota", "q", "-n", ns).get("status", {}).get("used", {}).get("pods") == "0")
    k("run", "one", "--image=busybox", "-n", ns)
    k("run", "two", "--image=busybox", "-n", ns)
    refused = k.run("run", "three", "--image=busybox", "-n", ns, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == ('Error from server (Forbidden): pods "three" is forbidden: exceeded quota: q, '
                                      'requested: pods=1, used: pods=2, limited: pods=2')
    assert "pods" in k("describe", "quota", "q", "-n", ns)
    k("delete", "pod", "one", "-n", ns, "--wait=false", "--grace-period=0", "--force")
    wait_until("the freed slot back in the quota",
               lambda: get_json(k, "quota", "q", "-n", ns)["status"]["used"]["pods"] == "1")
    k("run", "three", "--image=busybox", "-n", ns)
    k("delete", "namespace", ns, "--wait=false")

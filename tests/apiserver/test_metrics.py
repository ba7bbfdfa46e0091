"""metrics.k8s.io/v1beta1 served from kubelet summaries: discovery, NodeMetrics and PodMetrics lists and
gets, selectors, tables, errors, the per-node cache; the kubelet is a fake HTTPS server on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kybernetes.apiserver import metrics
from kybernetes.apiserver.app import ApiServer
from kybernetes.kubelet import tls

BASE = "/apis/metrics.k8s.io/v1beta1"
T = "2026-01-01T00:00:10Z"


def usage(cores: int, ws: int) -> dict[str, Any]:
    return {"cpu": {"time": T, "usageNanoCores": cores, "usageCoreNanoSeconds": 10**12},
            "memory": {"time": T, "workingSetBytes": ws, "usageBytes": ws * 2}}


SUMMARY: dict[str, Any] = {
    "node": {"nodeName": "n1", **usage(1_500_000_000, 2 << 30)},
    "pods": [
        {"podRef": {"name": "web", "namespace": "default", "uid": ""},
         "containers": [{"name": "app", **usage(250_000_000, 64 << 20)},
                        {"name": "side", **usage(2_186_376, 1234567)}]},
        {"podRef": {"name": "db", "namespace": "default", "uid": ""},
         "containers": [{"name": "pg", "cpu": {"time": T, "usageCoreNanoSeconds": 5},  # first sample: no rate
                         "memory": {"time": T, "workingSetBytes": 1}}]},
        {"podRef": {"name": "other", "namespace": "prod", "uid": ""},
         "containers": [{"name": "c", **usage(1_000_000, 1 << 20)}]},
    ],
}


class FakeKubelet:
    def __init__(self) -> None:
        self.hits = 0
        self.status = 200

    async def summary(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.status != 200:
            return web.Response(status=self.status, text="boom")
        return web.json_response(SUMMARY)


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[tuple[FakeKubelet, int]]:
    fake = FakeKubelet()
    app = web.Application()
    app.router.add_get("/stats/summary", fake.summary)
    cert, key = tls.ensure_serving_cert(tmp_path / "kubelet-tls", "n1", "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, port
    finally:
        await runner.cleanup()


async def create(client: TestClient, path: str, body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    created = await r.json()
    assert r.status == 201, created
    name = created["metadata"]["name"]
    r = await client.patch(f"{path}/{name}/status", json={"status": status},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200, await r.text()
    out: dict[str, Any] = await r.json()
    return out


def node_status(port: int, runtime: str = "containerd://1.7") -> dict[str, Any]:
    return {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}, "nodeInfo": {"containerRuntimeVersion": runtime}}


async def pod(client: TestClient, name: str, ns: str = "default", phase: str = "Running", node: str = "n1",
              labels: dict[str, str] | None = None) -> None:
    if ns != "default":
        await client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": ns}})
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "automountServiceAccountToken": False,
                     "containers": [{"name": "app", "image": "busybox"}]}}
    await create(client, f"/api/v1/namespaces/{ns}/pods", body, {"phase": phase})


@pytest.fixture
async def cluster(api: tuple[ApiServer, TestClient], kubelet: tuple[FakeKubelet, int]
                  ) -> tuple[TestClient, FakeKubelet]:
    _, client = api
    fake, port = kubelet
    for name, labels in (("n1", {"role": "worker"}), ("n2", {})):
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
        await create(client, "/api/v1/nodes", body, node_status(port if name == "n1" else 0))
    await pod(client, "web", labels={"app": "web"})
    await pod(client, "db", labels={"app": "db"})
    await pod(client, "done", phase="Succeeded")
    await pod(client, "other", ns="prod")
    return client, fake


async def get(client: TestClient, path: str, status: int = 200, **headers: str) -> Any:
    r = await client.get(path, headers=headers)
    body = await r.json()
    assert r.status == status, body
    return body


async def test_discovery_lists_the_metrics_group(api: tuple[ApiServer, TestClient]):
    _, client = api
    groups = await get(client, "/apis")
    assert any(g["name"] == "metrics.k8s.io" for g in groups["groups"])
    resources = await get(client, f"{BASE}")
    got = {r["name"]: (r["kind"], r["namespaced"], r["verbs"]) for r in resources["resources"]}
    assert got == {"nodes": ("NodeMetrics", False, ["get", "list"]), "pods": ("PodMetrics", True, ["get", "list"])}
    agg = await get(client, "/apis", Accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    group = next(g for g in agg["items"] if g["metadata"]["name"] == "metrics.k8s.io")
    assert [r["resource"] for r in group["versions"][0]["resources"]] == ["nodes", "pods"]


async def test_node_metrics(cluster: tuple[TestClient, FakeKubelet]):
    client, fake = cluster
    listed = await get(client, f"{BASE}/nodes")
    assert listed["kind"] == "NodeMetricsList" and listed["apiVersion"] == "metrics.k8s.io/v1beta1"
    [item] = listed["items"]  # n2 advertises no kubelet endpoint
    assert item["metadata"]["name"] == "n1" and item["metadata"]["labels"] == {"role": "worker"}
    assert item["usage"] == {"cpu": "1500m", "memory": "2Gi"}
    assert item["timestamp"] == T and item["window"] == "10s"
    one = await get(client, f"{BASE}/nodes/n1")
    assert one["kind"] == "NodeMetrics" and one["usage"] == item["usage"]
    assert (await get(client, f"{BASE}/nodes?labelSelector=role%3Dnone"))["items"] == []
    missing = await get(client, f"{BASE}/nodes/n2", 404)
    assert missing["message"] == 'nodemetrics.metrics.k8s.io "n2" not found'
    assert (await get(client, f"{BASE}/nodes/n9", 404))["message"] == 'nodes "n9" not found'
    assert fake.hits == 1  # the summary is cached for a few seconds


async def test_pod_metrics(cluster: tuple[TestClient, FakeKubelet]):
    client, _ = cluster
    listed = await get(client, f"{BASE}/namespaces/default/pods")
    assert listed["kind"] == "PodMetricsList"
    [web_] = listed["items"]  # db has no CPU rate yet, done is not Running
    assert web_["metadata"]["name"] == "web" and web_["metadata"]["namespace"] == "default"
    assert web_["metadata"]["labels"] == {"app": "web"}
    assert web_["containers"] == [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}},
                                  {"name": "side", "usage": {"cpu": "2186376n", "memory": "1234567"}}]
    assert web_["timestamp"] == T and web_["window"] == "10s"
    everywhere = await get(client, f"{BASE}/pods")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]] == [
        ("default", "web"), ("prod", "other")]
    assert (await get(client, f"{BASE}/namespaces/default/pods?labelSelector=app%3Ddb"))["items"] == []
    by_field = await get(client, f"{BASE}/pods?fieldSelector=metadata.namespace%3Dprod")
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["other"]
    one = await get(client, f"{BASE}/namespaces/default/pods/web")
    assert one["kind"] == "PodMetrics" and one["containers"] == web_["containers"]
    nometrics = await get(client, f"{BASE}/namespaces/default/pods/db", 404)
    assert nometrics["message"] == 'podmetrics.metrics.k8s.io "default/db" not found'
    assert (await get(client, f"{BASE}/namespaces/default/pods/nope", 404))["message"] == 'pods "nope" not found'
    bad = await get(client, f"{BASE}/pods?fieldSelector=spec.nodeName%3Dn1", 400)
    assert bad["message"] == "field label not supported: spec.nodeName"


async def test_tables_and_refused_verbs(cluster: tuple[TestClient, FakeKubelet]):
    client, _ = cluster
    table = await get(client, f"{BASE}/namespaces/default/pods", Accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    assert table["rows"][0]["cells"] == ["web", "252186376n", "68343431", "10s"]
    nodes = await get(client, f"{BASE}/nodes", Accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert nodes["rows"][0]["cells"] == ["n1", "1500m", "2Gi", "10s"]
    r = await client.get(f"{BASE}/nodes?watch=true")
    assert r.status == 405
    r = await client.delete(f"{BASE}/nodes/n1")
    assert r.status == 405


async def test_unreachable_kubelet_drops_only_its_objects(cluster: tuple[TestClient, FakeKubelet]):
    client, fake = cluster
    fake.status = 500
    assert (await get(client, f"{BASE}/nodes"))["items"] == []
    assert (await get(client, f"{BASE}/pods"))["items"] == []


def test_hollow_and_endpointless_nodes_are_never_contacted():
    status = node_status(10250)
    assert metrics.MetricsAPI.kubelet_url({"status": status}) == "https://127.0.0.1:10250/stats/summary"
    assert metrics.MetricsAPI.kubelet_url({"status": node_status(10250, "hollow://0.1.0")}) is None
    assert metrics.MetricsAPI.kubelet_url({"status": node_status(0)}) is None
    v6 = {**status, "addresses": [{"type": "InternalIP", "address": "::1"}]}
    assert metrics.MetricsAPI.kubelet_url({"status": v6}) == "https://[::1]:10250/stats/summary"


def test_a_pod_is_matched_by_uid_when_the_kubelet_gives_one():
    summary = {"pods": [{"podRef": {"name": "web", "namespace": "default", "uid": "old"},
                         "containers": [{"name": "app", **usage(1, 1)}]}]}
    assert metrics.pod_containers(summary, "default", "web", "new") is None
    got = metrics.pod_containers(summary, "default", "web", "old")
    assert got is not None and got[0] == [{"name": "app", "usage": {"cpu": "1n", "memory": "1"}}]

"""A Deployment's rolling update seen pod by pod: a ``kyb server`` (its controller manager and
scheduler on) with three hollow nodes, which report pods Running and Ready as soon as they are bound.

A watch on the Deployment's pods starts before ``kubectl set image`` and replays every change in
order. After each one the pods that exist (not terminating) must number at most ``replicas +
maxSurge``, and the available ones (Ready, ``minReadySeconds`` 0) at least ``replicas -
maxUnavailable``; the update ends with exactly ``replicas`` pods, all Ready and all of the new
template. Surge rounds up and unavailability down, as Kubernetes does with percentages.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.client.rest import PODS, Client, load_kubeconfig
from tests.e2e.conftest import Cluster, Kubectl, bare_server, kubectl_137, stop_process, wait_until
from tests.e2e.test_scheduler import start_agent

pytestmark = pytest.mark.e2e

PREFIX = "e2e-roll-"
OLD, NEW = "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"


@pytest.fixture(scope="module")
def roll_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("kyb-roll")
    with bare_server(base) as c:
        agent = start_agent(c, 3, PREFIX, base / "agent.log")
        try:
            k = Kubectl(c, kubectl_137(), "1.37")
            wait_until("hollow nodes", lambda: len(json.loads(k("get", "nodes", "-o", "json"))["items"]) == 3, 60)
            k("wait", "--for=condition=Ready", *[f"node/{PREFIX}{i}" for i in range(3)], "--timeout=60s")
            yield c
        finally:
            stop_process(agent)


def deployment(name: str, replicas: int, surge: int | str, unavailable: int | str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "minReadySeconds": 0, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": OLD}]}}}}


def absolute(value: int | str, replicas: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    share = replicas * int(value.rstrip("%")) / 100
    return math.ceil(share) if round_up else math.floor(share)


def ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def image(pod: dict[str, Any]) -> str:
    return str(pod["spec"]["containers"][0]["image"])


async def watch_update(c: Cluster, k: Kubectl, name: str, replicas: int, max_total: int, min_available: int,
                       ) -> list[tuple[int, int]]:
    """Update the image while watching the pods; check both bounds after every event. Returns the
    (existing, available) counts seen, in order."""
    client = Client(load_kubeconfig(c.kubeconfig))
    seen: list[tuple[int, int]] = []
    try:
        listed = await client.list(PODS, "default", labelSelector=f"app={name}")
        pods = {p["metadata"]["name"]: p for p in listed["items"]}

        def check(what: str) -> bool:
            live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
            available = sum(1 for p in live if ready(p))
            seen.append((len(live), available))
            assert len(live) <= max_total, f"{len(live)} pods exist after {what} (at most {max_total})"
            assert available >= min_available, f"{available} pods available after {what} (at least {min_available})"
            return len(pods) == replicas and all(image(p) == NEW and ready(p) for p in pods.values())

        check("the initial list")
        update = asyncio.create_task(asyncio.to_thread(k, "set", "image", f"deployment/{name}", f"c={NEW}"))
        done = False
        async with asyncio.timeout(120):
            while not done:
                async for ev in client.watch(PODS, "default", listed["metadata"]["resourceVersion"],
                                             labelSelector=f"app={name}"):
                    obj = ev["object"]
                    listed["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
                    if ev["type"] == "BOOKMARK":
                        continue
                    if ev["type"] == "DELETED":
                        pods.pop(obj["metadata"]["name"], None)
                    else:
                        pods[obj["metadata"]["name"]] = obj
                    if check(f"{ev['type']} {obj['metadata']['name']}") and update.done():
                        done = True
                        break
        await update
    finally:
        await client.close()
    return seen


@pytest.mark.parametrize(("name", "replicas", "surge", "unavailable"), [
    ("roll-abs", 4, 1, 1),
    ("roll-pct", 5, "40%", "30%"),  # surge 2 (rounded up), unavailable 1 (rounded down)
    ("roll-surge-only", 3, 1, 0),
])
def test_rolling_update_keeps_surge_and_availability_bounds(roll_cluster: Cluster, name: str, replicas: int,
                                                           surge: int | str, unavailable: int | str) -> None:
    k = Kubectl(roll_cluster, kubectl_137(), "1.37")
    k("apply", "-f", "-", input=json.dumps(deployment(name, replicas, surge, unavailable)))
    k("rollout", "status", f"deployment/{name}", "--timeout=60s", timeout=70)
    max_total = replicas + absolute(surge, replicas, True)
    min_available = replicas - absolute(unavailable, replicas, False)
    seen = asyncio.run(watch_update(roll_cluster, k, name, replicas, max_total, min_available))
    # the update really went through intermediate states: some point had fewer than all pods ready,
    # or more pods than replicas
    assert any(total > replicas or available < replicas for total, available in seen), seen
    k("rollout", "status", f"deployment/{name}", "--timeout=60s", timeout=70)
    rs = json.loads(k("get", "rs", "-l", f"app={name}", "-o", "json"))["items"]
    assert sorted((r["spec"]["replicas"], r["spec"]["template"]["spec"]["containers"][0]["image"]) for r in rs) == \
        [(0, OLD), (replicas, NEW)]
    k("delete", "deployment", name)

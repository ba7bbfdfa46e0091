"""resourceVersion semantics of list and watch, as the apiserver defines them."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer

CMS = "/api/v1/namespaces/default/configmaps"


async def create_cms(client: TestClient, n: int, prefix: str = "c") -> list[str]:
    rvs = []
    for i in range(n):
        r = await client.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": f"{prefix}{i}"}, "data": {"i": str(i)}})
        assert r.status == 201, await r.text()
        rvs.append((await r.json())["metadata"]["resourceVersion"])
    return rvs


async def test_chunked_list_is_a_consistent_snapshot(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await create_cms(client, 5)
    r = await client.get(CMS, params={"limit": "2"})
    first = await r.json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    token = first["metadata"]["continue"]
    # a write after the first chunk must not show up in later chunks
    await client.delete(f"{CMS}/c3")
    await create_cms(client, 1, prefix="z")
    names = []
    while token:
        page = await (await client.get(CMS, params={"limit": "2", "continue": token})).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        token = page["metadata"].get("continue")
    assert names == ["c2", "c3", "c4"]


async def test_exact_list_at_past_revision(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    rvs = await create_cms(client, 3)
    r = await client.get(CMS, params={"resourceVersion": rvs[1], "resourceVersionMatch": "Exact"})
    body = await r.json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["c0", "c1"]
    assert body["metadata"]["resourceVersion"] == rvs[1]


async def test_watch_from_revision_replays_changes_in_order(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    rvs = await create_cms(client, 3)
    r = await client.get(CMS, params={"watch": "true", "resourceVersion": rvs[0], "timeoutSeconds": "5"})
    events = []
    async for line in r.content:
        events.append(orjson.loads(line))
        if len(events) == 2:
            break
    r.close()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "c1"), ("ADDED", "c2")]


async def test_watch_and_list_of_compacted_revision_is_410(api: tuple[ApiServer, TestClient]) -> None:
    server, client = api
    rvs = await create_cms(client, 30)
    await server.store.compact(int(rvs[-1]))
    r = await client.get(CMS, params={"watch": "true", "resourceVersion": rvs[0], "timeoutSeconds": "5"})
    assert r.status == 200
    line = await asyncio.wait_for(r.content.readline(), 5)
    ev = orjson.loads(line)
    assert ev["type"] == "ERROR"
    assert ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    assert ev["object"]["message"].startswith("too old resource version: ")
    lst = await client.get(CMS, params={"resourceVersion": rvs[0], "resourceVersionMatch": "Exact"})
    assert lst.status == 410


async def test_stale_put_is_conflict_and_loses_nothing(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await create_cms(client, 1)
    obj = await (await client.get(f"{CMS}/c0")).json()
    obj["data"]["i"] = "changed"
    r1 = await client.put(f"{CMS}/c0", json=obj)
    assert r1.status == 200
    obj["data"]["i"] = "stale"
    r2 = await client.put(f"{CMS}/c0", json=obj)
    status = await r2.json()
    assert r2.status == 409 and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]
    assert (await (await client.get(f"{CMS}/c0")).json())["data"]["i"] == "changed"


async def test_request_too_large_and_invalid_bodies(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"x": "a" * (3 << 20)}}
    r = await client.post(CMS, data=orjson.dumps(big), headers={"Content-Type": "application/json"})
    assert r.status == 413 and (await r.json())["reason"] == "RequestEntityTooLarge"
    r = await client.post(CMS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["kind"] == "Status"
    r = await client.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})
    body = await r.json()
    assert r.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert (await client.get(f"{CMS}/Bad_Name")).status == 404


async def test_dry_run_persists_nothing(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    r = await client.post(CMS, params={"dryRun": "All"},
                          json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}})
    assert r.status == 201 and (await r.json())["metadata"]["uid"]
    assert (await client.get(f"{CMS}/dry")).status == 404


async def test_terminating_namespace_refuses_creates(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    r = await client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "doomed"}})
    assert r.status == 201
    d = await client.delete("/api/v1/namespaces/doomed")
    assert d.status in (200, 202)
    ns = await (await client.get("/api/v1/namespaces/doomed")).json()
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    r = await client.post("/api/v1/namespaces/doomed/configmaps",
                          json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    body = await r.json()
    assert r.status == 403 and "because it is being terminated" in body["message"]


async def test_watch_list_sends_initial_events_then_end_bookmark(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await create_cms(client, 2)
    r = await client.get(CMS, params={"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                      "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "5"})
    events = [orjson.loads(await asyncio.wait_for(r.content.readline(), 5)) for _ in range(3)]
    r.close()
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [("ADDED", "c0"), ("ADDED", "c1")]
    assert events[2]["type"] == "BOOKMARK"
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    bad = await client.get(CMS, params={"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true"})
    assert bad.status == 422

"""The watch cache's subscriptions and the write path's reads of it (``objects._live``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from kybernetes.api import errors
from kybernetes.api.strategy import WriteContext
from kybernetes.apiserver import objects as objects_module
from kybernetes.apiserver import reads
from kybernetes.apiserver.app import ApiServer
from kybernetes.apiserver.watchcache import Change, Changes, WatchCache, decode
from kybernetes.store.sqlite import SQLiteStore


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[WatchCache]:
    store = SQLiteStore(str(tmp_path / "state.db"), compact_interval=0)
    await store.start()
    cache = WatchCache(store)
    await cache.start()
    try:
        yield cache
    finally:
        await cache.stop()
        await store.close()


async def test_a_timed_out_wait_does_not_end_the_subscription(cache: WatchCache) -> None:
    # a watch with bookmarks waits with a timeout; the stream must carry on afterwards
    store = cache.store
    async with cache.subscribe("/registry/core/configmaps/", cache.revision) as changes:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await changes.__anext__()
        await store.create("/registry/core/configmaps/ns/a", b'{"metadata":{"name":"a"}}')
        async with asyncio.timeout(5):
            change = await changes.__anext__()
        assert change.key == "/registry/core/configmaps/ns/a"
        assert change.obj["metadata"]["resourceVersion"] == str(change.revision)
        assert changes.next_nowait() is None


async def test_watchers_only_see_their_prefix(cache: WatchCache) -> None:
    store = cache.store
    async with cache.subscribe("/registry/core/configmaps/ns/", cache.revision) as ns_changes, \
            cache.subscribe("/registry/core/", cache.revision) as core_changes, \
            cache.subscribe("/registry/core/secrets/", cache.revision) as secret_changes:
        await store.create("/registry/core/configmaps/other/x", b"{}")
        await store.create("/registry/core/configmaps/ns/y", b"{}")
        await cache.wait_fresh()
        assert [c.key for c in _drain(core_changes)] == ["/registry/core/configmaps/other/x",
                                                         "/registry/core/configmaps/ns/y"]
        assert [c.key for c in _drain(ns_changes)] == ["/registry/core/configmaps/ns/y"]
        assert _drain(secret_changes) == []
    assert not cache._watchers and not cache._watchers_by_resource


def _drain(changes: Changes) -> list[Change]:
    out = []
    while (c := changes.next_nowait()) is not None:
        out.append(c)
    return out


async def test_bookmarks_keep_the_watch_going(api: tuple[ApiServer, TestClient],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "BOOKMARK_INTERVAL", 0.2)
    server, client = api
    cms = "/api/v1/namespaces/default/configmaps"
    r = await client.get(cms, params={"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "3"})
    events: list[dict[str, Any]] = []
    added = asyncio.Event()

    async def read() -> None:
        async for line in r.content:
            events.append(orjson.loads(line))
            if events[-1]["type"] == "ADDED":
                added.set()

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.5)  # quiet: bookmarks
    created = await client.post(cms, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
    assert created.status == 201
    async with asyncio.timeout(5):
        await added.wait()
    await asyncio.sleep(0.5)
    types = [e["type"] for e in events]
    at = types.index("ADDED")
    assert "BOOKMARK" in types[:at] and "BOOKMARK" in types[at:]  # before and after the event
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)
    async with asyncio.timeout(5):
        await reader  # the watch ends at its timeout
    assert server.reads._watches == set()


async def test_a_write_hands_its_object_to_the_cache(api: tuple[ApiServer, TestClient]) -> None:
    # the object a handler writes becomes the cache's entry (no second decode of the stored bytes),
    # identical to what decoding would give; a write that fails leaves nothing behind
    server, _ = api
    objects = server.objects
    info = server.registry.require("", "v1", "configmaps")
    opts = objects_module.WriteOptions(result_read_only=True)
    created = await objects.create(info, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "a", "namespace": "default"}, "data": {"k": "1"}},
                                   WriteContext(), opts)
    await objects.cache.wait_fresh()
    entry = objects.cache.get(info.key("default", "a"))
    assert entry is not None and entry.obj is created
    kv = await objects.store.get(info.key("default", "a"))
    assert kv is not None and decode(kv) == created

    def bump(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current is not None
        return {**current, "data": {"k": "2"}}

    updated, _ = await objects.update(info, "default", "a", bump, WriteContext(), opts)
    await objects.cache.wait_fresh()
    entry = objects.cache.get(info.key("default", "a"))
    assert entry is not None and entry.obj is updated and entry.obj["data"] == {"k": "2"}
    assert entry.obj["metadata"]["resourceVersion"] == str(entry.revision)

    with pytest.raises(errors.StatusError):  # already exists: the store refuses, the cache forgets it
        await objects.create(info, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "a", "namespace": "default"}}, WriteContext(), opts)
    assert objects.cache._expected == {}


async def test_binding_reads_the_cached_pod_without_changing_it(api: tuple[ApiServer, TestClient]) -> None:
    # the binding handler works on the cache's own copy of the pod (read only): the cached pod must
    # stay what the store holds, also when a second binding is refused
    server, client = api
    pods = "/api/v1/namespaces/default/pods"
    created = await client.post(pods, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert created.status == 201
    key = "/registry/core/pods/default/p"
    await server.objects.cache.wait_fresh()
    before = server.objects.cache.get(key)
    assert before is not None
    snapshot = orjson.dumps(before.obj)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    assert (await client.post(f"{pods}/p/binding", json=binding)).status == 201
    assert orjson.dumps(before.obj) == snapshot  # the old entry was not written through
    again = await client.post(f"{pods}/p/binding", json={**binding, "target": {"kind": "Node", "name": "n2"}})
    assert again.status == 409
    assert 'pod p is already assigned to node "n1"' in (await again.json())["message"]
    await server.objects.cache.wait_fresh()
    entry = server.objects.cache.get(key)
    kv = await server.objects.store.get(key)
    assert entry is not None and kv is not None and entry.obj == decode(kv)
    assert entry.obj["spec"]["nodeName"] == "n1"


async def test_pod_status_writes_read_the_cached_pod_without_changing_it(api: tuple[ApiServer, TestClient]) -> None:
    # pods/status shares the cache's copy of the pod as the old object (its spec, labels and owner
    # references go into the new one as they are): no write may change an earlier entry, and every
    # entry stays what the store holds — after a merge patch, a PUT, a refused write and a no-op
    server, client = api
    pods = "/api/v1/namespaces/default/pods"
    created = await client.post(pods, json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "a"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}})
    assert created.status == 201
    key = "/registry/core/pods/default/p"
    entries = []

    async def settled() -> Any:
        await server.objects.cache.wait_fresh()
        entry = server.objects.cache.get(key)
        kv = await server.objects.store.get(key)
        assert entry is not None and kv is not None and entry.obj == decode(kv)
        entries.append((entry, orjson.dumps(entry.obj)))
        return entry

    await settled()
    terminated = {"name": "c", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                  "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    patched = await client.patch(f"{pods}/p/status", data=orjson.dumps(
        {"status": {"phase": "Succeeded", "podIP": "10.42.0.9", "containerStatuses": [terminated]}}),
        headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status == 200
    assert (await settled()).obj["status"]["phase"] == "Succeeded"

    body = await patched.json()
    body["status"]["message"] = "done"
    body["spec"]["nodeName"] = "ignored"  # the old spec wins on /status
    put = await client.put(f"{pods}/p/status", json=body)
    assert put.status == 200
    entry = await settled()
    assert entry.obj["status"]["message"] == "done" and "nodeName" not in entry.obj["spec"]

    running = {**terminated, "state": {"running": {}}}  # terminated containers of a Never pod stay so
    refused = await client.patch(f"{pods}/p/status", data=orjson.dumps({"status": {"containerStatuses": [running]}}),
                                 headers={"Content-Type": "application/merge-patch+json"})
    assert refused.status == 422
    same = await client.patch(f"{pods}/p/status", data=orjson.dumps({"status": {"message": "done"}}),
                              headers={"Content-Type": "application/merge-patch+json"})
    assert same.status == 200 and (await same.json())["metadata"]["resourceVersion"] == \
        entry.obj["metadata"]["resourceVersion"]
    await settled()
    for old, snapshot in entries:
        assert orjson.dumps(old.obj) == snapshot


async def test_field_selected_watches_see_objects_enter_and_leave(api: tuple[ApiServer, TestClient]) -> None:
    # two watches whose field selectors split the pods between them: each change is ADDED to the
    # one it enters and DELETED from the one it leaves — with the content that watch last matched,
    # at the new resourceVersion, as upstream's cacher does (the selectors' values are computed once
    # per object and shared, so a stale value would send an event to the wrong watch)
    _, client = api
    pods = "/api/v1/namespaces/default/pods"
    streams = {}
    for name, selector in (("running", "status.phase=Running"), ("other", "status.phase!=Running")):
        streams[name] = await client.get(pods, params={"watch": "true", "fieldSelector": selector,
                                                       "timeoutSeconds": "10"})
    created = await client.post(pods, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert created.status == 201
    versions = [(await created.json())["metadata"]["resourceVersion"]]
    for i, phase in enumerate(("Running", "Running", "Succeeded")):
        patched = await client.patch(f"{pods}/p/status", data=orjson.dumps(
            {"status": {"phase": phase, "message": f"step {i}"}}),
            headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status == 200
        versions.append((await patched.json())["metadata"]["resourceVersion"])

    async def events(name: str, n: int) -> list[tuple[str, str, str]]:
        out = []
        async with asyncio.timeout(5):
            while len(out) < n:
                ev = orjson.loads(await streams[name].content.readline())
                status, md = ev["object"]["status"], ev["object"]["metadata"]
                out.append((ev["type"], status.get("message", status.get("phase", "")), md["resourceVersion"]))
        return out

    assert await events("other", 3) == [("ADDED", "Pending", versions[0]), ("DELETED", "Pending", versions[1]),
                                        ("ADDED", "step 2", versions[3])]
    assert await events("running", 3) == [("ADDED", "step 0", versions[1]), ("MODIFIED", "step 1", versions[2]),
                                          ("DELETED", "step 1", versions[3])]

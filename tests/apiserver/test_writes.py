"""Write handler helpers."""

from __future__ import annotations

import orjson
import pytest
from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.apiserver.writes import _duplicates_source
from kybernetes.store.interface import KeyValue, RevisionMismatch


def test_duplicate_check_skipped_only_when_the_body_round_trips() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    canonical = orjson.dumps(body)
    assert _duplicates_source(canonical, orjson.loads(canonical)) == b""
    spaced = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}'
    assert _duplicates_source(spaced, orjson.loads(spaced)) == spaced
    repeated = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}'
    assert _duplicates_source(repeated, orjson.loads(repeated)) == repeated  # the repeat is still checked


async def test_merge_patch_unknown_fields_come_from_what_the_patch_sets(api: tuple[ApiServer, TestClient]) -> None:
    # only the patch's own fields are walked for unknown ones; a null deletes, so it is never unknown
    _, client = api
    cms = "/api/v1/namespaces/default/configmaps"
    assert (await client.post(cms, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                                         "data": {"k": "v"}})).status == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    body = {"data": {"a": "1"}, "bogus": {"x": 1}, "metadata": {"labels": {"l": "v"}, "gone": None,
                                                                  "extra": "y"}}
    r = await client.patch(f"{cms}/x", data=orjson.dumps(body), headers=merge)
    assert r.status == 200
    assert r.headers.getall("Warning") == ['299 - "unknown field \\"bogus\\""',
                                           '299 - "unknown field \\"metadata.extra\\""']
    obj = await r.json()
    assert "bogus" not in obj and "extra" not in obj["metadata"]
    assert obj["data"] == {"k": "v", "a": "1"} and obj["metadata"]["labels"] == {"l": "v"}
    strict = await client.patch(f"{cms}/x", params={"fieldValidation": "Strict"},
                                data=orjson.dumps({"data": {"b": "2"}, "bogus": 1}), headers=merge)
    assert strict.status == 422
    assert 'unknown field "bogus"' in (await strict.json())["message"]


async def test_merge_patch_retried_after_a_lost_race_applies_the_whole_patch(
        api: tuple[ApiServer, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    # the first attempt consumes the decoded patch; the retry after a compare-and-swap failure
    # must start from the request body again, not from what the first attempt left of it
    server, client = api
    cms = "/api/v1/namespaces/default/configmaps"
    assert (await client.post(cms, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"},
                                         "data": {"k": "v"}})).status == 201
    store = server.objects.store
    real_update = store.update
    lost = []

    async def update_losing_once(key: str, value: bytes, expected: int) -> KeyValue:
        if not lost:
            lost.append(key)
            current = await store.get(key)
            assert current is not None
            raise RevisionMismatch(current)
        return await real_update(key, value, expected)

    monkeypatch.setattr(store, "update", update_losing_once)
    r = await client.patch(f"{cms}/r", data=orjson.dumps({"data": {"a": "1"}, "metadata": {"labels": {"x": "y"}}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and lost
    obj = await r.json()
    assert obj["data"] == {"k": "v", "a": "1"} and obj["metadata"]["labels"] == {"x": "y"}

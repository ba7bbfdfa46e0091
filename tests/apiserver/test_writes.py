"""Write handler helpers."""

from __future__ import annotations

import orjson
from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.apiserver.writes import _duplicates_source


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

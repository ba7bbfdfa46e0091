from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from kybernetes.api.errors import StatusError
from kybernetes.apiserver import request as rq
from kybernetes.apiserver.app import ApiServer


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/namespaces/default/pods", ("", "v1", "pods", "default", "", "")),
    ("/api/v1/namespaces/default", ("", "v1", "namespaces", "", "default", "")),
    ("/api/v1/namespaces/x/finalize", ("", "v1", "namespaces", "", "x", "finalize")),
    ("/api/v1/pods", ("", "v1", "pods", "", "", "")),
    ("/apis/apps/v1/namespaces/ns/deployments/web/scale", ("apps", "v1", "deployments", "ns", "web", "scale")),
    ("/api/v1/nodes/n1/proxy/stats/summary", ("", "v1", "nodes", "", "n1", "proxy/stats/summary")),
    ("/apis/apps/v1", ("apps", "v1", "", "", "", "")),
])
def test_parse_path(path: str, expected: tuple[str, ...]) -> None:
    ri = rq.parse_path(path)
    assert ri is not None
    assert (ri.group, ri.version, ri.resource, ri.namespace, ri.name, ri.subresource) == expected


def test_non_resource_paths() -> None:
    assert rq.parse_path("/apis") is None
    assert rq.parse_path("/apis/apps") is None
    assert rq.parse_path("/version") is None


def test_decode_bodies() -> None:
    assert rq.decode_object(b'{"kind":"Pod"}', "") == {"kind": "Pod"}
    assert rq.decode_object(b"kind: Pod\nmetadata: {name: x}\n", "application/yaml") == {
        "kind": "Pod", "metadata": {"name": "x"}}
    with pytest.raises(StatusError) as e:
        rq.decode_object(b"{", "application/json")
    assert e.value.code == 400
    with pytest.raises(StatusError) as e:
        rq.decode_object(b"<x/>", "application/xml")
    assert e.value.code == 415 and e.value.reason == "UnsupportedMediaType"


async def test_a_big_body_is_read_whole(api: tuple[ApiServer, TestClient]) -> None:
    # a body arrives in pieces: all of it must be read (up to the 3 MiB limit), not the first piece
    _, client = api
    value = "x" * 900_000
    r = await client.post("/api/v1/namespaces/default/configmaps", json={
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"v": value}})
    assert r.status == 201, (await r.text())[:300]
    got = await client.get("/api/v1/namespaces/default/configmaps/big")
    assert (await got.json())["data"]["v"] == value
    r = await client.post("/api/v1/namespaces/default/configmaps", data=b'{"kind": "ConfigMap", "data": "' +
                          b"y" * (3 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"})
    assert r.status == 413

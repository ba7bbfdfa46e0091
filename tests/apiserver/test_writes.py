"""Write handler helpers."""

from __future__ import annotations

import orjson

from kybernetes.apiserver.writes import _duplicates_source


def test_duplicate_check_skipped_only_when_the_body_round_trips() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    canonical = orjson.dumps(body)
    assert _duplicates_source(canonical, orjson.loads(canonical)) == b""
    spaced = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}'
    assert _duplicates_source(spaced, orjson.loads(spaced)) == spaced
    repeated = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}'
    assert _duplicates_source(repeated, orjson.loads(repeated)) == repeated  # the repeat is still checked

"""Pieces of the generic object store: uids, timestamps, no-op detection."""

from __future__ import annotations

import uuid

from kybernetes.api.printing import format_time
from kybernetes.apiserver import objects


def test_uids_are_random_version_4_uuids() -> None:
    pool = objects._UidPool()
    uids = [pool.next() for _ in range(600)]  # more than one batch of randomness
    assert len(set(uids)) == 600
    for u in uids:
        parsed = uuid.UUID(u)
        assert str(parsed) == u and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_timestamps_match_format_time() -> None:
    for epoch in (1700000000.0, 1700000000.5, 1700000000.999999, 1700000001.25, 1700000001.000001):
        assert objects._timestamps(epoch) == (format_time(epoch), format_time(epoch, micro=True))


def test_same_ignores_only_managed_fields_times() -> None:
    a = {"kind": "ConfigMap", "metadata": {"name": "a", "managedFields": [{"manager": "m", "time": "1"}]},
         "data": {"k": "v"}}
    b = {"kind": "ConfigMap", "metadata": {"name": "a", "managedFields": [{"manager": "m", "time": "2"}]},
         "data": {"k": "v"}}
    assert objects._same(a, b)
    assert not objects._same(a, {**b, "data": {"k": "w"}})
    assert not objects._same(a, {**b, "extra": 1})
    assert not objects._same({**a, "extra": None}, b)
    assert objects._same({"data": 1}, {"data": 1, "metadata": {}})  # no metadata is empty metadata

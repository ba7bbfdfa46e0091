from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.kinds.events import event
from tests.api.kinds._helpers import CTX, NOW, messages, meta

INFO = event.RESOURCES[0]
REGARDING = {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u1", "apiVersion": "v1",
             "fieldPath": "spec.containers{web}"}


def _v1_event(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web-1.17", "default"),
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "kubelet",
            "reportingInstance": "node-1", "action": "Pulling", "reason": "Pulling", "regarding": REGARDING,
            "note": "Pulling image \"nginx\"", "type": "Normal", **fields}


def test_resource_shares_core_storage() -> None:
    assert INFO.prefix == "/registry/core/events/"
    assert INFO.key("default", "x") == "/registry/core/events/default/x"
    assert INFO.short_names == ("ev",)


def test_conversion_to_core() -> None:
    core = event.to_core(_v1_event(series={"count": 3, "lastObservedTime": "2026-01-01T00:10:00.000000Z"}))
    assert core["apiVersion"] == "v1"
    assert core["message"] == 'Pulling image "nginx"'
    assert core["involvedObject"] == REGARDING
    assert core["reportingComponent"] == "kubelet" and core["reportingInstance"] == "node-1"
    assert core["source"] == {} and core["firstTimestamp"] is None and core["lastTimestamp"] is None
    assert event.to_core(_v1_event(reportingController=None, reportingInstance=None))["reportingInstance"] == ""
    assert core["series"]["count"] == 3 and "count" not in core and "note" not in core


def test_conversion_from_core_of_a_legacy_event() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": meta("web-1.18", "default"),
            "involvedObject": REGARDING, "reason": "Started", "message": "Started container web",
            "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:05:00Z", "count": 4, "type": "Normal", "eventTime": None,
            "reportingComponent": "", "reportingInstance": ""}
    v1 = event.from_core(core)
    assert v1 == {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core["metadata"],
                  "regarding": REGARDING, "reason": "Started", "note": "Started container web",
                  "deprecatedSource": {"component": "kubelet", "host": "node-1"},
                  "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
                  "deprecatedLastTimestamp": "2026-01-01T00:05:00Z", "deprecatedCount": 4, "type": "Normal",
                  "eventTime": None}


def test_round_trip() -> None:
    original = _v1_event(related={"kind": "Node", "name": "node-1"}, deprecatedSource={},
                         deprecatedFirstTimestamp=None, deprecatedLastTimestamp=None)
    assert event.from_core(event.to_core(copy.deepcopy(original))) == original
    core = event.to_core(original)
    assert event.to_core(event.from_core(core)) == core


def test_strict_validation_uses_core_field_names() -> None:
    assert INFO.strategy.validate(_v1_event(), CTX) == []
    bad = _v1_event(eventTime=None, type="Odd", deprecatedCount=2, reportingController="",
                    series={"count": 1}, regarding={"kind": "Pod", "name": "x", "namespace": "other"})
    assert messages(INFO.strategy.validate(bad, CTX)) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
        "series.count: Invalid value: \"\": should be at least 2",
        "series.lastObservedTime: Required value",
        "eventTime: Required value",
        'type: Invalid value: "": has invalid value: Odd',
        'count: Invalid value: "": needs to be unset',
    ]


def test_update_immutability() -> None:
    old = _v1_event()
    new = _v1_event(note="changed", series={"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"})
    assert messages(INFO.strategy.validate_update(new, old, CTX)) == [
        'message: Invalid value: "changed": field is immutable']


def test_field_selectors() -> None:
    fields = INFO.strategy.field_selectors(_v1_event(deprecatedSource={"component": "kubelet"}))
    assert fields["regarding.name"] == "web-1" and fields["regarding.kind"] == "Pod"
    assert fields["reportingController"] == "kubelet" and fields["source"] == "kubelet"
    assert fields["type"] == "Normal" and fields["metadata.namespace"] == "default"
    assert set(INFO.strategy.field_selectors({"metadata": {}})) == set(fields)
    assert INFO.strategy.field_selectors(event.to_core(_v1_event()))["regarding.name"] == "web-1"


def test_table_matches_the_core_printer() -> None:
    cols = INFO.strategy.columns()
    assert [c.name for c in cols] == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                      "First Seen", "Count", "Name"]
    assert [c.priority for c in cols] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]
    assert INFO.strategy.row(_v1_event(), NOW) == ["60m", "Normal", "Pulling", "pod/web-1", "spec.containers{web}",
                                                   "kubelet, node-1", 'Pulling image "nginx"', "60m", 1, "web-1.17"]
    series = _v1_event(series={"count": 5, "lastObservedTime": "2026-01-01T00:59:00.000000Z"})
    assert INFO.strategy.row(series, NOW)[0] == "60s" and INFO.strategy.row(series, NOW)[8] == 5

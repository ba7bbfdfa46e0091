from __future__ import annotations

from typing import Any

from kybernetes.api.kinds.scheduling import priorityclass
from tests.api.kinds._helpers import CTX, NOW, messages, meta

INFO = priorityclass.RESOURCES[0]


def _pc(name: str = "high", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": meta(name), **fields}


def test_defaults_and_table() -> None:
    assert INFO.short_names == ("pc",)
    obj = _pc(value=1000)
    INFO.strategy.default(obj)
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    cols = INFO.strategy.columns()
    assert [c.name for c in cols] == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    assert [c.type for c in cols] == ["string", "integer", "boolean", "string", "string"]
    assert INFO.strategy.row(obj, NOW) == ["high", 1000, False, "60m", "PreemptLowerPriority"]


def test_validation() -> None:
    assert messages(INFO.strategy.validate(_pc(value=2_000_000_000, preemptionPolicy="Sometimes"), CTX)) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
        'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"',
    ]
    assert INFO.strategy.validate(_pc("system-node-critical", value=2_000_001_000), CTX) == []
    assert messages(INFO.strategy.validate(_pc("system-mine", value=1), CTX)) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class"]


def test_value_and_policy_are_immutable() -> None:
    old = _pc(value=1, preemptionPolicy="Never")
    new = _pc(value=2, preemptionPolicy="PreemptLowerPriority")
    assert messages(INFO.strategy.validate_update(new, old, CTX)) == [
        "value: Forbidden: may not be changed in an update.",
        'preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable',
    ]

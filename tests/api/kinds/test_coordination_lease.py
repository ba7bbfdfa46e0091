from __future__ import annotations

from kybernetes.api.kinds.coordination import lease
from tests.api.kinds._helpers import CTX, NOW, messages, meta

INFO = lease.RESOURCES[0]


def test_facts_and_table() -> None:
    assert (INFO.group, INFO.plural, INFO.namespaced) == ("coordination.k8s.io", "leases", True)
    assert not INFO.strategy.tracks_generation and not INFO.strategy.has_status
    obj = {"metadata": meta("node-1", "kube-node-lease"), "spec": {"holderIdentity": "node-1"}}
    assert [c.name for c in INFO.strategy.columns()] == ["Name", "Holder", "Age"]
    assert INFO.strategy.row(obj, NOW) == ["node-1", "node-1", "60m"]
    assert INFO.strategy.row({"metadata": meta("x", "d"), "spec": {}}, NOW)[1] == ""


def test_validation() -> None:
    obj = {"metadata": meta("l", "d"), "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1,
                                                 "preferredHolder": "me"}}
    assert messages(INFO.strategy.validate(obj, CTX)) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
        "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
    ]

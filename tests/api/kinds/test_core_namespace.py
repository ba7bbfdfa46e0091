"""core/v1 Namespace strategy: finalizer, name label, phases, deletion, finalize, table."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.kinds.core import namespace
from kybernetes.api.strategy import WriteContext

S = namespace.STRATEGY


def create(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    S.default(obj)
    S.prepare_for_create(obj, WriteContext())
    S.canonicalize(obj)
    assert S.validate(obj, WriteContext()) == []
    return obj


def test_create_adds_finalizer_label_and_phase() -> None:
    obj = create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    assert obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert obj["spec"] == {"finalizers": ["kubernetes"]}
    assert obj["status"] == {"phase": "Active"}


def test_name_label_is_enforced() -> None:
    obj = create({"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "prod", "team": "a"}}})
    assert obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev", "team": "a"}


def test_update_keeps_finalizers_and_status() -> None:
    old = create({"metadata": {"name": "dev"}})
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    new["status"]["phase"] = "Terminating"
    S.prepare_for_update(new, old, WriteContext())
    assert (new["spec"]["finalizers"], new["status"]["phase"]) == (["kubernetes"], "Active")


def test_finalizer_names_are_validated() -> None:
    obj = create({"metadata": {"name": "dev"}})
    obj["spec"]["finalizers"].append("custom")
    assert [e.message() for e in S.validate(obj, WriteContext())] == [
        'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully '
        "qualified"]


def test_names_are_dns_labels() -> None:
    assert S.name_validator("team.a") != []
    assert S.name_validator("team-a") == []


def test_delete_marks_terminating_until_finalized() -> None:
    obj = create({"metadata": {"name": "dev"}})
    S.prepare_for_delete(obj, WriteContext())
    assert obj["status"]["phase"] == "Terminating"
    assert S.blocks_deletion(obj)
    obj["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    finalized = copy.deepcopy(obj)
    finalized["spec"]["finalizers"] = []
    finalized["metadata"]["labels"]["sneaky"] = "x"
    namespace.FINALIZE_STRATEGY.prepare_for_update(finalized, obj, WriteContext())
    assert "finalizers" not in finalized["spec"] and "sneaky" not in finalized["metadata"]["labels"]
    assert not namespace.FINALIZE_STRATEGY.blocks_deletion(finalized)


def test_status_phase_rules() -> None:
    status = namespace.RESOURCES[0].status_strategy
    assert status is not None
    obj = create({"metadata": {"name": "dev"}})
    bad = copy.deepcopy(obj)
    bad["status"]["phase"] = "Terminating"
    assert [e.message() for e in status.validate_update(bad, obj, WriteContext())] == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]


def test_table_selectors_and_discovery() -> None:
    obj = create({"metadata": {"name": "dev", "creationTimestamp": "2025-01-01T00:00:00Z"}})
    assert S.row(obj, 1735689600.0 + 45) == ["dev", "Active", "45s"]
    assert [c.name for c in S.columns()] == ["Name", "Status", "Age"]
    assert S.field_selectors(obj) == {"metadata.name": "dev", "status.phase": "Active", "name": "dev"}
    (info,) = namespace.RESOURCES
    assert "deletecollection" not in info.verbs and info.short_names == ("ns",) and not info.namespaced
    assert [(s.name, s.verbs) for s in info.subresources] == [("finalize", ("update",)),
                                                              ("status", ("get", "patch", "update"))]

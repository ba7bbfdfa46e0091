"""managedFields bookkeeping of non-apply writes (create / update / patch / subresources)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.apply import compute_fields, fields, manager_from_user_agent, update_managed_fields
from kybernetes.api.schema import Schemas

from .conftest import T0, T1, T2, entries, persisted

STATUS = fields("status")

CREATE_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                    "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    },
}


def create(obj: dict[str, Any], schemas: Schemas, root: dict[str, Any], manager: str = "kubectl-create",
           time: str = T0) -> dict[str, Any]:
    update_managed_fields(None, obj, manager, "Update", "apps/v1", time, schemas, root, reset_fields=STATUS)
    return persisted(obj)


def update(old: dict[str, Any], new: dict[str, Any], manager: str, schemas: Schemas, root: dict[str, Any],
           time: str = T1, subresource: str = "", reset: Any = STATUS) -> dict[str, Any]:
    update_managed_fields(old, new, manager, "Update", "apps/v1", time, schemas, root, subresource,
                          reset_fields=reset)
    return new


def test_create_gives_every_field_to_the_creator(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": CREATE_FIELDS,
    }]
    # Same key order as the API server writes (matters for JSON output).
    assert list(obj["metadata"]["managedFields"][0]) == [
        "manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert list(obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"])[:3] == [
        "f:progressDeadlineSeconds", "f:replicas", "f:revisionHistoryLimit"]


def test_update_by_another_manager_takes_only_what_it_changed(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["metadata"]["labels"]["tier"] = "web"
    update(obj, new, "kubectl-set", schemas, deploy_root)
    got = entries(new)
    assert list(got) == [("kubectl-create", "Update", ""), ("kubectl-set", "Update", "")]  # sorted by time
    assert got["kubectl-set", "Update", ""]["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:tier": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"nginx"}': {"f:image": {}}}}}},
    }
    assert got["kubectl-set", "Update", ""]["time"] == T1
    creator = got["kubectl-create", "Update", ""]
    assert creator["time"] == T0
    assert "f:image" not in creator["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"nginx"}']
    assert creator["fieldsV1"]["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}


def test_same_manager_accumulates_and_no_op_keeps_time(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    first = copy.deepcopy(obj)
    first["spec"]["replicas"] = 2
    update(obj, first, "kubectl-edit", schemas, deploy_root, time=T1)
    second = copy.deepcopy(first)
    second["spec"]["paused"] = True
    update(first, second, "kubectl-edit", schemas, deploy_root, time=T2)
    edit = entries(second)["kubectl-edit", "Update", ""]
    assert edit["fieldsV1"] == {"f:spec": {"f:paused": {}, "f:replicas": {}}}
    assert edit["time"] == T2
    third = copy.deepcopy(second)
    third["metadata"]["resourceVersion"] = "9"
    third["metadata"]["generation"] = 5
    update(second, third, "kubectl-edit", schemas, deploy_root, time=T2 + "x")
    assert third["metadata"]["managedFields"] == second["metadata"]["managedFields"]


def test_removed_fields_leave_every_owner(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    del new["spec"]["strategy"]["rollingUpdate"]
    new["spec"]["strategy"]["type"] = "Recreate"
    update(obj, new, "kubectl-edit", schemas, deploy_root)
    got = entries(new)
    assert got["kubectl-edit", "Update", ""]["fieldsV1"] == {"f:spec": {"f:strategy": {"f:type": {}}}}
    assert got["kubectl-create", "Update", ""]["fieldsV1"]["f:spec"].get("f:strategy") is None


def test_status_and_metadata_bookkeeping_are_not_owned(schemas, deploy_root, deployment) -> None:
    deployment["status"] = {"replicas": 3}
    deployment["metadata"]["generation"] = 1
    obj = create(deployment, schemas, deploy_root)
    fv1 = obj["metadata"]["managedFields"][0]["fieldsV1"]
    assert "f:status" not in fv1 and set(fv1["f:metadata"]) == {"f:labels"}


def test_status_subresource_entry(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    new["status"] = {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
    update(obj, new, "kube-controller-manager", schemas, deploy_root, subresource="status",
           reset=fields("spec", "metadata.labels"))
    kcm = entries(new)["kube-controller-manager", "Update", "status"]
    assert kcm["subresource"] == "status" and kcm["time"] == T1
    assert kcm["fieldsV1"] == {"f:status": {"f:conditions": {".": {}, 'k:{"type":"Available"}': {
        ".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}}


def test_scale_subresource_entry_has_no_time(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 3
    update(obj, new, "kubectl", schemas, deploy_root, subresource="scale")
    scale = entries(new)["kubectl", "Update", "scale"]
    assert scale == {"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"}
    assert "f:replicas" not in entries(new)["kubectl-create", "Update", ""]["fieldsV1"]["f:spec"]


def test_request_managed_fields_replace_or_reset(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    cleared = copy.deepcopy(obj)
    cleared["metadata"]["managedFields"] = [{}]
    cleared["spec"]["replicas"] = 4
    update(obj, cleared, "kubectl-edit", schemas, deploy_root)
    assert "managedFields" not in cleared["metadata"]
    # An object without entries is not tracked by later updates …
    again = copy.deepcopy(cleared)
    again["spec"]["replicas"] = 5
    update(cleared, again, "kubectl-edit", schemas, deploy_root)
    assert "managedFields" not in again["metadata"]
    # … and a request may write its own entries (normalized).
    own = copy.deepcopy(obj)
    own["metadata"]["managedFields"] = [{"manager": "me", "operation": "Update", "apiVersion": "apps/v1",
                                         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    update(obj, own, "kubectl-edit", schemas, deploy_root)
    assert [e["manager"] for e in own["metadata"]["managedFields"]] == ["me"]


def test_subresources_ignore_request_managed_fields(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = [{}]
    new["status"] = {"replicas": 2}
    update(obj, new, "kcm", schemas, deploy_root, subresource="status", reset=fields("spec"))
    assert {m for m, _, _ in entries(new)} == {"kubectl-create", "kcm"}


def test_update_managers_are_capped(schemas, cm_root) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}, "data": {}}
    update_managed_fields(None, cm, "creator", "Update", "v1", "2024-01-01T00:00:00Z", schemas, cm_root)
    cm = persisted(cm)
    for i in range(12):
        new = copy.deepcopy(cm)
        new["data"][f"k{i}"] = "v"
        update_managed_fields(cm, new, f"m{i:02d}", "Update", "v1", f"2024-01-01T00:{i + 1:02d}:00Z", schemas,
                              cm_root)
        cm = new
    managers = [e["manager"] for e in cm["metadata"]["managedFields"]]
    assert len(managers) == 10 and managers[0] == "ancient-changes"
    bucket = cm["metadata"]["managedFields"][0]
    assert set(bucket["fieldsV1"]["f:data"]) >= {"f:k0", "f:k1"}


def test_untypable_objects_keep_their_entries(schemas, deploy_root, deployment) -> None:
    obj = create(deployment, schemas, deploy_root)
    new = copy.deepcopy(obj)
    new["spec"]["template"]["spec"]["containers"].append({"image": "no-name"})
    update(obj, new, "kubectl-edit", schemas, deploy_root)
    assert new["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


def test_compute_fields_is_schema_aware(schemas, deploy_root) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "x", "finalizers": ["a"], "labels": {"app": "x"}},
           "spec": {"selector": {"matchLabels": {"app": "x"}},
                    "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}],
                                                          "command": ["sh", "-c"]}],
                                          "nodeSelector": {"k": "v"}}}}}
    got = compute_fields(obj, deploy_root, schemas)
    assert got.to_fields_v1() == {
        "f:metadata": {"f:finalizers": {'v:"a"': {}}, "f:labels": {"f:app": {}}},
        "f:spec": {"f:selector": {}, "f:template": {"f:spec": {
            "f:containers": {'k:{"name":"c"}': {".": {}, "f:command": {}, "f:name": {}, "f:ports": {
                'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}},
            "f:nodeSelector": {}}}},
    }


def test_manager_from_user_agent() -> None:
    assert manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd") == "kubectl"
    assert manager_from_user_agent("OpenAPI-Generator/37.0.2/python") == "OpenAPI-Generator"
    assert manager_from_user_agent("x" * 300) == "x" * 128

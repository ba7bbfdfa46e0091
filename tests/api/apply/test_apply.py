"""Server-side apply: merging, pruning, shared ownership and conflicts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kybernetes.api.apply import LAST_APPLIED_ANNOTATION, fields, server_side_apply, update_managed_fields
from kybernetes.api.errors import StatusError
from kybernetes.api.schema import Schemas

from .conftest import T0, T1, T2, T3, entries, persisted

STATUS = fields("status")


def config(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
    }
    base["spec"].update(spec)
    return base


def apply(live: dict[str, Any] | None, cfg: dict[str, Any], manager: str, schemas: Schemas,
          root: dict[str, Any], time: str = T1, force: bool = False) -> dict[str, Any]:
    out = server_side_apply(live, cfg, manager, force, schemas, root, "apps/v1", time, reset_fields=STATUS)
    return persisted(out, rv=str(int((live or {}).get("metadata", {}).get("resourceVersion", "0")) + 1))


APPLIED_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}}}},
}


def test_apply_creates_the_object(schemas, deploy_root) -> None:
    cfg = config()
    before = copy.deepcopy(cfg)
    obj = server_side_apply(None, cfg, "kubectl", False, schemas, deploy_root, "apps/v1", T0)
    assert cfg == before
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx"}]
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": APPLIED_FIELDS,
    }]


def test_reapply_without_a_field_removes_it(schemas, deploy_root) -> None:
    obj = apply(None, config(minReadySeconds=5, paused=False), "deployer", schemas, deploy_root)
    obj["metadata"]["labels"]["team"] = "a"  # unowned (e.g. defaulted) fields survive pruning
    again = apply(obj, config(), "deployer", schemas, deploy_root, time=T2)
    assert "minReadySeconds" not in again["spec"] and "paused" not in again["spec"]
    assert again["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert entries(again)["deployer", "Apply", ""]["fieldsV1"] == APPLIED_FIELDS


def test_conflict_reports_manager_and_field(schemas, deploy_root, deployment) -> None:
    update_managed_fields(None, deployment, "kubectl-client-side-apply", "Update", "apps/v1", T0, schemas,
                          deploy_root, reset_fields=STATUS)
    live = persisted(deployment)
    with pytest.raises(StatusError) as err:
        apply(live, config(replicas=3), "deployer", schemas, deploy_root)
    e = err.value
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                         ".spec.replicas")
    assert e.details == {"causes": [{"reason": "FieldManagerConflict",
                                     "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                     "field": ".spec.replicas"}]}
    assert e.status()["details"]["causes"][0]["field"] == ".spec.replicas"


def test_several_conflicts_are_grouped_by_manager(schemas, deploy_root) -> None:
    live = apply(None, config(), "alpha", schemas, deploy_root)
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"minReadySeconds": 2}}, "beta", schemas, deploy_root, time=T2)
    cfg = config(replicas=2, minReadySeconds=9)
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(StatusError) as err:
        apply(live, cfg, "gamma", schemas, deploy_root, time=T3)
    assert err.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "beta":\n'
        "- .spec.minReadySeconds")
    assert [c["message"] for c in err.value.details["causes"]] == [
        'conflict with "alpha"', 'conflict with "alpha"', 'conflict with "beta"']


def test_force_takes_ownership(schemas, deploy_root, deployment) -> None:
    update_managed_fields(None, deployment, "kubectl-create", "Update", "apps/v1", T0, schemas, deploy_root,
                          reset_fields=STATUS)
    live = persisted(deployment)
    obj = apply(live, config(replicas=3), "deployer", schemas, deploy_root, force=True)
    assert obj["spec"]["replicas"] == 3
    got = entries(obj)
    assert "f:replicas" in got["deployer", "Apply", ""]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in got["kubectl-create", "Update", ""]["fieldsV1"]["f:spec"]
    # Fields applied with the live value are shared, not taken.
    assert "f:selector" in got["kubectl-create", "Update", ""]["fieldsV1"]["f:spec"]


def test_equal_values_are_shared_and_survive_one_owner_leaving(schemas, deploy_root) -> None:
    a = apply(None, config(minReadySeconds=5), "alpha", schemas, deploy_root)
    b = apply(a, config(minReadySeconds=5), "beta", schemas, deploy_root, time=T2)
    assert all("f:minReadySeconds" in e["fieldsV1"]["f:spec"] for e in b["metadata"]["managedFields"])
    a2 = apply(b, config(), "alpha", schemas, deploy_root, time=T3)
    assert a2["spec"]["minReadySeconds"] == 5  # beta still owns it
    b2 = apply(a2, config(), "beta", schemas, deploy_root, time=T3)
    assert "minReadySeconds" not in b2["spec"]


def test_unchanged_object_does_not_stamp_a_new_applier(schemas, deploy_root) -> None:
    a = apply(None, config(), "alpha", schemas, deploy_root)
    b = apply(a, config(), "beta", schemas, deploy_root, time=T2)
    assert "time" not in entries(b)["beta", "Apply", ""]
    assert b["spec"] == a["spec"]


def test_list_maps_merge_by_key(schemas, deploy_root) -> None:
    live = apply(None, config(), "alpha", schemas, deploy_root)
    side = copy.deepcopy(live)
    side["spec"]["template"]["spec"]["containers"].insert(0, {"name": "sidecar", "image": "envoy"})
    update_managed_fields(live, side, "injector", "Update", "apps/v1", T2, schemas, deploy_root,
                          reset_fields=STATUS)
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "logger", "image": "fluentbit"})
    obj = apply(persisted(side, rv="2"), cfg, "alpha", schemas, deploy_root, time=T3)
    assert [(c["name"], c["image"]) for c in obj["spec"]["template"]["spec"]["containers"]] == [
        ("sidecar", "envoy"), ("nginx", "nginx:2"), ("logger", "fluentbit")]
    owned = entries(obj)["alpha", "Apply", ""]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(owned) == {'k:{"name":"nginx"}', 'k:{"name":"logger"}'}
    dropped = apply(obj, config(), "alpha", schemas, deploy_root, time=T3)
    assert [c["name"] for c in dropped["spec"]["template"]["spec"]["containers"]] == ["sidecar", "nginx"]


def test_sets_are_unioned_and_ports_key_on_default_protocol(schemas, deploy_root) -> None:
    a_cfg = config()
    a_cfg["metadata"]["finalizers"] = ["a/x"]
    a_cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    a = apply(None, a_cfg, "alpha", schemas, deploy_root)
    b_cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": ["b/y"]}}
    b = apply(a, b_cfg, "beta", schemas, deploy_root, time=T2)
    assert b["metadata"]["finalizers"] == ["a/x", "b/y"]
    assert entries(b)["beta", "Apply", ""]["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"b/y"': {}}}}
    ports = entries(b)["alpha", "Apply", ""]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"nginx"}']["f:ports"]
    assert ports == {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}


def test_scale_then_apply_conflicts_on_replicas(schemas, deploy_root) -> None:
    live = apply(None, config(), "kubectl", schemas, deploy_root)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    update_managed_fields(live, scaled, "kubectl", "Update", "apps/v1", T2, schemas, deploy_root, "scale")
    scaled = persisted(scaled, rv="2")
    assert "f:replicas" not in entries(scaled)["kubectl", "Apply", ""]["fieldsV1"]["f:spec"]
    with pytest.raises(StatusError) as err:
        apply(scaled, config(replicas=1), "kubectl", schemas, deploy_root, time=T3)
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
                                 "using apps/v1: .spec.replicas")
    assert err.value.details["causes"][0]["message"] == 'conflict with "kubectl" with subresource "scale" using apps/v1'
    # --force-conflicts takes replicas back from the scaler.
    ok = apply(scaled, config(replicas=1), "kubectl", schemas, deploy_root, time=T3, force=True)
    assert ok["spec"]["replicas"] == 1 and ("kubectl", "Update", "scale") not in entries(ok)


def test_objects_without_managed_fields_get_before_first_apply(schemas, deploy_root, deployment) -> None:
    live = persisted(deployment)
    obj = apply(live, config(replicas=1), "deployer", schemas, deploy_root)
    got = entries(obj)
    assert set(got) == {("deployer", "Apply", ""), ("before-first-apply", "Update", "")}
    assert "f:replicas" in got["before-first-apply", "Update", ""]["fieldsV1"]["f:spec"]  # shared, equal value


def test_kubectl_upgrades_client_side_apply_without_conflicts(schemas, deploy_root, deployment) -> None:
    last = config()
    deployment["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: json.dumps(last) + "\n"}
    update_managed_fields(None, deployment, "kubectl-client-side-apply", "Update", "apps/v1", T0, schemas,
                          deploy_root, reset_fields=STATUS)
    live = persisted(deployment)
    obj = apply(live, config(replicas=2), "kubectl", schemas, deploy_root)
    assert obj["spec"]["replicas"] == 2
    annotation = obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert annotation.endswith("\n") and json.loads(annotation)["spec"]["replicas"] == 2
    assert annotation.startswith('{"apiVersion":"apps/v1","kind":"Deployment","metadata":')
    # Another manager gets no such allowance.
    with pytest.raises(StatusError):
        apply(live, config(replicas=2), "deployer", schemas, deploy_root)


def test_bad_requests(schemas, deploy_root) -> None:
    with pytest.raises(StatusError) as err:
        apply(None, {**config(), "kind": "StatefulSet"}, "x", schemas, deploy_root)
    assert (err.value.code, err.value.message) == (400, "invalid object type: apps/v1, Kind=StatefulSet")
    with pytest.raises(StatusError) as err:
        apply(None, {**config(), "apiVersion": "v1"}, "x", schemas, deploy_root)
    assert err.value.message == "invalid object type: /v1, Kind=Deployment"
    cfg = config()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(StatusError) as err:
        apply(None, cfg, "x", schemas, deploy_root)
    assert (err.value.code, err.value.message) == (400, "metadata.managedFields must be nil")
    cfg = config()
    cfg["metadata"]["namespace"] = "default"
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "other"})
    cfg["spec"]["bogus"] = 1
    with pytest.raises(StatusError) as err:
        apply(None, cfg, "x", schemas, deploy_root)
    assert err.value.code == 500
    assert err.value.message == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n"
        '  .spec.template.spec.containers: duplicate entries for key [name="nginx"]\n'
        "  .spec.bogus: field not declared in schema")


def test_atomic_lists_are_replaced_whole(schemas, deploy_root) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["tolerations"] = [{"key": "a", "operator": "Exists"}]
    live = apply(None, cfg, "alpha", schemas, deploy_root)
    cfg["spec"]["template"]["spec"]["tolerations"] = [{"key": "b", "operator": "Exists"}]
    obj = apply(live, cfg, "alpha", schemas, deploy_root, time=T2)
    assert obj["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    owned = entries(obj)["alpha", "Apply", ""]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
    assert owned["f:tolerations"] == {}
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}}}
    with pytest.raises(StatusError) as err:
        apply(obj, other, "beta", schemas, deploy_root, time=T3)
    assert err.value.details["causes"][0]["field"] == ".spec.template.spec.tolerations"


def test_schemaless_custom_resources_are_deduced(schemas) -> None:
    crd_root = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}}}
    cfg = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
           "spec": {"size": 1, "tags": ["a"]}}
    obj = server_side_apply(None, cfg, "me", False, schemas, crd_root, "example.com/v1", T0)
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:size": {}, "f:tags": {}}}
    # Without a schema every map key is "unknown", so each map is owned as a whole too.
    untyped = server_side_apply(None, cfg, "me", False, schemas, None, "example.com/v1", T0)
    assert untyped["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}, "f:tags": {}}}

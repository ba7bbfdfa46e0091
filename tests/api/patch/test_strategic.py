"""Strategic merge patch: the patches kubectl really sends, each directive, upstream's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api import gofmt
from kybernetes.api.errors import StatusError
from kybernetes.api.patch import apply_strategic_merge_patch
from kybernetes.api.schema import Schemas

Obj = dict[str, Any]
Patcher = Callable[[Obj, Any], Obj]


@pytest.fixture
def deploy(smp: Callable[[str, str, str], Patcher]) -> Patcher:
    return smp("apps", "v1", "Deployment")


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def names(items: list[Obj], key: str = "name") -> list[Any]:
    return [i[key] for i in items]


def error(apply: Patcher, obj: Obj, patch: Any) -> StatusError:
    with pytest.raises(StatusError) as info:
        apply(obj, patch)
    return info.value


# -- what kubectl sends -----------------------------------------------------------------------


def test_kubectl_apply_updates_only_the_image(deploy: Patcher, deployment: Obj) -> None:
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}},
             "spec": {"replicas": 2, "template": {"spec": {
                 "$setElementOrder/containers": [{"name": "nginx"}],
                 "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
    out = deploy(deployment, patch)
    nginx = dict(pod_spec(deployment)["containers"][0], image="nginx:1.26")
    assert pod_spec(out)["containers"] == [nginx, pod_spec(deployment)["containers"][1]]
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                              "kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}
    assert out["status"] == deployment["status"] and out["spec"]["strategy"] == deployment["spec"]["strategy"]


def test_kubectl_set_image(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "busybox:1.37", "name": "sidecar"}]}}}}
    containers = pod_spec(deploy(deployment, patch))["containers"]
    assert names(containers) == ["nginx", "sidecar"]
    assert containers[1] == {"name": "sidecar", "image": "busybox:1.37", "command": ["sleep", "3600"]}
    assert containers[0] == pod_spec(deployment)["containers"][0]


def test_kubectl_set_env(deploy: Patcher, deployment: Obj) -> None:
    def env_patch(order: list[str], env: list[Obj]) -> Obj:
        return {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"$setElementOrder/env": [{"name": n} for n in order], "env": env, "name": "nginx"}]}}}}

    added = deploy(deployment, env_patch(["A", "B", "C"], [{"name": "C", "value": "3"}]))
    assert pod_spec(added)["containers"][0]["env"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
    changed = deploy(deployment, env_patch(["A", "B"], [{"name": "A", "value": "10"}]))
    assert pod_spec(changed)["containers"][0]["env"] == [{"name": "A", "value": "10"}, {"name": "B", "value": "2"}]
    removed = deploy(deployment, env_patch(["A"], [{"$patch": "delete", "name": "B"}]))
    assert pod_spec(removed)["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert pod_spec(removed)["containers"][0]["image"] == "nginx:1.25"


def test_delete_a_container(deploy: Patcher, deployment: Obj) -> None:
    out = deploy(deployment, {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}}})
    assert names(pod_spec(out)["containers"]) == ["nginx"]
    with_order = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                                 "containers": [{"$patch": "delete", "name": "sidecar"}]}}}}
    assert deploy(deployment, with_order) == out
    # deleting what is not there is no error
    missing = {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "nope"}]}}}}
    assert deploy(deployment, missing) == deployment


def test_retain_keys_for_strategy_type_change(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    assert deploy(deployment, patch)["spec"]["strategy"] == {"type": "Recreate"}
    # kubectl sends $retainKeys even when nothing else changes, clearing fields it does not list
    assert deploy(deployment, {"spec": {"strategy": {"$retainKeys": ["type"]}}})["spec"]["strategy"] == {
        "type": "RollingUpdate"}


def test_retain_keys_for_volume_source_change(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}, {"name": "conf"}],
        "volumes": [{"$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/srv"}, "name": "data"}]}}}}
    volumes = pod_spec(deploy(deployment, patch))["volumes"]
    assert volumes == [{"name": "data", "hostPath": {"path": "/srv"}}, {"name": "conf", "configMap": {"name": "c"}}]
    # without the directive both sources would remain (which validation then rejects)
    plain = {"spec": {"template": {"spec": {"volumes": [{"hostPath": {"path": "/srv"}, "name": "data"}]}}}}
    assert pod_spec(deploy(deployment, plain))["volumes"][0] == {"name": "data", "emptyDir": {},
                                                                 "hostPath": {"path": "/srv"}}


def test_service_ports_merge_by_port(smp: Callable[[str, str, str], Patcher]) -> None:
    svc: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "type": "ClusterIP", "ports": [
               {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
               {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]}}
    apply = smp("", "v1", "Service")
    out = apply(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"},
                                    svc["spec"]["ports"][1]]
    # an added element without $setElementOrder goes first, as upstream orders it
    out = apply(svc, {"spec": {"ports": [{"port": 8081, "name": "alt"}]}})
    assert names(out["spec"]["ports"], "port") == [8081, 80, 443]
    # kubectl set selector
    assert apply(svc, {"spec": {"selector": {"app": "web2"}}})["spec"]["selector"] == {"app": "web2"}


def test_null_deletes_map_keys(deploy: Patcher, deployment: Obj) -> None:
    out = deploy(deployment, {"metadata": {"labels": {"team": None, "tier": "fe", "absent": None}}})
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    out = deploy(deployment, {"spec": {"template": {"spec": {"tolerations": None}}}})
    assert "tolerations" not in pod_spec(out)


def test_finalizers_are_a_set(deploy: Patcher, deployment: Obj) -> None:
    union = deploy(deployment, {"metadata": {"finalizers": ["example.com/b", "example.com/a"]}})
    assert union["metadata"]["finalizers"] == ["example.com/b", "example.com/a"]
    ordered = deploy(deployment, {"metadata": {"$setElementOrder/finalizers": ["example.com/a", "example.com/b"],
                                               "finalizers": ["example.com/b"]}})
    assert ordered["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    removed = deploy(deployment, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a", "x"]}})
    assert removed["metadata"]["finalizers"] == []


def test_status_conditions_merge_by_type(deploy: Patcher, deployment: Obj) -> None:
    patch = {"status": {"conditions": [{"type": "Available", "status": "False",
                                        "reason": "MinimumReplicasUnavailable"}]}}
    conditions = deploy(deployment, patch)["status"]["conditions"]
    assert conditions == [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                          deployment["status"]["conditions"][1]]


def test_lists_without_strategy_are_replaced(deploy: Patcher, deployment: Obj) -> None:
    out = deploy(deployment, {"spec": {"template": {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}],
                                                             "containers": [{"name": "sidecar", "command": ["true"]}]}}}})
    assert pod_spec(out)["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    assert pod_spec(out)["containers"][1]["command"] == ["true"]


def test_nested_merges_inside_list_elements(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "nginx", "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m"}},
        "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
        "ports": [{"containerPort": 443, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}}}}
    nginx = pod_spec(deploy(deployment, patch))["containers"][0]
    assert nginx["resources"] == {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}}
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}]
    assert nginx["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]


def test_rollout_restart_and_owner_references(deploy: Patcher, deployment: Obj) -> None:
    restarted = deploy(deployment, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
    assert restarted["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}
    owned = dict(deployment, metadata=dict(deployment["metadata"], ownerReferences=[
        {"apiVersion": "v1", "kind": "X", "name": "a", "uid": "u1"}]))
    out = deploy(owned, {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True},
                                                          {"apiVersion": "v1", "kind": "Y", "name": "b", "uid": "u2"}]}})
    assert {r["uid"]: r.get("controller") for r in out["metadata"]["ownerReferences"]} == {"u1": True, "u2": None}


def test_fields_unknown_to_the_schema(deploy: Patcher, deployment: Obj) -> None:
    obj = dict(deployment, spec=dict(deployment["spec"], extra={"a": 1, "b": 2, "l": [1, 2]}))
    out = deploy(obj, {"spec": {"extra": {"b": None, "c": {"d": None, "e": 1}, "l": [3]}, "new": [{"x": None}]}})
    assert out["spec"]["extra"] == {"a": 1, "c": {"e": 1}, "l": [3]}
    assert out["spec"]["new"] == [{}]


# -- directives ---------------------------------------------------------------------------------


def test_patch_replace_and_delete_on_maps(deploy: Patcher, deployment: Obj) -> None:
    out = deploy(deployment, {"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "v": "2"}}}}})
    assert out["spec"]["template"]["metadata"]["labels"] == {"v": "2"}
    assert deploy(deployment, {"spec": {"strategy": {"$patch": "delete"}}})["spec"]["strategy"] == {}
    assert "x" not in deploy(deployment, {"spec": {"x": {"$patch": "delete"}}})["spec"]
    merged = deploy(deployment, {"metadata": {"labels": {"$patch": "merge", "v": "2"}}})
    assert merged["metadata"]["labels"] == {"app": "web", "team": "a", "v": "2"}
    whole = deploy(deployment, {"$patch": "replace", "kind": "Deployment", "metadata": {"name": "w", "x": None}})
    assert whole == {"kind": "Deployment", "metadata": {"name": "w"}}


def test_patch_replace_in_a_list(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "x", "resources": None}, {"$patch": "replace"}]}}}}
    assert pod_spec(deploy(deployment, patch))["containers"] == [{"name": "only", "image": "x"}]


def test_set_element_order_alone_reorders(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}}}
    out = deploy(deployment, patch)
    assert names(pod_spec(out)["containers"]) == ["sidecar", "nginx"]
    assert sorted(names(pod_spec(out)["containers"])) == sorted(names(pod_spec(deployment)["containers"]))


def test_new_elements_are_cleaned(deploy: Patcher, deployment: Obj) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "new", "image": "x", "resources": None, "env": [{"name": "E", "value": "1"},
                                                                  {"$patch": "delete", "name": "F"}]}]}}}}
    new = pod_spec(deploy(deployment, patch))["containers"][0]
    assert new == {"name": "new", "image": "x", "env": [{"name": "E", "value": "1"}]}


def test_null_and_empty_patches(deploy: Patcher, deployment: Obj) -> None:
    assert deploy(deployment, None) == deployment
    assert deploy(deployment, {}) == deployment
    out = deploy(deployment, {})
    out["spec"]["replicas"] = 9
    assert deployment["spec"]["replicas"] == 1


def test_pdb_selector_has_replace_strategy(smp: Callable[[str, str, str], Patcher]) -> None:
    pdb = {"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "1"}}}}
    out = smp("policy", "v1", "PodDisruptionBudget")(pdb, {"spec": {"selector": {"matchLabels": {"b": "2"}}}})
    assert out["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"b": "2"}}}


# -- errors, with upstream's codes and messages -----------------------------------------------


def test_missing_merge_key(deploy: Patcher, deployment: Obj) -> None:
    err = error(deploy, deployment, {"spec": {"template": {"spec": {"volumes": [
        {"hostPath": {"path": "/var/lib/kubelet/pods"}}]}}}})
    assert (err.code, err.reason) == (500, "")
    assert err.message == "map: map[hostPath:map[path:/var/lib/kubelet/pods]] does not contain declared merge key: name"
    err = error(deploy, deployment, {"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}})
    assert err.message == "map: map[$patch:delete] does not contain declared merge key: name"


@pytest.mark.parametrize(("patch", "code", "message"), [
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": "nginx"}}}}, 500,
     "expected a []interface {}, but received a string"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}], "containers": None}}}}, 500,
     "expected a []interface {}, but received a %!s(<nil>)"),
    ({"spec": {"$setElementOrder": []}}, 400, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, 400, "invalid patch format of primitive list"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, 400, "invalid patch format of primitive list"),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$patch": "bogus", "type": "Recreate"}}}, 500,
     "unknown patch type: bogus in map: map[$patch:bogus type:Recreate]"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "merge", "name": "nginx"}]}}}}, 500,
     "merging lists cannot yet be specified in the patch"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "zap", "name": "nginx"}]}}}}, 500,
     "unknown patch type: zap in map: map[$patch:zap name:nginx]"),
    ({"metadata": {"finalizers": [1]}}, 500, "list element types are not identical: [[example.com/a] [1]]"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                                     "containers": [{"name": "sidecar"}, {"name": "nginx"}]}}}}, 500,
     "The order in patch list:\n[map[name:sidecar] map[name:nginx]]\n doesn't match $setElementOrder list:\n"
     "[map[name:nginx] map[name:sidecar]]\n"),
])
def test_malformed_patches(deploy: Patcher, deployment: Obj, patch: Obj, code: int, message: str) -> None:
    err = error(deploy, deployment, patch)
    assert err.code == code
    assert err.reason == ("BadRequest" if code == 400 else "")
    assert err.message == message


def test_list_element_kinds(deploy: Patcher, deployment: Obj) -> None:
    err = error(deploy, deployment, {"metadata": {"finalizers": [["a"]]}})
    assert (err.code, err.reason) == (422, "Invalid")
    assert str(err.__cause__) == "lists of lists are not supported"
    err = error(deploy, deployment, {"spec": {"template": {"spec": {"containers": ["nginx"]}}}})
    assert err.code == 500
    assert err.message.startswith("list element types are not identical: [[map[env:[map[name:A value:1]")
    assert err.message.endswith("map[command:[sleep 3600] image:busybox:1.36 name:sidecar]] [nginx]]")


def test_patch_must_be_an_object(deploy: Patcher, deployment: Obj) -> None:
    for patch, shown in [([{"op": "add"}], "array"), ("x", "string"), (1, "number")]:
        err = error(deploy, deployment, patch)
        assert (err.code, err.reason) == (400, "BadRequest")
        assert err.message == f"json: cannot unmarshal {shown} into Go value of type map[string]interface {{}}"


def test_without_schema_maps_merge_and_lists_replace(schemas: Schemas) -> None:
    doc = {"spec": {"a": {"x": 1, "y": 2}, "items": [{"name": "a", "v": 1}, {"name": "b"}]}}
    patch = {"spec": {"a": {"y": None, "z": 3}, "items": [{"name": "a", "v": 2}]}}
    assert apply_strategic_merge_patch(doc, patch, None, schemas) == {
        "spec": {"a": {"x": 1, "z": 3}, "items": [{"name": "a", "v": 2}]}}


@pytest.mark.parametrize(("value", "shown"), [
    (80, "80"), (1.5, "1.5"), (1e6, "1e+06"), (123456.0, "123456"), (1e-05, "1e-05"), (0.0001, "0.0001"),
    (-2.5e-7, "-2.5e-07"), (True, "true"), (None, "<nil>"), ({"b": [1, "x"], "a": {}}, "map[a:map[] b:[1 x]]"),
])
def test_messages_print_values_as_go_does(value: Any, shown: str) -> None:
    assert gofmt.go_value(value) == shown

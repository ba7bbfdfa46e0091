"""Server-side field validation: unknown/duplicate field detection and the apiserver's messages."""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest

from kybernetes.api import fieldvalidation as fv
from kybernetes.api import gofmt, schema
from kybernetes.api.errors import StatusError
from kybernetes.api.types import GroupVersionKind

DEPLOYMENT = GroupVersionKind("apps", "v1", "Deployment")
CRONTAB = GroupVersionKind("stable.example.com", "v1", "CronTab")


@pytest.fixture(scope="module")
def schemas() -> schema.Schemas:
    s = schema.builtin()
    s.add("com.example.stable.v1.CronTab", {
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}],
        "properties": {
            "metadata": {"type": "object"},  # as CRDs write it: still checked as ObjectMeta
            "spec": {"type": "object", "properties": {
                "cronSpec": {"type": "string"},
                "port": {"x-kubernetes-int-or-string": True},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                           "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
                "strict": {"type": "object", "x-kubernetes-embedded-resource": True,
                           "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
                "empty": {"type": "object"},
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }, CRONTAB)
    return s


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "example.com/any": "x"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {
            "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"},
                                 {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                         "resources": {"limits": {"cpu": "500m", "memory": 134217728},
                                       "requests": {"cpu": 0.25}},
                         "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                        {"name": "sidecar", "image": "busybox", "command": ["sh", "-c", "sleep 1d"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]},
    }


def unknown(obj: Any, s: schema.Schemas, gvk: GroupVersionKind = DEPLOYMENT) -> list[str]:
    return fv.unknown_fields(obj, s.for_gvk(gvk), s)


# --- unknown fields ------------------------------------------------------------------------------
def test_clean_deployment_has_no_unknown_fields(schemas: schema.Schemas) -> None:
    assert unknown(deployment(), schemas) == []


def test_unknown_nested_fields_in_containers(schemas: schema.Schemas) -> None:
    d = deployment()
    d["spec"]["foo"] = 1
    c = d["spec"]["template"]["spec"]["containers"]
    c[0]["imagePullPolice"] = "Always"
    c[1]["resources"] = {"limits": {"cpu": "1"}, "limitz": {}}
    c[0]["ports"][0]["hostPortt"] = 8080
    d["metadata"]["labelz"] = {}
    d["spec"]["strategy"]["rollingUpdate"]["maxSurgee"] = 1
    assert unknown(d, schemas) == [
        "metadata.labelz",
        "spec.strategy.rollingUpdate.maxSurgee",
        "spec.template.spec.containers[0].ports[0].hostPortt",
        "spec.template.spec.containers[0].imagePullPolice",
        "spec.template.spec.containers[1].resources.limitz",
        "spec.foo",
    ]


def test_maps_accept_any_key_and_leaves_are_not_descended(schemas: schema.Schemas) -> None:
    d = deployment()
    d["metadata"]["labels"]["spec.anything/goes"] = "1"
    d["spec"]["template"]["spec"]["nodeSelector"]["whatever"] = "x"
    # Free-form types: managedFields' fieldsV1 is arbitrary JSON; IntOrString given as an object is a
    # type error for the decoder, not an unknown field.
    d["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = {"odd": 1}
    assert unknown(d, schemas) == []


def test_case_sensitive_and_root_type_meta(schemas: schema.Schemas) -> None:
    d = deployment()
    d["Spec"] = {}
    assert unknown(d, schemas) == ["Spec"]
    assert unknown({"apiVersion": "apps/v1", "kind": "Deployment"}, schemas) == []


def test_crd_preserve_unknown_embedded_and_maps(schemas: schema.Schemas) -> None:
    ct = {
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "c", "labels": {"a": "b"}, "bogus": 1},
        "spec": {
            "cronSpec": "* * * * *", "port": 8080, "extra": True,
            "config": {"anything": {"deep": [1, 2]}, "known": {"a": "x", "b": "y"}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "nope": 1}, "free": {}},
            "strict": {"apiVersion": "v1", "kind": "X", "spec": {"x": 1, "y": 2}, "other": 1},
            "tags": {"any-key": "v"},
            "items": [{"n": "a"}, {"n": "b", "m": "c"}],
            "empty": {"z": 1},
        },
        "status": {"whatever": {"goes": True}},
        "topLevel": 1,
    }
    assert sorted(unknown(ct, schemas, CRONTAB)) == [
        "metadata.bogus",
        "spec.config.known.b",
        "spec.empty.z",
        "spec.extra",
        "spec.items[1].m",
        "spec.strict.other",
        "spec.strict.spec.y",
        "spec.template.metadata.nope",
        "topLevel",
    ]


def test_no_schema_reports_nothing(schemas: schema.Schemas) -> None:
    assert fv.unknown_fields({"spec": {"x": 1}}, None, schemas) == []


def test_crd_schema_change_is_seen(schemas: schema.Schemas) -> None:
    local = schema.builtin()
    gvk = GroupVersionKind("g.io", "v1", "K")
    local.add("io.g.v1.K", {"type": "object", "properties": {"spec": {"type": "object", "properties": {}}}}, gvk)
    obj = {"apiVersion": "g.io/v1", "kind": "K", "spec": {"a": 1}}
    assert fv.unknown_fields(obj, local.for_gvk(gvk), local) == ["spec.a"]
    local.add("io.g.v1.K", {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "integer"}}}}}, gvk)
    assert fv.unknown_fields(obj, local.for_gvk(gvk), local) == []


def test_jsonschemaprops_fields_inside_a_crd(schemas: schema.Schemas) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "crontabs.stable.example.com"},
           "spec": {"group": "stable.example.com", "scope": "Namespaced",
                    "names": {"plural": "crontabs", "kind": "CronTab"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string",
                                                                                       "typo": 1}},
                                                "additionalProperties": False,
                                                "default": {"free": {"form": 1}}}},
                        "additionalProperties": {"type": "string", "bogus": 2}}}}]}}
    s = schemas
    gvk = GroupVersionKind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    base = "spec.versions[0].schema.openAPIV3Schema"
    assert unknown(crd, s, gvk) == [f"{base}.properties.spec.properties.a.typo", f"{base}.additionalProperties.bogus"]


def test_prune_removes_reported_paths(schemas: schema.Schemas) -> None:
    d = deployment()
    clean = copy.deepcopy(d)
    d["spec"]["foo"] = 1
    d["spec"]["template"]["spec"]["containers"][1]["imagePullPolice"] = "x"
    d["metadata"]["labels"]["spec.foo"] = "label keys that look like paths stay"
    clean["metadata"]["labels"]["spec.foo"] = "label keys that look like paths stay"
    paths = unknown(d, schemas)
    fv.prune(d, paths)
    assert d == clean


def test_deployment_check_is_fast(schemas: schema.Schemas) -> None:
    d = deployment()
    raw = orjson.dumps(d)
    unknown(d, schemas)  # compile once
    runs = 300
    start = time.perf_counter()
    for _ in range(runs):
        unknown(d, schemas)
        fv.duplicate_fields(raw, "application/json")
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.0003, f"{per_call * 1e3:.3f} ms"


# --- duplicates ------------------------------------------------------------------------------------
def test_json_duplicates_with_paths() -> None:
    body = (b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"},'
            b'"spec":{"containers":[{"name":"c","image":"x","image":"y"}]},"kind":"Pod"}')
    assert fv.duplicate_fields(body, "application/json") == [
        'duplicate field "metadata.name"', 'duplicate field "spec.containers[0].image"', 'duplicate field "kind"']
    assert fv.duplicate_fields(b'{"a":"x\\":1, \\"a\\":2","b":{"a":1}}', "application/json") == []
    assert fv.duplicate_fields(b"not json", "application/json") == []


def test_yaml_duplicates_like_go_yaml() -> None:
    body = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\nspec:\n  x: 1\nkind: Pod\n"
    assert fv.duplicate_fields(body, "application/yaml") == [
        'yaml: unmarshal errors:\n  line 5: key "name" already set in map\n  line 8: key "kind" already set in map']
    # apply bodies are read as YAML even when they are JSON
    assert fv.duplicate_fields(b'{"a": 1, "a": 2}', "application/apply-patch+yaml") == [
        'yaml: unmarshal errors:\n  line 1: key "a" already set in map']


# --- messages ------------------------------------------------------------------------------------
def test_strict_error_messages() -> None:
    err = fv.strict_error(["spec.foo", "spec.bar"])
    assert isinstance(err, StatusError) and err.code == 400 and err.reason == "BadRequest"
    assert err.message == 'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    err = fv.strict_error(["spec.foo"], ['duplicate field "metadata.name"'], kind="Deployment", version="v1")
    assert err.message == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                           'duplicate field "metadata.name", unknown field "spec.foo"')
    assert fv.warnings(["spec.foo", "spec.bar"]) == ['unknown field "spec.foo"', 'unknown field "spec.bar"']
    yaml_dups = fv.duplicate_fields(b"a: 1\na: 2\nb: 1\nb: 2\n", "application/yaml")
    assert fv.warnings(["x"], yaml_dups) == ['line 2: key "a" already set in map', 'line 4: key "b" already set in map',
                                             'unknown field "x"']
    assert fv.apply_strict_error(yaml_dups).message.startswith(
        'error strict decoding YAML: yaml: unmarshal errors:\n  line 2: key "a" already set in map')


def test_patch_strict_error_is_invalid() -> None:
    err = fv.patch_strict_error(["spec.foo"], [], gofmt.go_value({"spec": {"foo": 1, "replicas": 2}}))
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message == (' "" is invalid: patch: Invalid value: "map[spec:map[foo:1 replicas:2]]": '
                           'strict decoding error: unknown field "spec.foo"')


def test_directive_parsing_and_json_patch_ops() -> None:
    assert fv.parse_directive(None) == "Warn" and fv.parse_directive("Strict") == "Strict"
    with pytest.raises(StatusError) as info:
        fv.parse_directive("strict")
    assert info.value.code == 422
    assert 'fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"' \
        in info.value.message
    assert fv.json_patch_unknown_fields([{"op": "add", "path": "/a", "value": 1, "pathh": "x"}]) == [
        'json patch unknown field "[0].pathh"']
    assert fv.go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.apiextensions import crd as crd_kind
from kybernetes.api.kinds.apiextensions.customresource import CustomResourceStrategy
from tests.api.kinds._helpers import CTX, NOW, messages, meta

SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["cronSpec"], "properties": {
        "cronSpec": {"type": "string", "pattern": r"^(\S+ ){4}\S+$"},
        "image": {"type": "string", "maxLength": 20},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
        "port": {"x-kubernetes-int-or-string": True},
        "email": {"type": "string", "format": "email"},
        "nickname": {"type": "string", "nullable": True},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "options": {"type": "object", "default": {}, "properties": {"level": {"type": "integer", "default": 3}}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True},
    }},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"},
                                                "conditions": {"type": "array", "items": {
                                                    "type": "object", "properties": {"type": {"type": "string"},
                                                                                     "status": {"type": "string"}}}}}},
}}


def _crd(**version: Any) -> dict[str, Any]:
    return {"metadata": {"name": "crontabs.stable.example.com"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced",
                     "names": {"plural": "crontabs", "kind": "CronTab", "singular": "crontab"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": SCHEMA}, **version}]}}


def _ct(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": meta("nightly", "default"),
            "spec": spec, **extra}


FULL = _crd(subresources={"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                  "statusReplicasPath": ".status.replicas",
                                                  "labelSelectorPath": ".status.selector"}},
            additionalPrinterColumns=[
                {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "Ready", "type": "string", "priority": 1,
                 "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
            selectableFields=[{"jsonPath": ".spec.mode"}])


def test_the_crd_used_here_is_valid() -> None:
    obj = copy.deepcopy(FULL)
    obj["apiVersion"], obj["kind"] = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
    crd_kind.STRATEGY.default(obj)
    crd_kind.STRATEGY.prepare_for_create(obj, CTX)
    assert crd_kind.STRATEGY.validate(obj, CTX) == []


def test_unknown_version_is_an_error() -> None:
    with pytest.raises(KeyError):
        CustomResourceStrategy(FULL, "v9")


def test_pruning_and_defaulting() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    obj = _ct({"cronSpec": "* * * * */5", "unknown": 1, "nickname": None, "image": None,
               "extra": {"anything": {"goes": True}}, "labels": {"a": "b"},
               "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}},
              junk={"dropped": True})
    strategy.default(obj)
    assert "junk" not in obj and obj["metadata"]["name"] == "nightly"
    assert obj["spec"] == {"cronSpec": "* * * * */5", "nickname": None, "extra": {"anything": {"goes": True}},
                           "labels": {"a": "b"},
                           "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                        "spec": {"x": 1}},
                           "replicas": 1, "mode": "slow", "options": {"level": 3}}


def test_schema_validation_messages() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    obj = _ct({"cronSpec": "bad", "replicas": "3", "image": "x" * 21, "mode": "medium", "port": True,
               "email": "nope", "tags": ["a", "b", "c"]})
    assert messages(strategy.validate(obj, CTX)) == [
        "spec.cronSpec: Invalid value: \"bad\": spec.cronSpec in body should match '^(\\S+ ){4}\\S+$'",
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        "spec.image: Too long: may not be longer than 20",
        'spec.mode: Unsupported value: "medium": supported values: "fast", "slow"',
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        'spec.email: Invalid value: "nope": spec.email in body must be of type email: "nope"',
        "spec.tags: Too many: 3: must have at most 2 items",
        '.spec.replicas: Invalid value: 0: .spec.replicas accessor error: 3 is of the type string, expected int64',
    ]
    assert messages(strategy.validate(_ct({"replicas": 11}), CTX)) == [
        "spec.cronSpec: Required value",
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
    ]
    assert messages(strategy.validate(_ct({"cronSpec": "* * * * *", "replicas": -1}), CTX)) == [
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
        ".spec.replicas: Invalid value: -1: should be a non-negative integer",
    ]


def test_type_meta_and_embedded_resources() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    wrong = _ct({"cronSpec": "* * * * *"})
    wrong["kind"] = "Other"
    assert messages(strategy.validate(wrong, CTX)) == ['kind: Invalid value: "Other": must be CronTab']
    embedded = _ct({"cronSpec": "* * * * *", "template": {"metadata": {"name": "Bad_Name"}}})
    assert messages(strategy.validate(embedded, CTX)) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
        'spec.template.metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower '
        "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]


def test_status_subresource_and_generation() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    assert strategy.has_status and strategy.namespaced
    obj = _ct({"cronSpec": "* * * * *"}, status={"replicas": 5})
    strategy.prepare_for_create(obj, CTX)
    assert "status" not in obj
    old = _ct({"cronSpec": "* * * * *"}, status={"replicas": 1})
    old["metadata"]["generation"] = 1
    same = _ct({"cronSpec": "* * * * *"}, status={"replicas": 9})
    strategy.prepare_for_update(same, old, CTX)
    assert same["status"] == {"replicas": 1} and same["metadata"]["generation"] == 1
    changed = _ct({"cronSpec": "0 * * * *"})
    strategy.prepare_for_update(changed, old, CTX)
    assert changed["metadata"]["generation"] == 2
    status = strategy.status_strategy()
    assert status is not None
    update = _ct({"cronSpec": "ignored"}, status={"replicas": 3})
    update["metadata"]["labels"] = {"x": "y"}
    status.prepare_for_update(update, old, CTX)
    assert update["spec"] == old["spec"] and update["status"] == {"replicas": 3}
    assert "labels" not in update["metadata"]
    assert status.validate_update(update, old, CTX) == []


def test_without_status_subresource_status_changes_bump_generation() -> None:
    strategy = CustomResourceStrategy(_crd(), "v1")
    assert not strategy.has_status and strategy.status_strategy() is None and strategy.scale_accessor() is None
    old = _ct({"cronSpec": "* * * * *"}, status={"replicas": 1})
    new = _ct({"cronSpec": "* * * * *"}, status={"replicas": 2})
    strategy.prepare_for_update(new, old, CTX)
    assert new["status"] == {"replicas": 2} and new["metadata"]["generation"] == 2


def test_scale_accessor() -> None:
    scale = CustomResourceStrategy(FULL, "v1").scale_accessor()
    assert scale is not None
    obj = _ct({"cronSpec": "* * * * *", "replicas": 2}, status={"replicas": 1, "selector": "app=cron"})
    assert (scale.get_spec_replicas(obj), scale.get_status_replicas(obj), scale.get_selector(obj)) == (2, 1, "app=cron")
    scale.set_spec_replicas(obj, 7)
    assert obj["spec"]["replicas"] == 7
    empty: dict[str, Any] = {"metadata": {}}
    scale.set_spec_replicas(empty, 1)
    assert empty["spec"] == {"replicas": 1} and scale.get_selector(empty) == ""


def test_printer_columns() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    cols = strategy.columns()
    assert [(c.name, c.type, c.priority) for c in cols] == [("Name", "string", 0), ("Spec", "string", 0),
                                                            ("Replicas", "integer", 0), ("Ready", "string", 1),
                                                            ("Age", "date", 0)]
    assert cols[1].description == "Custom resource definition column (in JSONPath format): .spec.cronSpec"
    obj = _ct({"cronSpec": "* * * * *", "replicas": 3},
              status={"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]})
    assert strategy.row(obj, NOW) == ["nightly", "* * * * *", 3, "True", "60m"]
    assert strategy.row(_ct({}), NOW) == ["nightly", None, None, None, "60m"]


def test_default_columns_are_name_and_age() -> None:
    strategy = CustomResourceStrategy(_crd(), "v1")
    cols = strategy.columns()
    assert [(c.name, c.type, c.format) for c in cols] == [("Name", "string", "name"), ("Age", "date", "")]
    assert strategy.row(_ct({}), NOW) == ["nightly", "60m"]
    assert strategy.row({"metadata": {"name": "x"}}, NOW) == ["x", "<unknown>"]


def test_field_selectors() -> None:
    strategy = CustomResourceStrategy(FULL, "v1")
    fields = strategy.field_selectors(_ct({"cronSpec": "x", "mode": "fast"}))
    assert fields == {"metadata.name": "nightly", "metadata.namespace": "default", "spec.mode": "fast"}
    assert set(strategy.field_selectors({"metadata": {}})) == set(fields)

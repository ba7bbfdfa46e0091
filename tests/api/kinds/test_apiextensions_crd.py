from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.apiextensions import crd
from tests.api.kinds._helpers import CREATED, CTX, NOW, messages, meta

INFO = crd.RESOURCES[0]
STRATEGY = INFO.strategy
SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                                           "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}


def _crd(versions: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": meta("widgets.example.com"),
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": versions if versions is not None else [
                        {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA}}],
                    **spec}}
    STRATEGY.default(obj)
    STRATEGY.prepare_for_create(obj, CTX)
    return obj


def _schema_errors(schema: dict[str, Any], **version: Any) -> list[str]:
    obj = _crd([{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}, **version}])
    return messages(STRATEGY.validate(obj, CTX))


def test_resource_facts() -> None:
    assert INFO.short_names == ("crd", "crds") and INFO.categories == ("api-extensions",)
    assert not INFO.namespaced and [s.name for s in INFO.subresources] == ["status"]
    assert [c.name for c in STRATEGY.columns()] == ["Name", "Created At"]
    assert STRATEGY.row(_crd(), NOW) == ["widgets.example.com", CREATED]


def test_defaults_and_initial_status() -> None:
    obj = _crd()
    assert obj["spec"]["names"] == {"plural": "widgets", "kind": "Widget", "singular": "widget",
                                    "listKind": "WidgetList"}
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    assert obj["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}
    assert STRATEGY.validate(obj, CTX) == []


def test_established_status() -> None:
    status = crd.established_status(_crd(), "2026-01-01T00:00:00Z")
    assert status["acceptedNames"] == {"plural": "widgets", "kind": "Widget", "singular": "widget",
                                       "listKind": "WidgetList"}
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]
    assert status["storedVersions"] == ["v1"]


def test_names_and_spec_errors() -> None:
    obj = _crd(group="example", scope="Global")
    obj["metadata"]["name"] = "things.example.com"
    obj["spec"]["names"] = {"plural": "Widgets", "kind": "widget-kind!", "listKind": "widget-kind!",
                            "shortNames": ["w_"]}
    assert messages(STRATEGY.validate(obj, CTX)) == [
        'metadata.name: Invalid value: "things.example.com": must be spec.names.plural+"."+spec.group',
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        "spec.names.singular: Required value",
        'spec.names.plural: Invalid value: "Widgets": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.names.kind: Invalid value: "widget-kind!": may have mixed case, but should otherwise match: a DNS-1035 '
        "label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and "
        "end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.names.listKind: Invalid value: "widget-kind!": may have mixed case, but should otherwise match: a '
        "DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
        "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
        "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.names.shortNames[0]: Invalid value: "w_": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.names.listKind: Invalid value: "widget-kind!": kind and listKind may not be the same',
    ]


def test_versions() -> None:
    v = {"served": True, "schema": {"openAPIV3Schema": SCHEMA}}
    msgs = messages(STRATEGY.validate(_crd([{"name": "v1", **v}, {"name": "v1", **v}]), CTX))
    assert len(msgs) == 3
    assert msgs[0].startswith("spec.versions: Invalid value: [") and msgs[0].endswith(
        "]: must contain unique version names")
    assert msgs[1].endswith("]: must have exactly one version marked as storage version")
    assert msgs[2] == "status.storedVersions: Invalid value: []: must have at least one stored version"
    missing = messages(STRATEGY.validate(_crd([{"name": "v1", "served": True, "storage": True}]), CTX))
    assert missing == ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]


def test_schema_paths_follow_lifting() -> None:
    bad = {"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}}}}
    assert _schema_errors(bad) == [
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified "
        "object fields"]
    two = _crd([{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": bad}},
                {"name": "v2", "served": True, "storage": False, "schema": {"openAPIV3Schema": SCHEMA}}])
    assert messages(STRATEGY.validate(two, CTX)) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
        "specified object fields"]


def test_columns_and_subresources() -> None:
    msgs = _schema_errors(SCHEMA, additionalPrinterColumns=[{"name": "X", "type": "text", "jsonPath": "spec.x"},
                                                             {"type": "string"}],
                          subresources={"scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": ""}})
    assert msgs == [
        'spec.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under '
        ".spec",
        "spec.subresources.scale.statusReplicasPath: Required value",
        'spec.additionalPrinterColumns[0].type: Invalid value: "text": must be one of '
        "boolean,date,integer,number,string",
        'spec.additionalPrinterColumns[0].JSONPath: Invalid value: "spec.x": must be a simple json path starting '
        "with .",
        "spec.additionalPrinterColumns[1].name: Required value",
        "spec.additionalPrinterColumns[1].JSONPath: Required value",
    ]


def test_status_subresource_restricts_the_root() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    assert _schema_errors(schema, subresources={"status": {}})[0] == (
        'spec.validation.openAPIV3Schema: Invalid value: {"type":"object","additionalProperties":{"type":"string"}}: '
        "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength "
        "Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example "
        "XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status "
        "subresource is enabled")


def test_conversion_and_protected_groups() -> None:
    obj = _crd(conversion={"strategy": "Webhook"})
    assert messages(STRATEGY.validate(obj, CTX)) == [
        "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
        "spec.conversion.conversionReviewVersions: Required value"]
    k8s = _crd(group="widgets.k8s.io")
    k8s["metadata"]["name"] = "widgets.widgets.k8s.io"
    assert messages(STRATEGY.validate(k8s, CTX)) == [
        'metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval '
        'annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111']
    k8s["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    assert STRATEGY.validate(k8s, CTX) == []


def test_update_rules() -> None:
    old = _crd()
    old["status"] = crd.established_status(old, "2026-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["spec"]["scope"] = "Cluster"
    new["spec"]["names"]["plural"] = "gadgets"
    new["metadata"]["name"] = "gadgets.example.com"
    STRATEGY.prepare_for_update(new, old, CTX)
    assert new["status"] == old["status"]
    assert messages(STRATEGY.validate_update(new, old, CTX)) == [
        'spec.scope: Invalid value: "Cluster": field is immutable',
        'spec.names.plural: Invalid value: "gadgets": field is immutable']


def test_new_storage_version_is_recorded() -> None:
    old = _crd()
    new = copy.deepcopy(old)
    new["spec"]["versions"] = [{**old["spec"]["versions"][0], "storage": False},
                               {"name": "v2", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA}}]
    STRATEGY.prepare_for_update(new, old, CTX)
    assert new["status"]["storedVersions"] == ["v1", "v2"]
    assert STRATEGY.validate_update(new, old, CTX) == []


def test_delete_adds_the_cleanup_finalizer() -> None:
    obj = _crd()
    STRATEGY.prepare_for_delete(obj, CTX)
    assert obj["metadata"]["finalizers"] == [crd.CLEANUP_FINALIZER]


@pytest.mark.parametrize("accepted", [{"plural": "Bad", "kind": "Widget"}])
def test_status_strategy_checks_accepted_names(accepted: dict[str, Any]) -> None:
    assert INFO.status_strategy is not None
    obj = _crd()
    obj["status"]["acceptedNames"] = accepted
    assert messages(INFO.status_strategy.validate_update(obj, obj, CTX))[0].startswith(
        'status.acceptedNames.plural: Invalid value: "Bad": a DNS-1035 label')

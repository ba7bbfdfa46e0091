"""core/v1 ConfigMap, Secret and ServiceAccount strategies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.kinds.core import configmap, secret, serviceaccount
from kybernetes.api.strategy import WriteContext

CM, SECRET, SA = configmap.RESOURCES[0].strategy, secret.RESOURCES[0].strategy, serviceaccount.RESOURCES[0].strategy
T0 = "2025-01-01T00:00:00Z"


def msgs(strategy: Any, obj: dict[str, Any]) -> list[str]:
    obj = copy.deepcopy(obj)
    strategy.default(obj)
    return [e.message() for e in strategy.validate(obj, WriteContext())]


@pytest.mark.parametrize(("obj", "expected"), [
    ({"data": {"a.conf": "x", "B_2": "y"}}, []),
    ({"data": {"bad key": "x"}}, ['data[bad key]: Invalid value: "bad key": a valid config key must consist of '
                                  "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                  "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
    ({"data": {"k": "x"}, "binaryData": {"k": "eA=="}},
     ['data[k]: Invalid value: "k": duplicate of key present in binaryData',
      'binaryData[k]: Invalid value: "k": duplicate of key present in data']),
    ({"data": {"big": "x" * (1024 * 1024 + 1)}}, [": Too long: must have at most 1048576 bytes"]),
])
def test_configmap_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert msgs(CM, {"metadata": {"name": "c"}, **obj}) == expected


def test_configmap_binary_data_must_be_base64() -> None:
    with pytest.raises(errors.StatusError) as exc:
        CM.default({"binaryData": {"k": "not base64!"}})
    assert exc.value.code == 400
    assert exc.value.message.startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64')


def test_immutable_configmap() -> None:
    old = {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True}
    new = {"metadata": {"name": "c"}, "data": {"a": "2"}}
    assert [e.message() for e in CM.validate_update(new, old, WriteContext())] == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]
    assert CM.validate_update({**old, "metadata": {"name": "c", "labels": {"x": "y"}}}, old, WriteContext()) == []


def test_configmap_row() -> None:
    obj = {"metadata": {"name": "c", "creationTimestamp": T0}, "data": {"a": "1"}, "binaryData": {"b": "eA=="}}
    assert CM.row(obj, 1735689600.0 + 3600 * 30) == ["c", 2, "30h"]
    assert [c.name for c in CM.columns()] == ["Name", "Data", "Age"]


def test_secret_string_data_and_type_defaults() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "s"}, "data": {"a": "b2xk"}, "stringData": {"a": "new", "u": "admin"}}
    SECRET.default(obj)
    assert obj == {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "bmV3", "u": "YWRtaW4="}}


def test_secret_bad_base64_is_a_decode_error() -> None:
    with pytest.raises(errors.StatusError) as exc:
        SECRET.default({"data": {"a": "@@@"}})
    assert (exc.value.code, exc.value.message) == (
        400, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0')


@pytest.mark.parametrize(("obj", "expected"), [
    ({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}, ["data[tls.key]: Required value"]),
    ({"type": "kubernetes.io/basic-auth"}, ["data[username]: Required value", "data[password]: Required value"]),
    ({"type": "kubernetes.io/dockerconfigjson"}, ["data[.dockerconfigjson]: Required value"]),
    ({"type": "kubernetes.io/service-account-token"},
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ({"type": "example.com/custom", "data": {"x": "eA=="}}, []),
])
def test_secret_types(obj: dict[str, Any], expected: list[str]) -> None:
    assert msgs(SECRET, {"metadata": {"name": "s"}, **obj}) == expected


def test_secret_type_is_immutable() -> None:
    old = {"metadata": {"name": "s"}, "type": "Opaque"}
    new = {"metadata": {"name": "s"}, "type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}}
    assert [e.message() for e in SECRET.validate_update(new, old, WriteContext())] == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable']


def test_secret_row_and_selectors() -> None:
    obj = {"metadata": {"name": "s", "namespace": "d", "creationTimestamp": T0}, "type": "Opaque",
           "data": {"a": "eA==", "b": "eA=="}}
    assert SECRET.row(obj, 1735689600.0 + 90) == ["s", "Opaque", 2, "90s"]
    assert SECRET.field_selectors(obj) == {"metadata.name": "s", "metadata.namespace": "d", "type": "Opaque"}


def test_service_account() -> None:
    obj = {"metadata": {"name": "default", "creationTimestamp": T0}, "secrets": [{"name": "a"}]}
    assert SA.row(obj, 1735689600.0 + 600) == ["default", 1, "10m"]
    (info,) = serviceaccount.RESOURCES
    assert info.short_names == ("sa",)
    assert [(s.name, s.kind, s.group, s.verbs) for s in info.subresources] == [
        ("token", "TokenRequest", "authentication.k8s.io", ("create",))]

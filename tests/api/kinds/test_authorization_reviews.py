from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.kinds.authorization import (
    localsubjectaccessreview,
    selfsubjectaccessreview,
    selfsubjectrulesreview,
    subjectaccessreview,
)
from tests.api.kinds._helpers import CTX, messages

MODULES = (subjectaccessreview, localsubjectaccessreview, selfsubjectaccessreview, selfsubjectrulesreview)


def test_reviews_are_create_only() -> None:
    for module in MODULES:
        (info,) = module.RESOURCES
        assert info.verbs == ("create",)
    assert localsubjectaccessreview.RESOURCES[0].namespaced
    assert not selfsubjectaccessreview.RESOURCES[0].namespaced


def test_self_subject_access_review() -> None:
    strategy = selfsubjectaccessreview.RESOURCES[0].strategy
    ok = {"metadata": {"creationTimestamp": None},
          "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}}}
    assert strategy.validate(ok, CTX) == []
    assert messages(strategy.validate({"spec": {}}, CTX)) == [
        'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
        "must be specified"]
    both = {"metadata": {"name": "x"}, "spec": {"resourceAttributes": {}, "nonResourceAttributes": {"path": "/"}}}
    assert messages(strategy.validate(both, CTX)) == [
        'spec.nonResourceAttributes: Invalid value: {"path":"/"}: cannot be specified in combination with '
        "resourceAttributes",
        'metadata: Invalid value: {"name":"x"}: must be empty',
    ]


def test_subject_access_review_needs_a_subject() -> None:
    strategy = subjectaccessreview.RESOURCES[0].strategy
    obj: dict[str, Any] = {"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
    assert messages(strategy.validate(obj, CTX)) == [
        'spec.user: Invalid value: "": at least one of user or group must be specified']
    obj["spec"]["user"] = "alice"
    assert strategy.validate(obj, CTX) == []


def test_local_subject_access_review_namespace() -> None:
    strategy = localsubjectaccessreview.RESOURCES[0].strategy
    obj = {"metadata": {"namespace": "a"}, "spec": {"user": "bob", "resourceAttributes": {"namespace": "b"}}}
    assert messages(strategy.validate(obj, CTX)) == [
        'spec.resourceAttributes.namespace: Invalid value: "b": must match metadata.namespace']


def test_self_subject_rules_review_needs_a_namespace() -> None:
    with pytest.raises(StatusError) as exc:
        selfsubjectrulesreview.RESOURCES[0].strategy.validate({"spec": {}}, CTX)
    assert (exc.value.code, exc.value.message) == (400, "no namespace on request")

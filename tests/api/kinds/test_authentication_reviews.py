from __future__ import annotations

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.kinds.authentication import selfsubjectreview, tokenreview
from tests.api.kinds._helpers import CTX


def test_reviews_are_create_only_and_cluster_scoped() -> None:
    for module in (tokenreview, selfsubjectreview):
        (info,) = module.RESOURCES
        assert info.verbs == ("create",) and not info.namespaced
        assert info.group == "authentication.k8s.io"


def test_token_review_needs_a_token() -> None:
    strategy = tokenreview.RESOURCES[0].strategy
    with pytest.raises(StatusError) as exc:
        strategy.validate({"spec": {}}, CTX)
    assert (exc.value.code, exc.value.message) == (400, "token is required for TokenReview in authentication")
    with pytest.raises(StatusError) as exc:
        strategy.validate({"metadata": {"namespace": "x"}, "spec": {"token": "t"}}, CTX)
    assert exc.value.message == "namespace is not allowed on this type: x"
    assert strategy.validate({"spec": {"token": "t"}}, CTX) == []


def test_self_subject_review_accepts_anything() -> None:
    assert selfsubjectreview.RESOURCES[0].strategy.validate({}, CTX) == []

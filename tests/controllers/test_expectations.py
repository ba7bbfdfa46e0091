"""Controller expectations: satisfied when fulfilled, expired or absent; UID tracking counts once."""

from __future__ import annotations

from kybernetes.controllers.expectations import ControllerExpectations, UIDTrackingControllerExpectations
from tests.controllers.fakes import Clock


def test_creations_until_observed_or_expired() -> None:
    clock = Clock(0)
    exp = ControllerExpectations(clock=clock)
    assert exp.satisfied("ns/rs")  # no record: a new controller acts
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs") and exp.get("ns/rs") == (0, 0)
    exp.expect_creations("ns/rs", 5)
    clock.advance(301)
    assert exp.satisfied("ns/rs")  # a lost watch event cannot wedge the controller
    exp.delete_expectations("ns/rs")
    assert exp.get("ns/rs") is None


def test_raise_and_lower() -> None:
    exp = ControllerExpectations()
    exp.set_expectations("k", 1, 1)
    exp.raise_expectations("k", 1, 0)
    exp.lower_expectations("k", 2, 1)
    assert exp.get("k") == (0, 0)


def test_uid_tracking_counts_each_pod_once() -> None:
    exp = UIDTrackingControllerExpectations()
    exp.expect_pod_deletions("ns/rs", ["ns/a", "ns/b"])
    exp.pod_deletion_observed("ns/rs", "ns/a")
    exp.pod_deletion_observed("ns/rs", "ns/a")  # deletionTimestamp, then the delete itself
    exp.pod_deletion_observed("ns/rs", "ns/unrelated")
    assert not exp.satisfied("ns/rs") and exp.get_uids("ns/rs") == {"ns/b"}
    exp.pod_deletion_observed("ns/rs", "ns/b")
    assert exp.satisfied("ns/rs")

"""Controller expectations: how many creates/deletes a controller is still waiting to *see*.

After a burst of pod creates the informer cache lags; a sync during that window would count too
few pods and create more. So the controller records what it expects (``expect_creations``), the
pod callbacks lower the counts as the informer observes them, and ``sync`` only acts when
``satisfied(key)``. Records expire after five minutes so a lost event cannot wedge a controller.
``UIDTrackingControllerExpectations`` remembers *which* pods it deletes, so a pod seen both as
"deletionTimestamp set" and as "deleted" lowers the count once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from kybernetes.controllers.loop import Clock

log = logging.getLogger(__name__)

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectation:
    add: int
    delete: int
    timestamp: float
    uids: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    def __init__(self, clock: Clock = time.monotonic, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._records: dict[str, _Expectation] = {}
        self._clock = clock
        self._timeout = timeout

    def get(self, key: str) -> tuple[int, int] | None:
        exp = self._records.get(key)
        return None if exp is None else (exp.add, exp.delete)

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, the record expired, or there is no record (new controller)."""
        exp = self._records.get(key)
        if exp is None:
            return True
        if exp.fulfilled():
            return True
        if self._clock() - exp.timestamp > self._timeout:
            log.debug("expectations for %s expired (add %d, del %d)", key, exp.add, exp.delete)
            return True
        return False

    def set_expectations(self, key: str, add: int, delete: int) -> None:
        old = self._records.get(key)
        uids = old.uids if old is not None else set()
        self._records[key] = _Expectation(add, delete, self._clock(), uids)

    def expect_creations(self, key: str, adds: int) -> None:
        self.set_expectations(key, adds, 0)

    def expect_deletions(self, key: str, dels: int) -> None:
        self.set_expectations(key, 0, dels)

    def raise_expectations(self, key: str, add: int, delete: int) -> None:
        exp = self._records.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def lower_expectations(self, key: str, add: int, delete: int) -> None:
        exp = self._records.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, 0, 1)

    def delete_expectations(self, key: str) -> None:
        self._records.pop(key, None)


class UIDTrackingControllerExpectations(ControllerExpectations):
    """Deletions are tracked by pod key (``ns/name``), each observed at most once."""

    def expect_pod_deletions(self, key: str, pod_keys: list[str]) -> None:
        self.set_expectations(key, 0, len(pod_keys))
        self._records[key].uids = set(pod_keys)

    def pod_deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._records.get(key)
        if exp is not None and pod_key in exp.uids:
            exp.uids.discard(pod_key)
            exp.delete -= 1

    def get_uids(self, key: str) -> set[str]:
        exp = self._records.get(key)
        return set(exp.uids) if exp is not None else set()

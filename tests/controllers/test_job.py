"""Job controller: completions and parallelism, finalizer-tracked counting, backoff (failed pods and
container restarts), activeDeadlineSeconds, Indexed mode, suspend/resume, work-queue Jobs, orphans.

Pods are finished by writing their status as a kubelet would; ``WorkloadFakeClient`` gives new pods
phase Pending and honours the finalizer-removal patch.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.client.rest import JOBS, PODS
from kybernetes.controllers import job_util as ju
from kybernetes.controllers.job import JobController
from tests.controllers.fakes import T0, Clock, FakeRecorder, as_client
from tests.controllers.fakes_workloads import WorkloadFakeClient

KEY = "default/pi"
UID = "job-uid-1"


def job(completions: int | None = 3, parallelism: int = 2, backoff: int = 6, indexed: bool = False,
        restart: str = "Never", deadline: int | None = None, suspend: bool = False) -> dict[str, Any]:
    labels = {"batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "pi",
              "controller-uid": UID, "job-name": "pi"}
    spec: dict[str, Any] = {
        "parallelism": parallelism, "backoffLimit": backoff, "suspend": suspend, "manualSelector": False,
        "completionMode": "Indexed" if indexed else "NonIndexed", "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": restart}}}
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": UID, "generation": 1}, "spec": spec}


class Cluster:
    def __init__(self, j: dict[str, Any]) -> None:
        self.clock = Clock(T0)
        self.client = WorkloadFakeClient(self.clock)
        self.rec = FakeRecorder()
        self.client.add(JOBS, j)
        self.ctrl = JobController(self.client.informer(JOBS), self.client.informer(PODS), as_client(self.client),
                                  self.rec, clock=self.clock)

    async def sync(self) -> None:
        await self.ctrl.sync(KEY)

    def pods(self, phase: str | None = None) -> list[dict[str, Any]]:
        return sorted((p for p in self.client.all(PODS) if phase is None or p["status"]["phase"] == phase),
                      key=lambda p: p["metadata"]["name"])

    def active(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods() if p["status"]["phase"] in ("Pending", "Running")
                and not p["metadata"].get("deletionTimestamp")]

    async def finish(self, name: str, phase: str = "Succeeded") -> None:
        await self.client.set_pod_status(name, phase)

    def job(self) -> dict[str, Any]:
        j = self.client.stored(JOBS, "pi", "default")
        assert j is not None
        return j

    def status(self) -> dict[str, Any]:
        return self.job().get("status") or {}

    def conditions(self) -> list[tuple[str, str, str]]:
        return [(c["type"], c["status"], c.get("reason", "")) for c in self.status().get("conditions") or []]

    async def update_spec(self, **changes: Any) -> None:
        j = copy.deepcopy(self.job())
        j["spec"].update(changes)
        await self.client.replace(JOBS, j, "default")


async def test_completions_and_parallelism_run_to_complete() -> None:
    c = Cluster(job())
    await c.sync()
    pods = c.pods()
    assert len(pods) == 2
    md = pods[0]["metadata"]
    assert md["generateName"] == "pi-" and md["finalizers"] == [ju.TRACKING_FINALIZER]
    assert md["labels"]["job-name"] == "pi" and md["labels"]["batch.kubernetes.io/controller-uid"] == UID
    assert md["ownerReferences"][0]["kind"] == "Job" and md["ownerReferences"][0]["controller"] is True
    assert c.rec.messages("SuccessfulCreate") == [f"Created pod: {p['metadata']['name']}" for p in pods]
    st = c.status()
    assert (st["active"], st["ready"], st["terminating"], st["uncountedTerminatedPods"]) == (2, 0, 0, {})
    assert st["startTime"] == "2023-11-14T22:13:20Z" and "succeeded" not in st
    await c.sync()
    assert len(c.pods()) == 2  # nothing more while both run
    for _ in range(3):
        await c.finish(c.active()[0])
        await c.sync()
        assert len(c.active()) <= 2
    st = c.status()
    assert st["succeeded"] == 3 and "active" not in st
    assert c.conditions() == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                              ("Complete", "True", "CompletionsReached")]
    assert st["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert st["completionTime"] == "2023-11-14T22:13:20Z"
    assert c.rec.messages("Completed") == ["Job completed"]
    assert all(not p["metadata"].get("finalizers") for p in c.pods())
    assert len(c.pods("Succeeded")) == 3


async def test_failed_pods_back_off_then_hit_the_limit() -> None:
    c = Cluster(job(completions=1, parallelism=1, backoff=1))
    await c.sync()
    await c.finish(c.active()[0], "Failed")
    await c.sync()
    assert c.status()["failed"] == 1 and c.active() == []  # 10 s backoff before the replacement
    assert c.ctrl.backoff[KEY].remaining(c.clock()) == 10
    c.clock.advance(10)
    await c.sync()
    assert len(c.active()) == 1
    await c.finish(c.active()[0], "Failed")
    c.clock.advance(1)
    await c.sync()
    assert c.status()["failed"] == 2
    assert c.conditions() == [("FailureTarget", "True", "BackoffLimitExceeded"),
                              ("Failed", "True", "BackoffLimitExceeded")]
    assert c.rec.messages("BackoffLimitExceeded") == ["Job has reached the specified backoff limit"]
    assert "completionTime" not in c.status()


async def test_backoff_doubles_and_caps() -> None:
    record = ju.BackoffRecord(1, T0)
    assert record.remaining(T0) == 10
    assert ju.BackoffRecord(3, T0).remaining(T0 + 5) == 35
    assert ju.BackoffRecord(20, T0).remaining(T0) == ju.MAX_POD_FAILURE_BACKOFF


async def test_on_failure_restarts_count_and_active_pods_terminate_first() -> None:
    c = Cluster(job(completions=1, parallelism=1, backoff=2, restart="OnFailure"))
    await c.sync()
    name = c.active()[0]
    await c.client.set_pod_status(name, "Running", ready=True, restarts=2)
    await c.sync()
    # the running pod is deleted and, the Job being finished, its finalizer released and the pod counted;
    # Failed waits for a sync that sees no terminating pod
    assert c.client.stored(PODS, name, "default") is None
    assert c.conditions() == [("FailureTarget", "True", "BackoffLimitExceeded")]
    assert (c.status()["terminating"], c.status()["failed"]) == (1, 1)
    assert c.rec.messages("BackoffLimitExceeded") == []
    await c.sync()
    assert [t for t, _, _ in c.conditions()] == ["FailureTarget", "Failed"]
    assert c.status()["terminating"] == 0
    assert c.rec.messages("BackoffLimitExceeded") == ["Job has reached the specified backoff limit"]


async def test_active_deadline() -> None:
    c = Cluster(job(completions=2, parallelism=2, deadline=30))
    await c.sync()
    assert len(c.active()) == 2
    c.clock.advance(31)
    await c.sync()
    assert c.active() == []
    await c.sync()
    await c.sync()
    assert c.conditions()[-1] == ("Failed", "True", "DeadlineExceeded")
    assert c.rec.messages("DeadlineExceeded") == ["Job was active longer than specified deadline"]
    assert c.status()["failed"] == 2


async def test_indexed_job() -> None:
    c = Cluster(job(completions=3, parallelism=3, indexed=True))
    await c.sync()
    pods = {p["metadata"]["annotations"][ju.INDEX_ANNOTATION]: p for p in c.pods()}
    assert sorted(pods) == ["0", "1", "2"]
    p1 = pods["1"]
    assert p1["metadata"]["generateName"] == "pi-1-" and p1["spec"]["hostname"] == "pi-1"
    assert p1["metadata"]["labels"][ju.INDEX_ANNOTATION] == "1"
    assert p1["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
    await c.finish(p1["metadata"]["name"])
    await c.sync()
    assert c.status()["completedIndexes"] == "1" and c.status()["succeeded"] == 1
    await c.finish(pods["0"]["metadata"]["name"], "Failed")
    await c.sync()
    c.clock.advance(10)
    await c.sync()  # index 0 is recreated, nothing else
    again = [p for p in c.pods() if p["metadata"]["annotations"][ju.INDEX_ANNOTATION] == "0"
             and p["status"]["phase"] == "Pending"]
    assert len(again) == 1 and len(c.active()) == 2
    await c.finish(again[0]["metadata"]["name"])
    await c.finish(pods["2"]["metadata"]["name"])
    await c.sync()
    assert c.status()["completedIndexes"] == "0-2"
    assert [t for t, _, _ in c.conditions()] == ["SuccessCriteriaMet", "Complete"]


async def test_suspend_and_resume() -> None:
    c = Cluster(job(suspend=True))
    await c.sync()
    assert c.pods() == [] and "startTime" not in c.status()
    assert c.conditions() == [("Suspended", "True", "JobSuspended")]
    assert c.rec.messages("Suspended") == ["Job suspended"]
    c.clock.advance(60)
    await c.update_spec(suspend=False)
    await c.sync()
    assert len(c.active()) == 2
    assert c.conditions() == [("Suspended", "False", "JobResumed")]
    assert c.rec.messages("Resumed") == ["Job resumed"]
    assert c.status()["startTime"] == "2023-11-14T22:14:20Z"
    await c.update_spec(suspend=True)
    await c.sync()
    assert c.active() == []  # suspending deletes the running pods
    assert c.conditions()[0][:2] == ("Suspended", "True")


async def test_work_queue_job_completes_when_all_finish() -> None:
    c = Cluster(job(completions=None, parallelism=2))
    await c.sync()
    first, second = c.active()
    await c.finish(first)
    await c.sync()
    assert c.active() == [second]  # no replacement once one succeeded
    assert c.conditions() == []
    await c.finish(second)
    await c.sync()
    assert c.status()["succeeded"] == 2 and c.conditions()[-1][0] == "Complete"


async def test_orphan_pod_finalizer_released() -> None:
    c = Cluster(job())
    c.client.add(PODS, {"metadata": {"name": "stray", "namespace": "default", "labels": {"app": "x"},
                                     "finalizers": [ju.TRACKING_FINALIZER]}, "spec": {}, "status": {"phase": "Failed"}})
    await c.ctrl.sync_orphan_pod("default/stray")
    assert c.client.stored(PODS, "stray", "default")["metadata"]["finalizers"] == []  # type: ignore[index]


async def test_deleted_job_forgets_state() -> None:
    c = Cluster(job(completions=1, parallelism=1))
    await c.sync()
    await c.client.delete(JOBS, "pi", "default")
    await c.sync()
    assert KEY not in c.ctrl.backoff

"""Builders of the workload controllers (StatefulSet, DaemonSet, Job, CronJob, TTL-after-finished,
Pod GC) for the controller manager.

``CONTROLLERS`` maps kube-controller-manager's controller names to (builder, workers), in the shape
of ``manager.CONTROLLERS``, which merges it; each builder takes the manager's ``ControllerContext``
(shared informers, client, one event recorder per component named as in Kubernetes).
``build_workload_controllers`` builds them all from an informer factory, a client and one
recorder, for callers without a manager (tests, embedding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kybernetes.client.rest import (
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    JOBS,
    NODES,
    PODS,
    PVCS,
    STATEFULSETS,
    Client,
)
from kybernetes.client.sharedinformers import SharedInformerFactory
from kybernetes.controllers import cronjob, daemonset, job, loop, podgc, statefulset, ttlafterfinished

if TYPE_CHECKING:
    from kybernetes.controllers.manager import ControllerContext

__all__ = ["CONTROLLERS", "build_workload_controllers"]

Built = Any  # a controller with ``name`` and ``async run(workers)``


def _statefulset(ctx: ControllerContext) -> Built:
    inf = ctx.informers.informer
    return statefulset.StatefulSetController(inf(STATEFULSETS), inf(PODS), inf(PVCS), inf(CONTROLLERREVISIONS),
                                             ctx.client, ctx.recorder("statefulset-controller"))


def _daemonset(ctx: ControllerContext) -> Built:
    inf = ctx.informers.informer
    return daemonset.DaemonSetController(inf(DAEMONSETS), inf(PODS), inf(NODES), inf(CONTROLLERREVISIONS),
                                         ctx.client, ctx.recorder("daemonset-controller"))


def _job(ctx: ControllerContext) -> Built:
    inf = ctx.informers.informer
    return job.JobController(inf(JOBS), inf(PODS), ctx.client, ctx.recorder("job-controller"))


def _cronjob(ctx: ControllerContext) -> Built:
    inf = ctx.informers.informer
    return cronjob.CronJobController(inf(CRONJOBS), inf(JOBS), ctx.client, ctx.recorder("cronjob-controller"))


def _ttlafterfinished(ctx: ControllerContext) -> Built:
    return ttlafterfinished.TTLAfterFinishedController(ctx.informers.informer(JOBS), ctx.client,
                                                       ctx.recorder("ttl-after-finished-controller"))


def _podgc(ctx: ControllerContext) -> Built:
    inf = ctx.informers.informer
    return podgc.PodGCController(inf(PODS), inf(NODES), ctx.client, ctx.recorder("pod-garbage-collector"))


#: name → (builder, workers); workers follow kube-controller-manager's ``--concurrent-*-syncs``.
CONTROLLERS: dict[str, tuple[Callable[[ControllerContext], Built], int]] = {
    "statefulset": (_statefulset, 5),
    "daemonset": (_daemonset, 2),
    "job": (_job, 5),
    "cronjob": (_cronjob, 5),
    "ttl-after-finished": (_ttlafterfinished, 5),
    "podgc": (_podgc, 1),
}


class _Context:
    """The subset of ``ControllerContext`` the builders use, over one recorder."""

    def __init__(self, informers: SharedInformerFactory, client: Client, recorder: loop.Recorder) -> None:
        self.informers = informers
        self.client = client
        self._recorder = recorder

    def recorder(self, _component: str) -> loop.Recorder:
        return self._recorder


def build_workload_controllers(informers: SharedInformerFactory, client: Client,
                               recorder: loop.Recorder) -> list[tuple[Built, int]]:
    """Every workload controller with its worker count, over ``informers`` (start them afterwards)."""
    ctx: Any = _Context(informers, client, recorder)
    return [(builder(ctx), workers) for builder, workers in CONTROLLERS.values()]

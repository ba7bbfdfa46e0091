"""Creating and deleting pods on behalf of a controller, with the events Kubernetes records.

``PodControl.create_pods`` turns a pod template into a pod named ``<owner>-<random>`` (generateName)
that carries the template's labels, annotations and finalizers and a controller ownerReference,
then records ``SuccessfulCreate`` ("Created pod: <name>") or ``FailedCreate`` ("Error creating:
<err>") on the owner; ``delete_pod`` records ``SuccessfulDelete``/``FailedDelete``. Used by the
ReplicaSet controller (and later Job, DaemonSet, StatefulSet).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.client.errors import ApiError, NotFoundError, has_status_cause
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.rest import PODS, Client
from kybernetes.controllers.loop import Obj, Recorder

log = logging.getLogger(__name__)

SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"
NAMESPACE_TERMINATING = "NamespaceTerminating"


class NoLabelsError(ValueError):
    """A template without labels would make pods no controller could ever select."""


def pod_from_template(template: dict[str, Any], owner: Obj, controller_ref: dict[str, Any] | None) -> Obj:
    """The pod a controller creates from ``template`` (``GetPodFromTemplate``)."""
    tmd = template.get("metadata") or {}
    md: dict[str, Any] = {"generateName": f"{(owner.get('metadata') or {}).get('name', '')}-"}
    for key in ("labels", "annotations", "finalizers"):
        if tmd.get(key):
            md[key] = copy.deepcopy(tmd[key])
    if controller_ref is not None:
        md["ownerReferences"] = [dict(controller_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl:
    def __init__(self, client: Client, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create_pods(self, namespace: str, template: dict[str, Any], owner: Obj,
                          controller_ref: dict[str, Any] | None, node_name: str = "") -> Obj:
        pod = pod_from_template(template, owner, controller_ref)
        if node_name:
            pod["spec"]["nodeName"] = node_name
        if not pod["metadata"].get("labels"):
            raise NoLabelsError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, namespace)
        except ApiError as e:
            if not has_status_cause(e, NAMESPACE_TERMINATING):
                self.recorder.record(owner, WARNING, FAILED_CREATE, f"Error creating: {e}")
            raise
        name = (created.get("metadata") or {}).get("name", "")
        log.debug("controller %s created pod %s/%s", (owner.get("metadata") or {}).get("name"), namespace, name)
        self.recorder.record(owner, NORMAL, SUCCESSFUL_CREATE, f"Created pod: {name}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        try:
            await self.client.delete(PODS, name, namespace)
        except NotFoundError:
            log.debug("pod %s/%s has already been deleted", namespace, name)
            raise
        except ApiError as e:
            self.recorder.record(owner, WARNING, FAILED_DELETE, f"Error deleting: {e}")
            raise
        self.recorder.record(owner, NORMAL, SUCCESSFUL_DELETE, f"Deleted pod: {name}")


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[object]]) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in concurrent batches of 1, 2, 4, … (``initial_batch_size``
    doubling). Stops after the first batch with a failure, so a quota or webhook error costs one
    call, not hundreds. Returns (successes, first error)."""
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in errors:
            if not isinstance(r, Exception):
                raise r
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]  # type: ignore[return-value]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None

"""Container events name their container: ``involvedObject.fieldPath`` = ``spec.containers{name}`` (and
``spec.initContainers{…}``, ``spec.ephemeralContainers{…}``), posted by the EventRecorder and aggregated
per field path."""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.client.events import NORMAL, EventRecorder
from kybernetes.kubelet import containerref, lifecycle

POD: dict[str, Any] = {
    "kind": "Pod", "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
    "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}, {"name": "sidecar"}],
             "ephemeralContainers": [{"name": "debugger"}]},
}


def test_field_paths():
    assert containerref.field_path(POD, "app") == "spec.containers{app}"
    assert containerref.field_path(POD, "sidecar") == "spec.containers{sidecar}"
    assert containerref.field_path(POD, "setup") == "spec.initContainers{setup}"
    assert containerref.field_path(POD, "debugger") == "spec.ephemeralContainers{debugger}"
    assert containerref.field_path(POD, "gone") == ""


class Events:
    """Records created events and count patches."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []

    async def create(self, res: Any, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.created.append(obj)
        return obj

    async def patch(self, res: Any, name: str, body: dict[str, Any], namespace: str | None = None,
                    **kw: Any) -> dict[str, Any]:
        self.patched.append((name, body))
        return body


async def test_recorder_posts_field_path_and_aggregates_per_container():
    client = Events()
    rec = EventRecorder(client, "kubelet", host="node1")  # type: ignore[arg-type]
    rec.start()
    rec.record(POD, NORMAL, "Pulled", "Container image \"busybox\" already present on machine",
               field_path="spec.containers{app}")
    rec.record(POD, NORMAL, "Pulled", "Container image \"busybox\" already present on machine",
               field_path="spec.containers{sidecar}")
    rec.record(POD, NORMAL, "Pulled", "Container image \"busybox\" already present on machine",
               field_path="spec.containers{app}")
    rec.record(POD, NORMAL, "Scheduled", "no field path")
    await asyncio.wait_for(rec.flush(), 5)
    await rec.stop()
    refs = [e["involvedObject"] for e in client.created]
    assert [r.get("fieldPath") for r in refs] == ["spec.containers{app}", "spec.containers{sidecar}", None]
    assert refs[0] == {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1", "apiVersion": "v1",
                       "fieldPath": "spec.containers{app}"}
    assert len(client.patched) == 1 and client.patched[0][0] == client.created[0]["metadata"]["name"]
    assert client.patched[0][1]["count"] == 2


class StopOnly:
    def __init__(self) -> None:
        self.stopped: list[tuple[str, int]] = []

    async def stop_container(self, container_id: str, grace: int) -> None:
        self.stopped.append((container_id, grace))


async def test_killing_event_names_the_container():
    got: list[tuple[str, str, str, str]] = []

    def sink(pod: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
        got.append((type_, reason, message, field_path))

    rt = StopOnly()
    await lifecycle.kill_container(rt, sink, POD, {"name": "setup"}, "cid", name="setup",  # type: ignore[arg-type]
                                   running=True, grace=5)
    assert got == [("Normal", "Killing", "Stopping container setup", "spec.initContainers{setup}")]
    assert rt.stopped == [("cid", 5)]

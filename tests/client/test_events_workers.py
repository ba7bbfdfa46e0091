"""EventRecorder.start(workers=N): N posters drain the queue concurrently; stop() ends them all."""

from __future__ import annotations

import asyncio

from kybernetes.client.events import NORMAL, EventRecorder


class SlowEvents:
    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.created: list[str] = []

    async def create(self, res, obj, namespace=None, **kw):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.created.append(obj["message"])
        return obj


async def test_workers_post_concurrently_and_stop():
    client = SlowEvents()
    rec = EventRecorder(client, "test", host="h")  # type: ignore[arg-type]
    rec.start(workers=4)
    for i in range(12):
        rec.record({"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}},
                   NORMAL, "Scheduled", f"m{i}")
    await asyncio.wait_for(rec.flush(), 5)
    assert sorted(client.created) == sorted(f"m{i}" for i in range(12))
    assert client.peak == 4
    await rec.stop()


async def test_default_is_one_poster():
    client = SlowEvents()
    rec = EventRecorder(client, "test", host="h")  # type: ignore[arg-type]
    rec.start()
    for i in range(3):
        rec.record({"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}},
                   NORMAL, "Scheduled", f"m{i}")
    await asyncio.wait_for(rec.flush(), 5)
    assert client.peak == 1
    await rec.stop()

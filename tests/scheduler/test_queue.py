"""Scheduling queue: priority order, per-pod exponential backoff, unschedulable pods moved by the
events their rejecting plugins registered for, periodic flush, gated pods, nominator."""

from __future__ import annotations

import asyncio

from kybernetes.scheduler import framework as fw
from kybernetes.scheduler.framework import ActionType, ClusterEvent, Status
from kybernetes.scheduler.queue import SchedulingQueue
from tests.scheduler.fixtures import pod

NODE_ADD = ClusterEvent(fw.NODE, ActionType.ADD)
POD_DELETE = ClusterEvent(fw.POD, ActionType.DELETE)
EVENTS = {"NodeResourcesFit": [ClusterEvent(fw.POD, ActionType.DELETE), ClusterEvent(fw.NODE, ActionType.ADD)],
          "NodeAffinity": [ClusterEvent(fw.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def queue(clock=None, **kw):
    return SchedulingQueue(events=EVENTS, clock=clock or Clock(), **kw)


async def pop_names(q, n):
    return [(await asyncio.wait_for(q.pop(), 1)).pod_info.name for _ in range(n)]


async def test_priority_then_fifo():
    clock = Clock()
    q = queue(clock)
    for name, prio in (("a", 0), ("b", 10), ("c", 0), ("d", 10)):
        q.add(pod(name, priority=prio))
        clock.now += 1
    assert await pop_names(q, 4) == ["b", "d", "a", "c"]


async def test_pop_waits_for_an_add():
    q = queue()
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod("late"))
    assert (await asyncio.wait_for(waiter, 1)).pod_info.name == "late"


async def test_backoff_doubles_to_ten_seconds():
    clock = Clock()
    q = queue(clock)
    q.add(pod("a"))
    durations = []
    for _ in range(6):
        info = await asyncio.wait_for(q.pop(), 1)
        durations.append(q.backoff_duration(info))
        q.requeue_after_error(info)  # errors always go through backoff
        assert q.where("default/a") == "backoff"
        clock.now += durations[-1] - 0.01
        q.flush_backoff_completed()
        assert q.where("default/a") == "backoff"
        clock.now += 0.02
        q.flush_backoff_completed()
        assert q.where("default/a") == "active"
    assert durations == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def _fail(q, name, plugins):
    info = await asyncio.wait_for(q.pop(), 1)
    assert info.pod_info.name == name
    cycle = q.scheduling_cycle
    info.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(info, cycle)
    return info


async def test_events_move_only_pods_their_plugins_care_about():
    clock = Clock()
    q = queue(clock)
    q.add(pod("fit"))
    q.add(pod("aff"))
    await _fail(q, "fit", ["NodeResourcesFit"])
    await _fail(q, "aff", ["NodeAffinity"])
    assert q.pending() == (0, 0, 2)
    q.move_all_to_active_or_backoff(POD_DELETE)
    assert q.where("default/fit") == "backoff" and q.where("default/aff") == "unschedulable"
    clock.now += 5
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert q.where("default/aff") == "active"
    q.flush_backoff_completed()
    assert sorted(await pop_names(q, 2)) == ["aff", "fit"]


async def test_move_request_during_cycle_sends_failure_to_backoff():
    q = queue()
    q.add(pod("a"))
    info = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(NODE_ADD)  # the cluster changed while "a" was being scheduled
    info.unschedulable_plugins = {"NodeAffinity"}
    q.add_unschedulable_if_not_present(info, cycle)
    assert q.where("default/a") == "backoff"


async def test_leftover_flush_after_sixty_seconds():
    clock = Clock()
    q = queue(clock)
    q.add(pod("a"))
    await _fail(q, "a", ["NodeAffinity"])
    clock.now += 59
    q.flush_unschedulable_leftover()
    assert q.where("default/a") == "unschedulable"
    clock.now += 2
    q.flush_unschedulable_leftover()
    assert q.where("default/a") == "active"


async def test_pod_update_moves_unschedulable_pod_but_status_only_change_does_not():
    clock = Clock()
    q = queue(clock)
    old = pod("a")
    q.add(old)
    await _fail(q, "a", ["NodeAffinity"])
    status_only = {**old, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled"}]}}
    q.update(old, status_only)
    assert q.where("default/a") == "unschedulable"
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {"x": "y"}}}
    clock.now += 5
    q.update(status_only, relabelled)
    assert q.where("default/a") == "active"


async def test_delete_removes_from_every_queue():
    q = queue()
    q.add(pod("a"))
    q.delete(pod("a"))
    assert q.pending() == (0, 0, 0)


async def test_gated_pods_wait_until_gates_are_removed():
    def gate(pi):
        return Status.unresolvable("gated") if pi.spec.get("schedulingGates") else None

    q = SchedulingQueue(pre_enqueue=gate, events=EVENTS, clock=Clock())
    gated = pod("a", schedulingGates=[{"name": "g"}])
    q.add(gated)
    assert q.where("default/a") == "unschedulable"
    q.move_all_to_active_or_backoff(fw.UNSCHEDULABLE_TIMEOUT)
    assert q.where("default/a") == "unschedulable"
    q.update(gated, pod("a"))
    assert q.where("default/a") == "active"


async def test_nominator():
    q = queue()
    p = pod("a", priority=5)
    p["status"]["nominatedNodeName"] = "n1"
    q.add(p)
    assert [x.name for x in q.nominated_pods_for_node("n1")] == ["a"]
    q.update(p, pod("a", priority=5))
    assert q.nominated_pods_for_node("n1") == []


async def test_run_flushes_and_close_wakes_pop():
    q = queue()
    stop = asyncio.Event()
    runner = asyncio.create_task(q.run(stop))
    waiter = asyncio.create_task(q.pop())
    stop.set()
    assert await asyncio.wait_for(waiter, 2) is None
    await runner

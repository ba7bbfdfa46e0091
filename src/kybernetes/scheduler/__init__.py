"""kube-scheduler: queue, framework, cache, one module per plugin, the scheduling loop.

``run_scheduler(client, stop, identity)`` is the entry point composition roots call.
"""

from kybernetes.scheduler.eventhandlers import run_scheduler
from kybernetes.scheduler.scheduler import Scheduler

__all__ = ["Scheduler", "run_scheduler"]

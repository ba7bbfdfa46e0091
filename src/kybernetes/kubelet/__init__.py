"""The node agent: the real kubelet on containerd (CRI), and hollow kubelets for scale tests.

Real kubelet, top down: :mod:`.agent` (composition, :func:`run_agent`) → :mod:`.node` (Node, Lease,
pressure conditions from :mod:`.pressure`), :mod:`.server` (HTTPS: container logs, stats summary),
:mod:`.stats` (cgroup samples, :mod:`.cgroupstats`), :mod:`.logrotation`, :mod:`.podworkers` (one
task per pod) → :mod:`.syncpod` (one sync) → :mod:`.sandbox`, :mod:`.containers`, :mod:`.termination`,
:mod:`.lifecycle`, :mod:`.images`, :mod:`.volumes`, :mod:`.prober`/:mod:`.probes` → pure helpers
:mod:`.status`, :mod:`.env`, :mod:`.hosts`, :mod:`.dns`, :mod:`.resources`, :mod:`.backoff`,
:mod:`.logs`, :mod:`.containerref`; the runtime view comes from :mod:`.pleg`. Settings: :mod:`.config`.
Hollow nodes: :mod:`.hollow` with :mod:`.nodestatus`.
"""

from kybernetes.kubelet.agent import Agent, run_agent
from kybernetes.kubelet.config import KubeletConfig

__all__ = ["Agent", "KubeletConfig", "run_agent"]

"""Service proxy (kube-proxy): Services + EndpointSlices → nftables or iptables rules."""

from kybernetes.network.proxy.model import ProxyConfig, ServicePlan, build_plans
from kybernetes.network.proxy.proxier import Proxier, cleanup_all, detect_mode, make_backend, run_proxy

__all__ = [
           "Proxier",
           "ProxyConfig",
           "ServicePlan",
           "build_plans",
           "cleanup_all",
           "detect_mode",
           "make_backend",
           "run_proxy",
]

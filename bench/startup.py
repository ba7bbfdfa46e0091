"""Start-up benchmark: wall time from exec of ``kyb server`` to the first successful ``/readyz``.

Usage: ``python3 bench/startup.py [--runs 5]``. Each run starts a server on a free port and polls
``https://127.0.0.1:<port>/readyz`` (a TCP connect every 2 ms, then TLS and the GET) until it
answers 200, then stops the server. "fresh" runs use a new, empty data dir (certificates, database
and bootstrap objects are created); "warm" runs restart on the data dir of the first fresh run.
Prints each run and p50/max per kind. Every wait is bounded (--timeout seconds per start).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(data_dir: Path, port: int) -> list[str]:
    kyb = shutil.which("kyb")
    head = [kyb] if kyb else [sys.executable, "-m", "kybernetes.cli.main"]
    return [*head, "server", "--data-dir", str(data_dir), "--bind-address", "127.0.0.1",
            "--https-listen-port", str(port), "--disable-agent"]


def readyz(port: int, ca: Path) -> bool:
    """One probe: True if /readyz answered 200."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return False
    try:
        if not ca.exists():
            return False
        ctx = ssl.create_default_context(cafile=str(ca))
        with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = tls.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.close()


def start_once(data_dir: Path, timeout: float) -> float:
    """Seconds from exec to the first 200 from /readyz."""
    port = free_port()
    ca = data_dir / "server" / "tls" / "server-ca.crt"
    log = open(data_dir.parent / f"{data_dir.name}-server.log", "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(command(data_dir, port), stdout=subprocess.DEVNULL, stderr=log)
    try:
        while True:
            if readyz(port, ca):
                return time.perf_counter() - t0
            if proc.poll() is not None:
                log.flush()
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                raise SystemExit(f"server exited with {proc.returncode}:\n{tail}")
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"server not ready after {timeout}s")
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def summary(name: str, samples: list[float]) -> None:
    s = sorted(samples)
    print(f"{name:<6} p50 {s[len(s) // 2] * 1000:6.0f} ms   max {s[-1] * 1000:6.0f} ms   "
          f"({', '.join(f'{x * 1000:.0f}' for x in samples)} ms)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds one start may take")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kyb-startup-"))
    try:
        fresh, warm = [], []
        for i in range(args.runs):
            fresh.append(start_once(tmp / f"fresh-{i}", args.timeout))
        for _ in range(args.runs):
            warm.append(start_once(tmp / "fresh-0", args.timeout))
        summary("fresh", fresh)
        summary("warm", warm)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""End to end: a real ``kyb server``, ``kyb ingress-controller`` as its own process, the real kubectl.

No pods run here and the API refuses loopback endpoint addresses, so the seed's Services have no
endpoints: each seed path answers 503 from its own location (unknown paths get 404), while the
routing to live backends is proven in ``test_integration.py``. What this adds is the real API path:
the IngressClass created at start, the class-less Ingress picked up through the default class,
``ingresses/status`` showing our address in ``kubectl get``, ``Sync`` and ``RELOAD`` events in
``kubectl get events``, and nginx stopped by PID when the controller gets SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from kybernetes.ingress import classes, nginx
from tests.e2e.conftest import DISPATCHER, Kubectl, bare_server, free_port, wait_until
from tests.ingress import seed

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(nginx.find_binary() is None,
                                 reason="nginx is not installed (scripts/install installs nginx-light)")]
T = TypeVar("T")


def poll(probe: Callable[[], T], check: Callable[[T], bool], deadline: float = 30.0, what: str = "") -> T:
    """``probe()`` until ``check`` accepts its value (errors while nginx or the API warm up are retried)."""
    def attempt() -> tuple[T] | None:
        try:
            value = probe()
        except (OSError, AssertionError, ValueError):
            return None
        return (value,) if check(value) else None

    found: tuple[T] = wait_until(what, attempt, deadline)
    return found[0]


def status_of(port: int, host: str, path: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def manifests() -> str:
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": seed.NAMESPACE}}]
    for svc in seed.services():
        svc["metadata"] = {"name": svc["metadata"]["name"], "namespace": seed.NAMESPACE}
        svc["spec"] = {"ports": svc["spec"]["ports"], "selector": svc["spec"]["selector"]}
        docs.append(svc)
    ing = seed.ingress(class_name=None)
    ing["metadata"] = {"name": ing["metadata"]["name"], "namespace": seed.NAMESPACE}
    ing.pop("status")
    docs.append(ing)
    return "\n".join(json.dumps(d) for d in docs)


def test_controller_against_a_real_api_server(tmp_path: Path) -> None:
    (tmp_path / "kyb").mkdir()
    with bare_server(tmp_path / "kyb") as cluster:
        kubectl = Kubectl(cluster, DISPATCHER, "1.32")
        http, https, state = free_port(), free_port(), tmp_path / "ingress"
        with open(tmp_path / "ingress-controller.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "-v", "ingress-controller",
                                     "--kubeconfig", str(cluster.kubeconfig), "--state-dir", str(state),
                                     "--http-port", str(http), "--https-port", str(https),
                                     "--listen-address", "127.0.0.1", "--publish-address", "127.0.0.1",
                                     "--allow-snippet-annotations", "true", "--worker-processes", "1"],
                                    stdout=log, stderr=subprocess.STDOUT)
            nginx_pid = 0
            try:
                ic = poll(lambda: json.loads(kubectl("get", "ingressclass", "nginx", "-o", "json")),
                          lambda o: bool(o), what="IngressClass nginx")
                assert ic["spec"]["controller"] == classes.CONTROLLER and classes.is_default(ic)
                poll(lambda: status_of(http, "nothing.example", "/"), lambda s: s == 404, what="nginx answering")
                nginx_pid = int((state / "nginx.pid").read_text())

                kubectl("apply", "-f", "-", input=manifests())
                ing = ["-n", seed.NAMESPACE, "ingress", "www-kct-ingress"]
                poll(lambda: kubectl("get", *ing, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"),
                     lambda ip: ip == "127.0.0.1", what="status address")
                assert "127.0.0.1" in kubectl("get", *ing)          # the ADDRESS column
                for path, _svc, _port in seed.PATHS:                  # routed to the (endpoint-less) service
                    assert status_of(http, seed.HOST, path + "x") == 503, path
                assert status_of(http, seed.HOST, "/unknown/") == 404
                events = ["get", "events", "-n", seed.NAMESPACE, "-o", "json"]
                poll(lambda: json.loads(kubectl(*events))["items"],
                     lambda items: any(e["reason"] == "Sync" and e["involvedObject"]["name"] == "www-kct-ingress"
                                       for e in items), what="Sync event")

                broken = json.loads(manifests().splitlines()[-1])
                broken["metadata"] = {"name": "broken", "namespace": seed.NAMESPACE, "annotations": {
                    "nginx.ingress.kubernetes.io/configuration-snippet": "not_a_directive 1;"}}
                broken["spec"]["rules"][0]["host"] = "broken.example"
                kubectl("apply", "-f", "-", input=json.dumps(broken))
                warning = poll(lambda: [e for e in json.loads(kubectl(*events))["items"] if e["reason"] == "RELOAD"],
                               bool, what="RELOAD warning")[0]
                assert warning["type"] == "Warning" and warning["involvedObject"]["name"] == "broken"
                assert 'unknown directive "not_a_directive"' in warning["message"]
                assert status_of(http, "broken.example", "/v1/repair/x") == 404      # not applied
                assert status_of(http, seed.HOST, "/v1/repair/x") == 503             # old config still serving
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        assert proc.returncode == 0, (tmp_path / "ingress-controller.log").read_text()[-3000:]
        assert nginx_pid and not Path(f"/proc/{nginx_pid}").exists()

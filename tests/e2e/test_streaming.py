"""exec, attach, cp and port-forward through ``kyb server`` to real containers: the API server's pods/exec,
pods/attach and pods/portforward proxy to the embedded kubelet, which relays to containerd's stream server.
Driven by kubectl 1.32 (the dispatcher) and 1.37, each in its own namespace, and by the official Python
client's ``stream`` and ``portforward``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import termios
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, agent_server, wait_until
from tests.e2e.nodeview import NamespacedKubectl

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]

VERSIONS = ["1.32", "1.37"]

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
  - {name: side, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: nginx, image: nginx, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    stdin: true
    stdinOnce: true
    command: [sh, -c, 'while read line; do echo "got $line"; done; echo bye']
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with agent_server(tmp_path_factory.mktemp("kyb-streams"), f"kybstream-{uuid.uuid4().hex[:6]}") as c:
        yield c


_NAMESPACES: dict[tuple[int, str], NamespacedKubectl] = {}


def namespace_with_pods(node: Cluster, version: str) -> NamespacedKubectl:
    """kubectl ``version`` in its own namespace holding the pods above (created once per server)."""
    key = (node.port, version)
    if key not in _NAMESPACES:
        k = NamespacedKubectl(node, version, f"streams-{version.replace('.', '')}")
        k("create", "-f", "-", input=PODS)
        for pod in ("box", "web", "reader"):
            k("wait", f"pod/{pod}", "--for=condition=Ready", "--timeout=120s", timeout=130)
        _NAMESPACES[key] = k
    return _NAMESPACES[key]


@pytest.fixture(scope="module", params=VERSIONS)
def k(request: pytest.FixtureRequest, node: Cluster) -> NamespacedKubectl:
    return namespace_with_pods(node, request.param)


def test_exec_output_streams_and_exit_code(k: NamespacedKubectl) -> None:
    p = k.run("exec", "box", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert p.returncode == 3, p.stderr
    assert p.stdout == "out\n"
    assert p.stderr.startswith("err\n") and "command terminated with exit code 3" in p.stderr
    ok = k.run("exec", "box", "-c", "side", "--", "cat", "/proc/1/cmdline")
    assert ok.stdout == "sleep\x003600\x00" and ok.returncode == 0


def test_exec_stdin_reaches_eof(k: NamespacedKubectl) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    p = k.run("exec", "-i", "box", "-c", "main", "--", "sh", "-c", "wc -l; echo after-eof", input=text)
    assert p.stdout.split() == ["2000", "after-eof"]


def test_exec_over_spdy(k: NamespacedKubectl) -> None:
    """kubectl's SPDY fallback (forced here) goes through the API server and kubelet to containerd."""
    spdy = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    p = k.run("exec", "-i", "box", "-c", "main", "--", "sh", "-c", "wc -c; exit 6", input="x" * 70000, env=spdy,
              check=False)
    assert (p.returncode, p.stdout.strip()) == (6, "70000"), p.stderr


def test_exec_errors_are_reported_before_upgrading(k: NamespacedKubectl, node: Cluster) -> None:
    p = k.run("exec", "box", "-c", "nope", "--", "true", check=False)
    assert p.returncode == 1
    if k.version == "1.32":
        assert "Error from server (BadRequest): container nope is not valid for pod box" in p.stderr, p.stderr
    else:  # kubectl 1.37 checks the container name itself
        assert "container nope is not valid for pod box out of: main, side" in p.stderr, p.stderr
    url = f"{node.url}/api/v1/namespaces/{k.namespace}/pods/box/exec?container=nope&command=true&stdout=true"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, context=node.ssl_context(), timeout=10)
    status = json.loads(e.value.read())
    assert (e.value.code, status["reason"], status["message"]) == (400, "BadRequest",
                                                                   "container nope is not valid for pod box")
    p = k.run("exec", "missing", "--", "true", check=False)
    assert p.returncode == 1 and 'pods "missing" not found' in p.stderr
    k("run", "nowhere", "--image=busybox", "--overrides", '{"spec": {"nodeSelector": {"kybernetes.test/none": "x"}}}',
      "--", "sleep", "60")
    p = k.run("exec", "nowhere", "--", "true", check=False)
    assert p.returncode == 1
    # 1.32 prints the Status as "Error from server (BadRequest): …", 1.37 "error: unable to upgrade connection: …"
    prefix = "Error from server (BadRequest): " if k.version == "1.32" else "error: unable to upgrade connection: "
    assert prefix + "pod nowhere does not have a host assigned" in p.stderr, p.stderr


def test_exec_with_a_terminal(k: NamespacedKubectl) -> None:
    """kubectl on a pty (its controlling terminal) of 33 rows x 101 columns: the size reaches the
    container's terminal, so does a later resize, keystrokes go in raw, and the exit code comes back. The
    first size is applied just after the process starts (containerd resizes a started process), so the
    script waits for it."""
    script = ('until [ "$(stty size)" = "33 101" ]; do sleep 0.1; done 2>/dev/null; echo first-size-ok; '
              'until [ "$(stty size)" = "40 120" ]; do sleep 0.1; done 2>/dev/null; echo second-size-ok; '
              'read word; echo "word=$word"; exit 4')
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    cmd = [k.binary, f"--cache-dir={k.cache_dir}", f"--namespace={k.namespace}", "exec", "-it", "box", "-c",
           "main", "--", "sh", "-c", script]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=k.env(), start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    out = bytearray()

    def read_until(marker: bytes) -> bool:
        while marker not in out:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                return False
            try:
                out.extend(os.read(master, 4096))
            except OSError:  # the pty closes with kubectl
                return marker in out
        return True

    try:
        wait_until("the terminal size inside the container", lambda: read_until(b"first-size-ok"), 30)
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # kubectl gets SIGWINCH
        wait_until("the new terminal size inside the container", lambda: read_until(b"second-size-ok"), 30)
        os.write(master, b"hello\r")
        wait_until("the command's answer", lambda: read_until(b"word=hello"), 30)
        assert proc.wait(timeout=30) == 4
        assert read_until(b"command terminated with exit code 4")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_attach_with_stdin(k: NamespacedKubectl) -> None:
    p = k.run("attach", "-i", "reader", input="hello\nworld\n", timeout=60)
    assert "got hello\ngot world\nbye\n" in p.stdout
    k("wait", "pod/reader", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s")
    p = k.run("exec", "reader", "--", "true", check=False)
    assert p.returncode == 1
    assert "cannot exec into a container in a completed pod; current phase is Succeeded" in p.stderr, p.stderr


def test_cp_round_trip(k: NamespacedKubectl, tmp_path: Path) -> None:
    payload = os.urandom(300 * 1024)
    src = tmp_path / "payload.bin"
    src.write_bytes(payload)
    k("cp", str(src), "box:/tmp/payload.bin", "-c", "main")
    listed = k("exec", "box", "-c", "main", "--", "wc", "-c", "/tmp/payload.bin")
    assert listed.split()[0] == str(len(payload))
    back = tmp_path / "back.bin"
    k("cp", "box:/tmp/payload.bin", str(back), "-c", "main")
    assert back.read_bytes() == payload


def _forward(k: NamespacedKubectl, target: str, remote_port: int, pod_port: int,
             env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    cmd = [k.binary, f"--cache-dir={k.cache_dir}", f"--namespace={k.namespace}", "port-forward",
           "--address=127.0.0.1", target, f":{remote_port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=k.env(env))
    assert proc.stdout is not None
    line = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "Forwarding from" not in line:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
        if proc.poll() is not None:
            raise AssertionError(f"kubectl port-forward exited: {proc.stderr.read() if proc.stderr else ''}")
    m = re.match(rf"Forwarding from 127\.0\.0\.1:(\d+) -> {pod_port}", line)  # a service port maps to the pod's
    assert m, line
    return proc, int(m.group(1))


@pytest.mark.parametrize(("target", "remote_port", "websockets"),
                         [("pod/web", 80, "true"), ("svc/web", 8080, "true"), ("pod/web", 80, "false")])
def test_port_forward(k: NamespacedKubectl, target: str, remote_port: int, websockets: str) -> None:
    """Over WebSocket (SPDY tunnelled in it), and over plain SPDY (kubectl's fallback, forced)."""
    proc, local = _forward(k, target, remote_port, 80, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets})
    try:
        for _ in range(3):  # one forwarded connection each
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=15) as r:
                assert r.status == 200 and b"Welcome to nginx!" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def core(node: Cluster) -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(node.kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def test_python_client_exec(node: Cluster, core: Any) -> None:
    from kubernetes.stream import stream

    k = namespace_with_pods(node, "1.37")

    out = stream(core.connect_get_namespaced_pod_exec, "box", k.namespace, container="main",
                 command=["sh", "-c", "echo from python"], stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "from python\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "box", k.namespace, container="main",
                  command=["sh", "-c", "cat; exit 5"], stderr=True, stdin=True, stdout=True, tty=False,
                  _preload_content=False)
    resp.write_stdin("typed in\n")
    resp.close_channel(0)
    resp.run_forever(timeout=30)
    assert resp.read_stdout() == "typed in\n"
    assert resp.returncode == 5


def test_python_client_portforward(node: Cluster, core: Any) -> None:
    from kubernetes.stream import portforward

    k = namespace_with_pods(node, "1.37")

    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", k.namespace, ports="80")
    sock = pf.socket(80)
    sock.settimeout(15)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    reply = bytearray()
    while chunk := sock.recv(65536):
        reply.extend(chunk)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200") and b"Welcome to nginx!" in reply
    assert pf.error(80) is None


def test_exec_needs_rbac(k: NamespacedKubectl) -> None:
    """A service account that may read pods but not exec into them gets 403 from the API server."""
    sa = f"viewer{k.version.replace('.', '')}"
    k("create", "serviceaccount", sa)
    k("create", "role", sa, "--verb=get,list", "--resource=pods")
    k("create", "rolebinding", sa, f"--role={sa}", f"--serviceaccount={k.namespace}:{sa}")
    token = k("create", "token", sa).strip()
    p = k.run(f"--token={token}", "exec", "box", "-c", "main", "--", "true", check=False)
    assert p.returncode == 1
    # 1.32 prints the Status as "Error from server (Forbidden): …", 1.37 "error: unable to upgrade connection: …"
    assert (f'pods "box" is forbidden: User "system:serviceaccount:{k.namespace}:{sa}" cannot create resource '
            f'"pods/exec" in API group "" in the namespace "{k.namespace}"') in p.stderr, p.stderr
    json.loads(k("get", "pod", "box", "-o", "json", f"--token={token}"))  # reading is allowed

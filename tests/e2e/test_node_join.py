"""Agents join like k3s agents: the join token in <data-dir>/token (K10<CA hash>::server:<secret>) only
buys node credentials — a client certificate for system:node:<name> in group system:nodes — and the
nodes then work under that identity, authorized by the system:node ClusterRole. A wrong token is
refused with 401. Hollow nodes: no root needed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client.rest import Client
from kybernetes.kubelet import join
from tests.e2e.conftest import Cluster, Kubectl, bare_server, kubectl_137, stop_process, wait_until

pytestmark = [pytest.mark.e2e]
PREFIX = "join-"


@pytest.fixture(scope="module")
def join_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with bare_server(tmp_path_factory.mktemp("kyb-join")) as c:
        yield c


def agent(c: Cluster, token: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "agent", "--server", c.url, "--token", token,
                             "--hollow", "2", "--node-name-prefix", PREFIX, *extra],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _post(c: Cluster, path: str, token: str, body: bytes = b"", method: str = "POST") -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=str(c.data_dir / "server" / "tls" / "server-ca.crt"))
    req = urllib.request.Request(c.url + path, data=body if method == "POST" else None, method=method,
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_token_names_the_ca_and_opens_nothing_but_the_join_endpoint(join_cluster: Cluster) -> None:
    c = join_cluster
    token = (c.data_dir / "token").read_text().strip()
    ca = (c.data_dir / "server" / "tls" / "server-ca.crt").read_bytes()
    assert token.startswith("K10" + hashlib.sha256(ca).hexdigest() + "::server:")
    secret = token.rpartition(":")[2]
    with urllib.request.urlopen(c.url + "/cacerts", context=ssl._create_unverified_context(), timeout=10) as r:
        assert r.read() == ca  # anyone may fetch it; the token's hash is what makes it trusted
    for t in (secret, token):
        status, body = _post(c, "/api/v1/nodes", t, method="GET")
        assert status == 403, body
        assert json.loads(body)["message"].startswith('nodes is forbidden: User "system:bootstrap:node-join"')
    status, body = _post(c, "/v1-kybernetes/client-kubelet.crt", "not-the-token", b"x")
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"
    status, body = _post(c, "/v1-kybernetes/client-kubelet.crt", secret, b"not a csr")
    assert status == 400 and "not a PEM certificate signing request" in json.loads(body)["message"]


def test_node_credentials_carry_the_node_identity(join_cluster: Cluster) -> None:
    c = join_cluster
    token = (c.data_dir / "token").read_text().strip()

    async def reviews() -> tuple[dict[str, Any], list[bool]]:
        ca, (creds,) = await join.join(c.url, token, [join.node_user("probe")], wait=10)
        client = Client(join.client_config(c.url, ca, creds))
        try:
            who = await client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            allowed = []
            for attrs in ({"verb": "patch", "resource": "nodes", "subresource": "status"},
                          {"verb": "create", "group": "coordination.k8s.io", "resource": "leases"},
                          {"verb": "delete", "group": "apps", "resource": "deployments"},
                          {"verb": "create", "resource": "secrets"}):
                review = await client.request(
                    "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                    {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                     "spec": {"resourceAttributes": attrs}})
                allowed.append(review["status"]["allowed"])
            return who, allowed
        finally:
            await client.close()

    who, allowed = asyncio.run(reviews())
    assert who["status"]["userInfo"] == {"username": "system:node:probe",
                                         "groups": ["system:nodes", "system:authenticated"]}
    assert allowed == [True, True, False, False]  # the system:node role, nothing more


def test_hollow_agent_joins_with_the_token_file_and_its_nodes_get_ready(join_cluster: Cluster, tmp_path: Path) -> None:
    c = join_cluster
    k = Kubectl(c, kubectl_137(), "1.37")
    token = (c.data_dir / "token").read_text().strip()
    proc = agent(c, token, tmp_path / "agent.log")  # no --ca-file: the token's hash vouches for the CA
    try:
        nodes = [f"{PREFIX}0", f"{PREFIX}1"]
        wait_until("hollow nodes", lambda: k.run("get", "node", *nodes, check=False).returncode == 0, 60)
        k("wait", "--for=condition=Ready", *[f"node/{n}" for n in nodes], "--timeout=60s")
        log = (c.data_dir.parent / f"server-{c.port}.log").read_text()
        for n in nodes:  # each node asked for, and then used, its own identity
            assert f"Issued a client certificate for system:node:{n} to system:bootstrap:node-join" in log
        # the nodes are writing (lease renewals) as system:node:<name>: the only identity they have
        holder = k("get", "lease", "-n", "kube-node-lease", nodes[1], "-o", "jsonpath={.spec.holderIdentity}")
        assert holder == nodes[1]
        binding = json.loads(k("get", "clusterrolebinding", "system:node", "-o", "json"))
        assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                        "name": "system:nodes"}]
    finally:
        stop_process(proc)


def test_wrong_token_is_refused(join_cluster: Cluster, tmp_path: Path) -> None:
    c = join_cluster
    token = (c.data_dir / "token").read_text().strip()
    wrong = token.rpartition(":")[0] + ":wrong-secret"
    proc = agent(c, wrong, tmp_path / "wrong.log")
    assert proc.wait(timeout=60) == 1
    assert "401 Unauthorized" in (tmp_path / "wrong.log").read_text()
    bad_hash = "K10" + "0" * 64 + "::server:" + token.rpartition(":")[2]
    proc = agent(c, bad_hash, tmp_path / "hash.log")
    assert proc.wait(timeout=60) == 1
    assert "token CA hash does not match" in (tmp_path / "hash.log").read_text()

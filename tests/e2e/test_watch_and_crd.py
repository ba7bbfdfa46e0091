"""Watches (kubectl -w, ordering, exactly-once), `get all`, and custom resources via CRDs."""

from __future__ import annotations

import json
import queue
import subprocess
import textwrap
import threading
import time
import uuid

import pytest

from tests.e2e.conftest import Kubectl

pytestmark = pytest.mark.e2e


def test_get_watch_streams_events_in_order(kubectl: Kubectl) -> None:
    ns = f"w-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "ns", ns)
    cmd = [kubectl.binary, f"--cache-dir={kubectl.cache_dir}", "-n", ns, "get", "cm", "--watch-only",
           "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name} {.object.data.v}{\"\\n\"}",
           "--request-timeout=60s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl.env())
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        # kubectl lists first and watches from the list's resourceVersion; probes created before
        # the watch began are not reported, so create probes until one is
        deadline = time.monotonic() + 30
        first = ""
        i = 0
        while not first and time.monotonic() < deadline:
            kubectl("-n", ns, "create", "cm", f"probe{i}", "--from-literal=v=p")
            i += 1
            try:
                first = lines.get(timeout=1)
            except queue.Empty:
                continue
        assert first.split()[0] == "ADDED" and first.split()[1].startswith("probe"), first
        for n in range(5):
            kubectl("-n", ns, "create", "cm", f"c{n}", f"--from-literal=v={n}")
        kubectl("-n", ns, "patch", "cm", "c0", "--type=merge", "-p", '{"data":{"v":"x"}}')
        kubectl("-n", ns, "delete", "cm", "c1")
        got: list[list[str]] = []
        while len(got) < 7:
            line = lines.get(timeout=20).split()
            if not line[1].startswith("probe"):
                got.append(line)
        assert got == [["ADDED", "c0", "0"], ["ADDED", "c1", "1"], ["ADDED", "c2", "2"], ["ADDED", "c3", "3"],
                       ["ADDED", "c4", "4"], ["MODIFIED", "c0", "x"], ["DELETED", "c1", "1"]]
        assert lines.empty()
    finally:
        proc.kill()
        proc.wait()


def test_get_all_category(kubectl: Kubectl) -> None:
    ns = f"all-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "ns", ns)
    kubectl("-n", ns, "create", "deployment", "web", "--image=nginx")
    kubectl("-n", ns, "create", "service", "clusterip", "web", "--tcp=80:80")
    out = kubectl("-n", ns, "get", "all")
    assert "deployment.apps/web" in out and "service/web" in out


CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: crontabs.stable.example.com
    spec:
      group: stable.example.com
      scope: Namespaced
      names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
        additionalPrinterColumns:
        - {name: Spec, type: string, jsonPath: .spec.cronSpec}
        - {name: Replicas, type: integer, jsonPath: .spec.replicas}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  cronSpec: {type: string}
                  image: {type: string}
                  replicas: {type: integer, default: 1}
              status:
                type: object
                properties:
                  replicas: {type: integer}
    """)


def test_crd_custom_resources(kubectl: Kubectl) -> None:
    existing = kubectl.run("get", "crd", "crontabs.stable.example.com", check=False)
    if existing.returncode != 0:
        kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "crd/crontabs.stable.example.com", "--for=condition=Established", "--timeout=30s")
    ns = f"cr-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "ns", ns)
    cr = textwrap.dedent("""\
        apiVersion: stable.example.com/v1
        kind: CronTab
        metadata: {name: my-cron}
        spec: {cronSpec: "* * * * */5", image: my-image, bogus: 1}
        """)
    kubectl("-n", ns, "create", "--validate=false", "-f", "-", input=cr)
    obj = json.loads(kubectl("-n", ns, "get", "ct", "my-cron", "-o", "json"))
    assert obj["spec"] == {"cronSpec": "* * * * */5", "image": "my-image", "replicas": 1}  # pruned + defaulted
    table = kubectl("-n", ns, "get", "crontabs")
    assert table.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    row = table.splitlines()[1]
    assert row.startswith("my-cron ") and "* * * * */5" in row and row.split()[-2] == "1"
    kubectl("-n", ns, "scale", "crontab", "my-cron", "--replicas=3")
    assert kubectl("-n", ns, "get", "ct", "my-cron", "-o", "jsonpath={.spec.replicas}") == "3"
    bad = cr.replace("image: my-image, bogus: 1", "image: 5").replace("cronSpec: \"* * * * */5\"", "cronSpec: 7")
    res = kubectl.run("-n", ns, "apply", "-f", "-", input=bad, check=False)
    assert res.returncode != 0 and "must be of type string" in res.stderr
    kubectl("-n", ns, "delete", "ct", "my-cron")

"""Pulling from a registry: the embedded agent's containerd is told by ``--registries`` (k3s's
registries.yaml) that the test registry on 127.0.0.1 speaks plain HTTP; a pod with imagePullPolicy
Always pulls its image from it (Pulling/Pulled) and runs it; a tag the registry does not have gives
ErrImagePull, then ImagePullBackOff.

Needs root (the node agent); run with the other host-level tests under ``flock /tmp/kyb-host.lock``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from kybernetes.runtime import images
from tests.e2e.conftest import Cluster, Kubectl, agent_server, free_port, kubectl_137, wait_until
from tests.e2e.registry import Registry

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Registry, str]]:
    base = tmp_path_factory.mktemp("kyb-pull")
    port = free_port()
    registries = base / "registries.yaml"
    registries.write_text(f'mirrors:\n  "127.0.0.1:{port}":\n    endpoint: ["http://127.0.0.1:{port}"]\n')
    marker = uuid.uuid4().hex
    with Registry(port) as registry, agent_server(base, f"kybpull-{marker[:6]}", "--disable", "ingress",
                                                  "--registries", str(registries)) as c:
        archive = images.builtin_cache_dir(c.data_dir) / images.BUILTIN["busybox"].archive_name()
        registry.push_from_archive(archive, "test/hello", "1", {"hello.txt": f"hello {marker}\n".encode()})
        yield c, registry, marker


def run_pod(k: Kubectl, name: str, image: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": image, "imagePullPolicy": "Always", "command": ["cat", "/hello.txt"]}]}}
    k("apply", "-f", "-", input=json.dumps(pod))


def events(k: Kubectl, pod: str) -> list[tuple[str, str]]:
    items = json.loads(k("get", "events", "--field-selector", f"involvedObject.name={pod}", "-o", "json"))["items"]
    return [(e["reason"], e["message"]) for e in items]


def test_hosts_file_written_for_the_registry(pulled: tuple[Cluster, Registry, str]) -> None:
    c, registry, _ = pulled
    hosts = c.data_dir / "agent" / "containerd" / "certs.d" / f"127.0.0.1:{registry.port}" / "hosts.toml"
    assert f'server = "http://127.0.0.1:{registry.port}"' in hosts.read_text()


def test_image_is_pulled_from_the_loopback_registry_and_runs(pulled: tuple[Cluster, Registry, str]) -> None:
    c, registry, marker = pulled
    k = Kubectl(c, kubectl_137(), "1.37")
    image = f"127.0.0.1:{registry.port}/test/hello:1"
    run_pod(k, "hello", image)
    k("wait", "pod/hello", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s", timeout=130)
    assert k("logs", "hello") == f"hello {marker}\n"  # the registry's own layer
    assert ("GET", "/v2/test/hello/manifests/1") in registry.requests or \
        ("HEAD", "/v2/test/hello/manifests/1") in registry.requests
    seen = events(k, "hello")
    assert ("Pulling", f'Pulling image "{image}"') in seen
    assert any(r == "Pulled" and m.startswith(f'Successfully pulled image "{image}" in ') for r, m in seen)
    k("delete", "pod", "hello")


def test_missing_tag_is_err_image_pull_then_back_off(pulled: tuple[Cluster, Registry, str]) -> None:
    c, registry, _ = pulled
    k = Kubectl(c, kubectl_137(), "1.37")
    image = f"127.0.0.1:{registry.port}/test/hello:2"
    run_pod(k, "missing", image)
    statuses: list[str] = []

    def status() -> str:
        columns = k("get", "pod", "missing", "--no-headers").split()
        statuses.append(columns[2])
        return columns[2]

    # ErrImagePull shows until the next sync, in back-off (10 s): ImagePullBackOff
    for want in ("ErrImagePull", "ImagePullBackOff"):
        try:
            wait_until(want, lambda w=want: status() == w, 60, 0.2)  # type: ignore[misc]
        except AssertionError as e:
            raise AssertionError(f"{e}; statuses seen: {list(dict.fromkeys(statuses))}") from None
    seen = events(k, "missing")
    assert any(r == "Failed" and m.startswith(f'Failed to pull image "{image}": ') and "not found" in m
               for r, m in seen), seen
    assert ("Failed", "Error: ErrImagePull") in seen
    assert ("BackOff", f'Back-off pulling image "{image}"') in seen
    k("delete", "pod", "missing")

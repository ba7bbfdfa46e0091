"""imagePullPolicy handling with a fake CRI (events, ErrImageNeverPull, ErrImagePull → ImagePullBackOff,
offline built-ins), the container security context mapping, and real-node registration with a fake API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from kybernetes.client.errors import AlreadyExistsError
from kybernetes.kubelet import containers, images, node
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.runtime import errors
from kybernetes.runtime.proto import cri_pb2 as api


class FakeImages:
    def __init__(self, present: set[str], pullable: set[str]) -> None:
        self.present, self.pullable = present, pullable
        self.pulls: list[str] = []

    async def image_status(self, image: str) -> api.Image | None:
        name = image.removeprefix("sha256:")
        return api.Image(id=f"sha256:{name}", size=1234) if name in self.present else None

    async def pull_image(self, image: str, *, sandbox_config: Any = None) -> str:
        self.pulls.append(image)
        if image not in self.pullable:
            raise errors.NotFoundError("PullImage", grpc.StatusCode.NOT_FOUND,
                                       f'failed to resolve reference "{image}": not found')
        self.present.add(image)
        return f"sha256:{image}"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


POD = {"metadata": {"uid": "u1", "name": "p", "namespace": "default"}}


def manager(present: set[str], pullable: set[str], offline: tuple[str, ...] = ()) -> tuple[
        images.ImageManager, FakeImages, Clock]:
    rt, clock = FakeImages(present, pullable), Clock()
    return images.ImageManager(rt, Backoff(10, 300, clock), offline=offline), rt, clock  # type: ignore[arg-type]


async def test_if_not_present_uses_local_image() -> None:
    m, rt, _ = manager({"busybox"}, set())
    events: list[tuple[str, str, str]] = []
    ref = await m.ensure(POD, {"image": "busybox", "imagePullPolicy": "IfNotPresent"}, lambda *e: events.append(e))
    assert ref == "sha256:busybox" and rt.pulls == []
    assert events == [("Normal", "Pulled", 'Container image "busybox" already present on machine')]


async def test_always_pulls_except_offline_builtins() -> None:
    m, rt, _ = manager({"registry.local/app:latest", "busybox"}, {"registry.local/app:latest"},
                       offline=("docker.io/library/busybox:latest",))
    events: list[tuple[str, str, str]] = []
    await m.ensure(POD, {"image": "registry.local/app:latest", "imagePullPolicy": "Always"}, lambda *e: events.append(e))
    assert rt.pulls == ["registry.local/app:latest"]
    assert events[0] == ("Normal", "Pulling", 'Pulling image "registry.local/app:latest"')
    assert events[1][1] == "Pulled" and events[1][2].startswith('Successfully pulled image "registry.local/app:latest" in ')
    assert events[1][2].endswith("including waiting). Image size: 1234 bytes.")
    await m.ensure(POD, {"image": "busybox", "imagePullPolicy": "Always"}, lambda *e: None)
    assert rt.pulls == ["registry.local/app:latest"]


async def test_never_without_image() -> None:
    m, _, _ = manager(set(), set())
    events: list[tuple[str, str, str]] = []
    with pytest.raises(images.ImageError) as e:
        await m.ensure(POD, {"image": "nginx:1.7.9", "imagePullPolicy": "Never"}, lambda *ev: events.append(ev))
    assert e.value.reason == "ErrImageNeverPull"
    assert e.value.message == 'Container image "nginx:1.7.9" is not present with pull policy of Never'
    assert events == [("Warning", "ErrImageNeverPull", e.value.message)]


async def test_failed_pull_backs_off() -> None:
    m, rt, clock = manager(set(), set())
    events: list[tuple[str, str, str]] = []
    ctr = {"image": "nope:1"}
    with pytest.raises(images.ImageError) as e:
        await m.ensure(POD, ctr, lambda *ev: events.append(ev))
    assert e.value.reason == "ErrImagePull" and e.value.message.startswith("rpc error: code = NotFound desc = ")
    assert events[-1][:2] == ("Warning", "Failed") and events[-1][2].startswith('Failed to pull image "nope:1": ')
    with pytest.raises(images.ImageError) as e:
        await m.ensure(POD, ctr, lambda *ev: events.append(ev))
    assert e.value.reason == "ImagePullBackOff" and events[-1] == ("Normal", "BackOff", 'Back-off pulling image "nope:1"')
    assert rt.pulls == ["nope:1"]
    clock.now += 10
    with pytest.raises(images.ImageError) as e:
        await m.ensure(POD, ctr, lambda *ev: None)
    assert e.value.reason == "ErrImagePull" and rt.pulls == ["nope:1", "nope:1"]


@pytest.mark.parametrize(("image", "policy"), [("nginx", "Always"), ("nginx:latest", "Always"),
                                               ("nginx:1.7.9", "IfNotPresent"), ("a/b@sha256:00", "IfNotPresent")])
def test_default_policy(image: str, policy: str) -> None:
    assert images.default_policy(image) == policy


def test_security_context_mapping() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                        "supplementalGroups": [4000]}}}
    ctr = {"securityContext": {"runAsUser": 2000, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                               "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}
    sec = containers._security(pod, ctr)
    assert sec == {"run_as_user": 2000, "run_as_group": 3000, "supplemental_groups": [4000, 2000],
                   "readonly_rootfs": True, "privileged": False, "add_capabilities": ["NET_ADMIN"],
                   "drop_capabilities": ["ALL"], "no_new_privs": True}
    assert containers._security({"spec": {}}, {"securityContext": {"privileged": True}})["privileged"] is True
    assert containers.container_hash({"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}}) == \
        containers.container_hash({"name": "a", "image": "x"})
    assert containers.log_symlink_path(Path("/l"), "p", "ns", "c", "abc") == Path("/l/p_ns_c-abc.log")


class FakeApi:
    def __init__(self, exists: bool = False) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.exists = exists

    async def create(self, res: Any, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.calls.append(("create", res.plural, obj))
        if res.plural == "nodes" and self.exists:
            raise AlreadyExistsError(409, {"reason": "AlreadyExists"})
        return {**obj, "metadata": {**obj["metadata"], "uid": "node-uid", "resourceVersion": "1"}}

    async def get(self, res: Any, name: str, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get", res.plural, name))
        return {"metadata": {"name": name, "uid": "node-uid"}, "status": {}}

    async def patch(self, res: Any, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.calls.append(("patch", res.plural, patch))
        return {"metadata": {"name": name, "uid": "node-uid"}, **patch}

    async def replace(self, res: Any, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self.calls.append(("replace", res.plural, obj))
        return obj


async def test_node_registration(tmp_path: Path) -> None:
    api = FakeApi()
    cfg = KubeletConfig.for_data_dir("n1", "127.0.0.1", tmp_path, control_plane=True, labels={"zone": "a"})

    async def ready() -> tuple[bool, str]:
        return True, ""

    agent = node.NodeAgent(api, cfg, kubelet_port=12345, runtime_version="containerd://1.6.20", runtime_ready=ready)  # type: ignore[arg-type]
    await agent.register()
    body = next(c[2] for c in api.calls if c[:2] == ("create", "nodes"))
    labels = body["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == "true" and labels["zone"] == "a"
    assert labels["kubernetes.io/hostname"] == "n1"
    st = body["status"]
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 12345}}
    assert st["capacity"]["pods"] == "110" and int(st["capacity"]["cpu"]) >= 1
    assert st["capacity"]["memory"].endswith("Ki") and st["capacity"]["ephemeral-storage"].endswith("Ki")
    assert st["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert agent.allocatable["memory"] != st["capacity"]["memory"]
    lease = next(c[2] for c in api.calls if c[:2] == ("create", "leases"))
    assert lease["spec"]["holderIdentity"] == "n1" and lease["metadata"]["namespace"] == "kube-node-lease"


async def test_node_not_ready_when_runtime_network_is_not(tmp_path: Path) -> None:
    api = FakeApi(exists=True)
    cfg = KubeletConfig.for_data_dir("n1", "127.0.0.1", tmp_path)

    async def not_ready() -> tuple[bool, str]:
        return False, "container runtime network not ready"

    agent = node.NodeAgent(api, cfg, kubelet_port=1, runtime_version="x", runtime_ready=not_ready)  # type: ignore[arg-type]
    await agent.register()
    status = next(c[2] for c in api.calls if c[:2] == ("patch", "nodes") and "status" in c[2])["status"]
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "KubeletNotReady",
                                                                    "container runtime network not ready")

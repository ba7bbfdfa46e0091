"""The built-in dynamic provisioner for ``rancher.io/local-path`` (k3s's local-path-provisioner).

The ``local-path`` StorageClass (the default class, WaitForFirstConsumer, reclaim Delete) and its
``kube-system/local-path-config`` ConfigMap are installed by ``kyb server`` (:func:`install`). Claims
the PV binder hands to this provisioner (``volume.kubernetes.io/storage-provisioner``) and the
scheduler placed on a node (``volume.kubernetes.io/selected-node``) get a hostPath volume
``<storage-dir>/pvc-<uid>_<namespace>_<claim>`` on that node, pinned there by node affinity and
pre-bound to the claim (the binder completes the binding). The directory is made — and, once the
released volume's policy is Delete, removed — by a short-lived helper pod on the node, exactly as
local-path-provisioner does it, since only the node's kubelet can touch the node's disk. Helper pods
live in kube-system and run the ``setup``/``teardown`` scripts of the ConfigMap.

Keys: ``claim:<ns>/<name>`` (provisioning) and ``volume:<name>`` (deletion); helper pod changes wake
the key they work for. Like k3s's, it is a packaged component of the server, not part of the
controller manager: ``kyb server`` runs it with :func:`run_local_path_provisioner` (``--disable
local-storage`` leaves it and its StorageClass out).
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from kybernetes.api import persistentvolumes as pvmatch
from kybernetes.api.printing import parse_time
from kybernetes.client.errors import AlreadyExistsError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.informer import Informer, key_of, run_until_stopped
from kybernetes.client.rest import CONFIGMAPS, NODES, PODS, PVCS, PVS, STORAGECLASSES, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

PROVISIONER = "rancher.io/local-path"
CLASS_NAME = "local-path"
CONFIG_NAMESPACE = "kube-system"
CONFIG_NAME = "local-path-config"
DEFAULT_NODE_KEY = "DEFAULT_PATH_FOR_NON_LISTED_NODES"
DEFAULT_HELPER_IMAGE = "docker.io/library/busybox:latest"
ANN_SELECTED_NODE_LOCAL = "local.path.provisioner/selected-node"
ANN_HELPER_FOR = "kybernetes.io/local-path-helper-for"
# simulated (hollow) nodes run no containers: this tells them the helper finishes at once, successfully
ANN_HOLLOW_EXIT_CODE = "kybernetes.io/hollow-exit-code"
HELPER_TIMEOUT = 120.0
RETRY_BASE, RETRY_MAX = 5.0, 300.0  # after a failed helper: 5 s, 10 s, 20 s, ... up to 5 min

SETUP_SCRIPT = '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n'
TEARDOWN_SCRIPT = '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n'


def default_objects(storage_dir: str, helper_image: str = DEFAULT_HELPER_IMAGE) -> list[Obj]:
    """The StorageClass and the ConfigMap a k3s server deploys for local-path (``local-storage.yaml``)."""
    storage_class = {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": CLASS_NAME, "annotations": {pvmatch.ANN_DEFAULT_CLASS: "true"}},
        "provisioner": PROVISIONER, "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}
    config = {"nodePathMap": [{"node": DEFAULT_NODE_KEY, "paths": [storage_dir]}]}
    helper = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "helper-pod"},
              "spec": {"containers": [{"name": "helper-pod", "image": helper_image,
                                       "imagePullPolicy": "IfNotPresent"}]}}
    configmap = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_NAME, "namespace": CONFIG_NAMESPACE},
        "data": {"config.json": json.dumps(config, indent=2), "setup": SETUP_SCRIPT, "teardown": TEARDOWN_SCRIPT,
                 "helperPod.yaml": yaml.safe_dump(helper, sort_keys=False)}}
    return [storage_class, configmap]


async def install(client: Client, storage_dir: str, helper_image: str = DEFAULT_HELPER_IMAGE) -> None:
    """Create the default objects that do not exist; existing ones (maybe edited by an admin) are kept."""
    for obj in default_objects(storage_dir, helper_image):
        res = STORAGECLASSES if obj["kind"] == "StorageClass" else CONFIGMAPS
        try:
            await client.create(res, obj, obj["metadata"].get("namespace"))
        except AlreadyExistsError:
            pass


@dataclass(frozen=True, slots=True)
class Config:
    """``config.json`` and the helper image of ``local-path-config``."""

    paths: dict[str, list[str]] = field(default_factory=dict)  # node → directories
    helper_image: str = DEFAULT_HELPER_IMAGE

    def base_dir(self, node: str) -> str | None:
        paths = self.paths.get(node) or self.paths.get(DEFAULT_NODE_KEY) or []
        return paths[0] if paths else None


def parse_config(configmap: Obj) -> Config:
    """Raises ValueError on a malformed ConfigMap (the message becomes the ProvisioningFailed event)."""
    data = configmap.get("data") or {}
    try:
        raw = json.loads(data.get("config.json") or "{}")
        paths = {str(e["node"]): [str(p) for p in e.get("paths") or []] for e in raw.get("nodePathMap") or []}
        helper = yaml.safe_load(data.get("helperPod.yaml") or "") or {}
    except (ValueError, KeyError, TypeError, yaml.YAMLError) as e:
        raise ValueError(f"invalid {CONFIG_NAMESPACE}/{CONFIG_NAME}: {e}") from None
    containers = (helper.get("spec") or {}).get("containers") or [{}]
    return Config(paths, containers[0].get("image") or DEFAULT_HELPER_IMAGE)


def volume_name(claim: Obj) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def helper_pod(name: str, key: str, node: str, script: str, directory: str, image: str, size: int) -> Obj:
    """A pod on ``node`` running ``/script/<script>`` with the volume's parent directory mounted."""
    parent = posixpath.dirname(directory)
    env = [{"name": "VOL_DIR", "value": directory}, {"name": "VOL_MODE", "value": "Filesystem"},
           {"name": "VOL_SIZE_BYTES", "value": str(size)}]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": CONFIG_NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": "local-path-provisioner"},
                     "annotations": {ANN_HELPER_FOR: key, ANN_HOLLOW_EXIT_CODE: "0"}},
        "spec": {
            "nodeName": node, "restartPolicy": "Never", "automountServiceAccountToken": False,
            "priorityClassName": "system-node-critical", "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "helper-pod", "image": image, "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", f"/script/{script}"], "env": env,
                            "volumeMounts": [{"name": "script", "mountPath": "/script"},
                                             {"name": "data", "mountPath": parent}]}],
            "volumes": [{"name": "script", "configMap": {"name": CONFIG_NAME, "items": [
                            {"key": "setup", "path": "setup"}, {"key": "teardown", "path": "teardown"}]}},
                        {"name": "data", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}}]}}


def node_affinity(node: str) -> Obj:
    return {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}


class LocalPathProvisioner(loop.Controller):
    name = "local-path-provisioner"

    def __init__(self, pvc_informer: Informer, pv_informer: Informer, class_informer: Informer,
                 configmap_informer: Informer, pod_informer: Informer, client: Client, recorder: loop.Recorder,
                 *, clock: loop.Clock = time.time, helper_timeout: float = HELPER_TIMEOUT) -> None:
        super().__init__([pvc_informer, pv_informer, class_informer, configmap_informer, pod_informer])
        self.claims = pvc_informer
        self.volumes = pv_informer
        self.classes = class_informer
        self.configmaps = configmap_informer
        self.pods = pod_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.helper_timeout = helper_timeout
        self._retries: dict[str, tuple[int, float]] = {}  # key → (failures, not before)
        pvc_informer.add_handlers(self._claim, lambda _old, cur: self._claim(cur))
        pv_informer.add_handlers(self._volume, lambda _old, cur: self._volume(cur))
        pod_informer.add_handlers(self._helper, lambda _old, cur: self._helper(cur), self._helper)

    def _claim(self, claim: Obj) -> None:
        if pvmatch.annotations_of(claim).get(pvmatch.ANN_STORAGE_PROVISIONER) == PROVISIONER:
            self.queue.add("claim:" + key_of(claim))

    def _volume(self, volume: Obj) -> None:
        if pvmatch.annotations_of(volume).get(pvmatch.ANN_PROVISIONED_BY) == PROVISIONER:
            self.queue.add("volume:" + key_of(volume))

    def _helper(self, pod: Obj) -> None:
        key = pvmatch.annotations_of(pod).get(ANN_HELPER_FOR)
        if key and _md(pod).get("namespace") == CONFIG_NAMESPACE:
            self.queue.add(key)

    def _config(self) -> Config | None:
        cm = self.configmaps.get(f"{CONFIG_NAMESPACE}/{CONFIG_NAME}")
        return parse_config(cm) if cm is not None else None

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            await self.sync_claim(key, rest)
        elif kind == "volume":
            await self.sync_volume(key, rest)

    # --- helper pods ----------------------------------------------------------------------------------
    async def _run_helper(self, key: str, name: str, make: Obj) -> tuple[str, str]:
        """Start the helper (once) and report ("" | "Succeeded" | "Failed", why it failed). A finished
        helper is left for the caller to delete once it has acted on the result."""
        pod = self.pods.get(f"{CONFIG_NAMESPACE}/{name}")
        if pod is None:
            _, not_before = self._retries.get(key, (0, 0.0))
            if self.clock() < not_before:
                self.queue.add_after(key, not_before - self.clock())
                return "", ""
            try:
                await self.client.create(PODS, make, CONFIG_NAMESPACE)
            except AlreadyExistsError:
                pass
            self.queue.add_after(key, self.helper_timeout)
            return "", ""
        status = pod.get("status") or {}
        phase = status.get("phase") or ""
        if phase in ("Succeeded", "Failed"):
            terminated = next(((s.get("state") or {}).get("terminated") or {}
                               for s in status.get("containerStatuses") or []), {})
            why = terminated.get("message") or terminated.get("reason") or status.get("message") or phase
            return phase, f"helper pod {name} failed: {why}".strip()
        started = parse_time(_md(pod).get("creationTimestamp")) or self.clock()
        left = started + self.helper_timeout - self.clock()
        if left <= 0:
            return "Failed", f"timed out after {self.helper_timeout:.0f}s waiting for helper pod {name} to finish"
        self.queue.add_after(key, left)
        return "", ""

    def _back_off(self, key: str) -> None:
        failures = self._retries.get(key, (0, 0.0))[0] + 1
        delay = min(RETRY_BASE * 2 ** (failures - 1), RETRY_MAX)
        self._retries[key] = (failures, self.clock() + delay)
        self.queue.add_after(key, delay)

    async def _delete_helper(self, name: str) -> None:
        if self.pods.get(f"{CONFIG_NAMESPACE}/{name}") is None:
            return
        try:
            await self.client.delete(PODS, name, CONFIG_NAMESPACE, gracePeriodSeconds=0)
        except NotFoundError:
            pass

    # --- provisioning -------------------------------------------------------------------------------
    async def sync_claim(self, key: str, claim_key: str) -> None:
        claim = self.claims.get(claim_key)
        if claim is None or _md(claim).get("deletionTimestamp") or (claim.get("spec") or {}).get("volumeName"):
            self._retries.pop(key, None)
            return
        if pvmatch.annotations_of(claim).get(pvmatch.ANN_STORAGE_PROVISIONER) != PROVISIONER:
            return
        class_name = pvmatch.claim_class(claim)
        sc = self.classes.get(class_name)
        if sc is None or sc.get("provisioner") != PROVISIONER:
            return
        name = volume_name(claim)
        helper = f"helper-pod-create-{name}"
        if self.volumes.get(name) is not None:
            await self._delete_helper(helper)  # provisioned; the binder finishes
            return
        node = pvmatch.annotations_of(claim).get(pvmatch.ANN_SELECTED_NODE)
        if not node:
            if sc.get("volumeBindingMode") != "WaitForFirstConsumer":
                self._failed(claim, class_name, "configuration error, no node was specified")
            return
        try:
            config = self._config()
        except ValueError as e:
            self._failed(claim, class_name, str(e))
            return
        base = config.base_dir(node) if config is not None else None
        if config is None or base is None:
            self._failed(claim, class_name, f"no local path is configured for node {node} in "
                                            f"{CONFIG_NAMESPACE}/{CONFIG_NAME}")
            return
        md = _md(claim)
        directory = posixpath.join(base, f"{name}_{md.get('namespace')}_{md.get('name')}")
        size = pvmatch.requested(claim).int_value()
        if self.pods.get(f"{CONFIG_NAMESPACE}/{helper}") is None:
            if await self._volume_exists(name):
                return  # made a moment ago; the cache has not caught up
            self.recorder.record(claim, NORMAL, "Provisioning",
                                 f'External provisioner is provisioning volume for claim "{claim_key}"')
        phase, why = await self._run_helper(key, helper, helper_pod(helper, key, node, "setup", directory,
                                                                    config.helper_image, size))
        if phase == "Failed":
            self._failed(claim, class_name, f"failed to create volume {name}: {why}")
            await self._delete_helper(helper)
            self._back_off(key)
        elif phase == "Succeeded":
            await self._create_volume(claim, sc, name, node, directory)
            await self._delete_helper(helper)
            self._retries.pop(key, None)

    def _failed(self, claim: Obj, class_name: str, why: str) -> None:
        self.recorder.record(claim, WARNING, "ProvisioningFailed",
                             f'failed to provision volume with StorageClass "{class_name}": {why}')

    async def _create_volume(self, claim: Obj, sc: Obj, name: str, node: str, directory: str) -> None:
        spec = claim.get("spec") or {}
        volume = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {pvmatch.ANN_PROVISIONED_BY: PROVISIONER,
                                                       ANN_SELECTED_NODE_LOCAL: node}},
            "spec": {"capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage")},
                     "accessModes": list(spec.get("accessModes") or []),
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                     "storageClassName": pvmatch.claim_class(claim), "volumeMode": pvmatch.volume_mode(claim),
                     "hostPath": {"path": directory, "type": "DirectoryOrCreate"},
                     "nodeAffinity": node_affinity(node), "claimRef": pvmatch.claim_ref(claim)}}
        try:
            await self.client.create(PVS, volume)
        except AlreadyExistsError:
            return
        self.recorder.record(claim, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {name}")
        log.info("Provisioned volume %s for claim %s at %s on node %s", name, key_of(claim), directory, node)

    # --- deletion -----------------------------------------------------------------------------------
    async def sync_volume(self, key: str, name: str) -> None:
        volume = self.volumes.get(name)
        helper = f"helper-pod-delete-{name}"
        if volume is None:
            await self._delete_helper(helper)
            self._retries.pop(key, None)
            return
        if pvmatch.annotations_of(volume).get(pvmatch.ANN_PROVISIONED_BY) != PROVISIONER:
            return
        spec = volume.get("spec") or {}
        if (volume.get("status") or {}).get("phase") != "Released" or \
                spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        node = pvmatch.annotations_of(volume).get(ANN_SELECTED_NODE_LOCAL) or ""
        directory = (spec.get("hostPath") or spec.get("local") or {}).get("path") or ""
        if self.pods.get(f"{CONFIG_NAMESPACE}/{helper}") is None and not await self._node_exists(node):
            log.info("Deleting volume %s without cleanup: its node %r is gone", name, node)
            await self._delete_volume(name)
            return
        cfg = self._config() or Config()
        phase, why = await self._run_helper(key, helper, helper_pod(helper, key, node, "teardown", directory,
                                                                    cfg.helper_image, 0))
        if phase == "Failed":
            self.recorder.record(volume, WARNING, "VolumeFailedDelete", f"failed to delete volume {name}: {why}")
            await self._delete_helper(helper)
            self._back_off(key)
        elif phase == "Succeeded":
            await self._delete_volume(name)
            await self._delete_helper(helper)
            self._retries.pop(key, None)
            log.info("Deleted volume %s and its directory %s on node %s", name, directory, node)

    async def _volume_exists(self, name: str) -> bool:
        try:
            await self.client.get(PVS, name)
        except NotFoundError:
            return False
        return True

    async def _node_exists(self, node: str) -> bool:
        if not node:
            return False
        try:
            await self.client.get(NODES, node)
        except NotFoundError:
            return False
        return True

    async def _delete_volume(self, name: str) -> None:
        try:
            await self.client.delete(PVS, name)
        except NotFoundError:
            pass


async def run_local_path_provisioner(client: Client, stop: asyncio.Event, workers: int = 2) -> None:
    """Run the provisioner with its own informers until ``stop`` (helper pods and the config are
    watched in kube-system only); events come from ``rancher.io/local-path_<host>``."""
    claims, volumes, classes = Informer(client, PVCS), Informer(client, PVS), Informer(client, STORAGECLASSES)
    configmaps = Informer(client, CONFIGMAPS, namespace=CONFIG_NAMESPACE)
    pods = Informer(client, PODS, namespace=CONFIG_NAMESPACE)
    informers = [claims, volumes, classes, configmaps, pods]
    recorder = EventRecorder(client, f"{PROVISIONER}_{socket.gethostname()}")
    ctrl = LocalPathProvisioner(claims, volumes, classes, configmaps, pods, client, recorder)
    await run_until_stopped(stop, ctrl.run(workers), informers, recorder)

"""Starting one container of a pod: image, environment, mounts, CRI config, create, start, postStart.

Role: :mod:`.syncpod` calls :func:`start_container` for every container it decides to (re)start. Each
step that can fail maps to the kubelet's waiting reason and a ``Failed`` event ``Error: …``:
ErrImagePull/ImagePullBackOff/ErrImageNeverPull (:mod:`.images`), CreateContainerConfigError (env,
mounts), CreateContainerError (CreateContainer), RunContainerError (StartContainer) and
PostStartHookError (the hook failed; the container is killed). On success the Created and Started events
are recorded and the ``/var/log/containers/<pod>_<ns>_<container>-<id>.log`` symlink points at the CRI
log file. Upstream: pkg/kubelet/kuberuntime/kuberuntime_container.go (startContainer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kybernetes.kubelet import containerref, env, hosts, images, lifecycle, resources, sandbox
from kybernetes.kubelet.context import KubeletContext
from kybernetes.kubelet.podstate import (
    CONTAINER_HASH_ANNOTATION,
    CONTAINER_IMAGE_ANNOTATION,
    TERMINATION_MESSAGE_PATH_ANNOTATION,
    TERMINATION_MESSAGE_POLICY_ANNOTATION,
)
from kybernetes.runtime import criconfig, errors
from kybernetes.runtime.images import normalize
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["StartError", "container_hash", "log_symlink_path", "start_container"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_PROPAGATION = {"HostToContainer": api.PROPAGATION_HOST_TO_CONTAINER,
                "Bidirectional": api.PROPAGATION_BIDIRECTIONAL}


class StartError(Exception):
    """The container could not be started; ``reason`` becomes its waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SandboxRef:
    """The sandbox a container goes into."""

    id: str
    config: api.PodSandboxConfig
    pod_ips: tuple[str, ...]


def container_hash(container: Obj) -> str:
    """A stable hash of the container spec (resources excluded); a change means "restart it"."""
    data = {k: v for k, v in container.items() if k != "resources"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


def log_symlink_path(root: Path, pod_name: str, namespace: str, container: str, container_id: str) -> Path:
    """``<root>/<pod>_<ns>_<container>-<id>.log`` (the name cut to fit a file name)."""
    name = f"{pod_name}_{namespace}_{container}-{container_id}"
    return root / (name[:251] + ".log")


def _security(pod: Obj, ctr: Obj) -> dict[str, Any]:
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = ctr.get("securityContext") or {}
    caps = csc.get("capabilities") or {}
    groups = [int(g) for g in psc.get("supplementalGroups") or []]
    if psc.get("fsGroup") is not None:
        groups.append(int(psc["fsGroup"]))
    user = csc.get("runAsUser", psc.get("runAsUser"))
    return {"run_as_user": user, "run_as_group": csc.get("runAsGroup", psc.get("runAsGroup")),
            "supplemental_groups": groups, "readonly_rootfs": bool(csc.get("readOnlyRootFilesystem")),
            "privileged": bool(csc.get("privileged")), "add_capabilities": list(caps.get("add") or []),
            "drop_capabilities": list(caps.get("drop") or []),
            "no_new_privs": csc.get("allowPrivilegeEscalation") is False}


async def _mounts(kc: KubeletContext, pod: Obj, ctr: Obj, ref: SandboxRef, envs: dict[str, str]) -> list[criconfig.Mount]:
    uid = pod["metadata"]["uid"]
    pod_dir = kc.cfg.pod_dir(uid)
    out: list[criconfig.Mount] = []
    mounts_hosts = True
    for vm in ctr.get("volumeMounts") or []:
        mounts_hosts = mounts_hosts and vm.get("mountPath") != hosts.ETC_HOSTS
        try:
            host = kc.volumes.host_path(pod, vm.get("name", ""))
        except Exception as e:
            raise StartError("CreateContainerConfigError", str(e)) from None
        sub = vm.get("subPath") or (env.expand(vm["subPathExpr"], envs) if vm.get("subPathExpr") else "")
        if sub:
            if PurePosixPath(sub).is_absolute() or ".." in PurePosixPath(sub).parts:
                raise StartError("CreateContainerConfigError", f"error SubPath `{sub}` must not be an absolute path")
            base = host
            host = host / sub
            if not await asyncio.to_thread(host.exists):
                mode = (await asyncio.to_thread(base.stat)).st_mode & 0o7777
                await asyncio.to_thread(host.mkdir, mode, True, True)
        out.append(criconfig.Mount(container_path=vm.get("mountPath", ""), host_path=str(host),
                                   readonly=bool(vm.get("readOnly")) or kc.volumes.read_only(pod, vm.get("name", "")),
                                   propagation=_PROPAGATION.get(vm.get("mountPropagation") or "", api.PROPAGATION_PRIVATE)))
    spec = pod.get("spec") or {}
    if mounts_hosts and (ref.pod_ips or spec.get("hostNetwork")):
        hostname, domain = sandbox.hostname_and_domain(pod, kc.cfg.cluster_domain)
        path = await hosts.ensure_hosts_file(pod, pod_dir, list(ref.pod_ips), hostname, domain,
                                             kc.cfg.host_hosts_file)
        out.append(criconfig.Mount(container_path=hosts.ETC_HOSTS, host_path=str(path)))
    term = ctr.get("terminationMessagePath")
    if term:
        tdir = pod_dir / "containers" / ctr.get("name", "")
        tfile = tdir / secrets.token_hex(4)
        await asyncio.to_thread(tdir.mkdir, 0o750, True, True)
        await asyncio.to_thread(tfile.touch, 0o666)
        await asyncio.to_thread(os.chmod, tfile, 0o666)
        out.append(criconfig.Mount(container_path=term, host_path=str(tfile)))
    return out


async def _link_log(kc: KubeletContext, pod: Obj, name: str, container_id: str, log_file: str) -> None:
    md = pod["metadata"]
    link = log_symlink_path(kc.cfg.containers_log_dir, md["name"], md.get("namespace") or "default", name,
                            container_id)

    def make() -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(log_file)

    try:
        await asyncio.to_thread(make)
    except OSError as e:
        log.warning("cannot create log symlink %s: %s", link, e)


async def start_container(kc: KubeletContext, pod: Obj, ctr: Obj, ref: SandboxRef, restart_count: int) -> str:
    """Pull, create and start ``ctr`` as attempt ``restart_count``; returns its ID or raises :class:`StartError`."""
    name = ctr.get("name", "")
    where = containerref.field_path(pod, name)

    def rec(type_: str, reason: str, message: str) -> None:
        kc.record(pod, type_, reason, message, where)

    try:
        image_ref = await kc.images.ensure(pod, ctr, rec, ref.config)
    except images.ImageError as e:
        rec("Warning", "Failed", f"Error: {e.reason}")
        raise StartError(e.reason, e.message) from None
    host_ip = kc.cfg.node_ip
    try:
        envs = await env.container_env(pod, ctr, kc.objects, services=kc.services, host_ip=host_ip,
                                       pod_ips=list(ref.pod_ips), allocatable=kc.allocatable)
    except env.EnvError as e:
        rec("Warning", "Failed", f"Error: {e}")
        raise StartError("CreateContainerConfigError", str(e)) from None
    env_map = dict(envs)
    mounts = await _mounts(kc, pod, ctr, ref, env_map)
    command = [env.expand(c, env_map) for c in ctr.get("command") or []]
    args = [env.expand(a, env_map) for a in ctr.get("args") or []]
    qos = resources.qos_class(pod.get("spec") or {})
    res = resources.container_resources(ctr, qos, memory_capacity=kc.memory_capacity,
                                        min_oom_score_adj=kc.cfg.min_oom_score_adj)
    annotations = {CONTAINER_HASH_ANNOTATION: container_hash(ctr),
                   CONTAINER_IMAGE_ANNOTATION: normalize(ctr.get("image", ""))}
    if ctr.get("terminationMessagePath"):
        annotations[TERMINATION_MESSAGE_PATH_ANNOTATION] = ctr["terminationMessagePath"]
        annotations[TERMINATION_MESSAGE_POLICY_ANNOTATION] = ctr.get("terminationMessagePolicy") or "File"
    config = criconfig.container_config(
        name=name, image=image_ref, user_image=ctr.get("image", ""), sandbox=ref.config,
        restart_count=restart_count, command=command, args=args, working_dir=ctr.get("workingDir") or "",
        env=envs, mounts=mounts, annotations=annotations, resources=res, stdin=bool(ctr.get("stdin")),
        stdin_once=bool(ctr.get("stdinOnce")), tty=bool(ctr.get("tty")), **_security(pod, ctr))
    try:
        container_id = await kc.runtime.create_container(ref.id, config, ref.config)
    except errors.CRIError as e:
        rec("Warning", "Failed", f"Error: {e.details}")
        raise StartError("CreateContainerError", e.details) from None
    rec("Normal", "Created", f"Created container: {name}")
    await _link_log(kc, pod, name, container_id,
                    str(Path(ref.config.log_directory) / criconfig.container_log_path(name, restart_count)))
    try:
        await kc.runtime.start_container(container_id)
    except errors.CRIError as e:
        rec("Warning", "Failed", f"Error: {e.details}")
        raise StartError("RunContainerError", e.details) from None
    rec("Normal", "Started", f"Started container {name}")
    post_start = (ctr.get("lifecycle") or {}).get("postStart")
    if post_start:
        failure = await lifecycle.run_hook(post_start, runtime=kc.runtime, pod=pod, container=ctr,
                                           container_id=container_id, pod_ip=ref.pod_ips[0] if ref.pod_ips else "",
                                           seconds=lifecycle.grace_period(pod))
        if failure:
            rec("Warning", "FailedPostStartHook", failure)
            await lifecycle.kill_container(kc.runtime, kc.record, pod, ctr, container_id, name=name, running=True,
                                           grace=lifecycle.grace_period(pod), message="FailedPostStartHook")
            raise StartError("PostStartHookError", failure)
    return container_id

"""Pod volumes on the node: set up before the containers start, refreshed while the pod runs, torn down
after it ends.

Role: the pod worker calls :meth:`VolumeManager.setup` at every sync (idempotent: mounts once, rewrites
configMap/secret/downwardAPI/projected contents only when they changed or the refresh period passed),
asks :meth:`VolumeManager.host_path` where to bind-mount a volume into a container, and calls
:meth:`VolumeManager.teardown` when the pod is finished. Each volume lives at
``<pods-dir>/<uid>/volumes/kubernetes.io~<plugin>/<name>`` (hostPath volumes are the host path itself;
a persistentVolumeClaim is the directory of the PersistentVolume it is bound to, which must be a
hostPath or ``local`` volume); emptyDir ``medium: Memory``, secret, downwardAPI and projected volumes
are tmpfs mounts. File payloads go
through :mod:`.atomicwriter`; service-account tokens come from the TokenRequest API via
:class:`TokenSource`. A failure raises :class:`VolumeError` carrying the upstream FailedMount message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kybernetes.kubelet import atomicwriter, env
from kybernetes.kubelet.atomicwriter import FileProjection

__all__ = ["PLUGIN_DIRS", "ClaimSource", "TokenSource", "VolumeError", "VolumeManager", "is_mountpoint"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
_TMPFS_KINDS = ("secret", "downwardAPI", "projected")
DEFAULT_MODE = 0o644
TOKEN_MAX_AGE = 24 * 3600


class VolumeError(Exception):
    """A volume could not be set up; ``str()`` is the FailedMount event message."""


class TokenSource(Protocol):
    """Issues service-account tokens (``POST serviceaccounts/<sa>/token``); returns (token, expiry epoch)."""

    async def token(self, namespace: str, service_account: str, *, audiences: list[str], expiration: int,
                    pod_name: str, pod_uid: str) -> tuple[str, float]: ...


class ClaimSource(Protocol):
    """Reads PersistentVolumeClaims and PersistentVolumes; None when the object does not exist."""

    async def pvc(self, namespace: str, name: str) -> Obj | None: ...

    async def pv(self, name: str) -> Obj | None: ...


def is_mountpoint(path: Path) -> bool:
    """Whether ``path`` is a mount point in this mount namespace (from /proc/self/mountinfo)."""
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split()[4].replace("\\040", " ") == target for line in f)


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {(err or out).decode(errors='replace').strip()}")


@dataclass
class _Token:
    data: bytes
    issued: float
    expires: float


class VolumeManager:
    """Volumes of all pods on this node."""

    def __init__(self, pods_dir: Path, objects: env.ObjectSource, tokens: TokenSource, *,
                 refresh_period: float = 60.0, host_ip: str = "", allocatable: Mapping[str, str] | None = None,
                 memory_capacity: int = 0, claims: ClaimSource | None = None) -> None:
        self.pods_dir = pods_dir
        self.claims = claims
        self.objects = objects
        self.tokens = tokens
        self.refresh_period = refresh_period
        self.host_ip = host_ip
        self.allocatable = dict(allocatable or {})
        self.memory_capacity = memory_capacity
        self._refreshed: dict[tuple[str, str], float] = {}
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._persistent: dict[tuple[str, str], tuple[Path, bool]] = {}  # (uid, volume) → (directory, read-only)

    # ---- paths -------------------------------------------------------------------------------------

    def volume_dir(self, uid: str, volume: Obj) -> Path:
        kind = _kind(volume)
        return self.pods_dir / uid / "volumes" / PLUGIN_DIRS.get(kind, f"kubernetes.io~{kind}") / str(volume["name"])

    def host_path(self, pod: Obj, volume_name: str) -> Path:
        """Where volume ``volume_name`` of ``pod`` is on the node."""
        uid = str(pod["metadata"]["uid"])
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            if vol.get("name") == volume_name:
                if "hostPath" in vol:
                    return Path(str(vol["hostPath"].get("path", "/")))
                if "persistentVolumeClaim" in vol:
                    found = self._persistent.get((uid, volume_name))
                    if found is None:
                        raise VolumeError(f'volume "{volume_name}" is not mounted yet')
                    return found[0]
                return self.volume_dir(str(uid), vol)
        raise VolumeError(f'cannot find volume "{volume_name}" to mount into container')

    def read_only(self, pod: Obj, volume_name: str) -> bool:
        """Whether the volume itself is read-only for every container (``persistentVolumeClaim.readOnly``)."""
        found = self._persistent.get((str(pod["metadata"]["uid"]), volume_name))
        return found is not None and found[1]

    # ---- setup ------------------------------------------------------------------------------------

    async def setup(self, pod: Obj, pod_ips: list[str], force: bool = False) -> None:
        """Set up (or refresh) every volume of ``pod``. Raises :class:`VolumeError` on the first failure."""
        uid = pod["metadata"]["uid"]
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            try:
                await self._setup_one(pod, uid, vol, pod_ips, force)
            except VolumeError as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{vol.get("name")}" : {e}') from None
            except OSError as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{vol.get("name")}" : {e}') from None

    async def _setup_one(self, pod: Obj, uid: str, vol: Obj, pod_ips: list[str], force: bool) -> None:
        kind = _kind(vol)
        if kind == "hostPath":
            await asyncio.to_thread(_check_host_path, vol["hostPath"])
            return
        if kind == "persistentVolumeClaim":
            if (uid, vol["name"]) in self._persistent:
                return  # a bound claim keeps its volume: resolved once per pod
            ns = pod["metadata"].get("namespace") or "default"
            path, read_only = await self._claim_directory(ns, vol["persistentVolumeClaim"] or {})
            self._persistent[(uid, vol["name"])] = (path, read_only)
            return
        if kind not in PLUGIN_DIRS:
            raise VolumeError(f"volume type {kind} is not supported by this kubelet")
        path = self.volume_dir(uid, vol)
        fresh = not await asyncio.to_thread(path.exists)
        await asyncio.to_thread(path.mkdir, 0o750, True, True)
        if kind == "emptyDir":
            spec = vol["emptyDir"] or {}
            if spec.get("medium") == "Memory":
                await self._ensure_tmpfs(path, spec.get("sizeLimit"))
            elif fresh:
                await asyncio.to_thread(path.chmod, 0o777)
            return
        if kind in _TMPFS_KINDS:
            await self._ensure_tmpfs(path, None)
        key = (uid, vol["name"])
        now = time.monotonic()
        last = self._refreshed.get(key)
        if not force and last is not None and now - last < self.refresh_period and not self._token_due(uid, vol):
            return
        payload = await self._payload(pod, vol, kind, pod_ips)
        changed = await asyncio.to_thread(atomicwriter.write_payload, path, payload)
        self._refreshed[key] = now
        if changed:
            log.debug("wrote volume %s of pod %s (%d files)", vol["name"], uid, len(payload))

    async def _claim_directory(self, namespace: str, src: Obj) -> tuple[Path, bool]:
        """The directory of the volume bound to the claim, made ready like the hostPath/local plugins do."""
        name = src.get("claimName", "")
        if self.claims is None:
            raise VolumeError("volume type persistentVolumeClaim is not supported by this kubelet")
        claim = await self.claims.pvc(namespace, name)
        if claim is None:
            raise VolumeError(f"error processing PVC {namespace}/{name}: failed to fetch PVC from API server: "
                              f'persistentvolumeclaims "{name}" not found')
        volume_name = (claim.get("spec") or {}).get("volumeName") or ""
        phase = (claim.get("status") or {}).get("phase") or ""
        if not volume_name or phase != "Bound":
            raise VolumeError(f"error processing PVC {namespace}/{name}: PVC is not bound")
        volume = await self.claims.pv(volume_name)
        if volume is None:
            raise VolumeError(f'error processing PVC {namespace}/{name}: failed to fetch PV {volume_name} from API '
                              f'server: persistentvolumes "{volume_name}" not found')
        spec = volume.get("spec") or {}
        read_only = bool(src.get("readOnly"))
        if isinstance(spec.get("hostPath"), dict):
            await asyncio.to_thread(_check_host_path, spec["hostPath"])
            return Path(str(spec["hostPath"].get("path", "/"))), read_only
        if isinstance(spec.get("local"), dict):
            path = Path(str(spec["local"].get("path", "")))
            if not await asyncio.to_thread(path.exists):
                raise VolumeError(f'path "{path}" does not exist')
            return path, read_only
        kinds = [k for k in spec if isinstance(spec.get(k), dict) and k not in ("capacity", "claimRef", "nodeAffinity")]
        raise VolumeError(f"volume type {kinds[0] if kinds else 'unknown'} of PersistentVolume {volume_name} is not "
                          "supported by this kubelet")

    async def _ensure_tmpfs(self, path: Path, size: Any) -> None:
        if await asyncio.to_thread(is_mountpoint, path):
            return
        opts = "mode=0755"
        if size:
            from kybernetes.kubelet import resources

            opts += f",size={resources.value(size)}"
        await _run("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path))

    # ---- payloads -----------------------------------------------------------------------------------

    async def _payload(self, pod: Obj, vol: Obj, kind: str, pod_ips: list[str]) -> dict[str, FileProjection]:
        src = vol[kind] or {}
        mode = int(src.get("defaultMode", DEFAULT_MODE))
        if kind == "configMap":
            return await self._object_files(pod, src, mode, secret=False)
        if kind == "secret":
            return await self._object_files(pod, {**src, "name": src.get("secretName", "")}, mode, secret=True)
        if kind == "downwardAPI":
            return self._downward_files(pod, src.get("items") or [], mode, pod_ips)
        out: dict[str, FileProjection] = {}
        for source in src.get("sources") or []:
            if "configMap" in source:
                out.update(await self._object_files(pod, source["configMap"], mode, secret=False))
            elif "secret" in source:
                out.update(await self._object_files(pod, source["secret"], mode, secret=True))
            elif "downwardAPI" in source:
                out.update(self._downward_files(pod, source["downwardAPI"].get("items") or [], mode, pod_ips))
            elif "serviceAccountToken" in source:
                out.update(await self._token_file(pod, vol["name"], source["serviceAccountToken"], mode))
        return out

    async def _object_files(self, pod: Obj, ref: Obj, mode: int, *, secret: bool) -> dict[str, FileProjection]:
        ns = pod["metadata"].get("namespace") or "default"
        name = ref.get("name", "")
        kind = "secret" if secret else "configmap"
        obj = await (self.objects.secret(ns, name) if secret else self.objects.configmap(ns, name))
        if obj is None:
            if ref.get("optional"):
                return {}
            raise VolumeError(f'{kind} "{name}" not found')
        data: dict[str, bytes] = {}
        if secret:
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        else:
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        items = ref.get("items")
        if not items:
            return {k: FileProjection(v, mode) for k, v in data.items()}
        out: dict[str, FileProjection] = {}
        for item in items:
            key = item.get("key", "")
            if key not in data:
                if ref.get("optional"):
                    continue
                raise VolumeError(f"{kind} references non-existent {'secret' if secret else 'config'} key: {key}")
            out[item.get("path") or key] = FileProjection(data[key], int(item.get("mode", mode)))
        return out

    def _downward_files(self, pod: Obj, items: list[Obj], mode: int, pod_ips: list[str]) -> dict[str, FileProjection]:
        out: dict[str, FileProjection] = {}
        containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
        for item in items:
            try:
                if item.get("fieldRef"):
                    value = env.field_value(pod, item["fieldRef"].get("fieldPath", ""), host_ip=self.host_ip,
                                            pod_ips=pod_ips)
                else:
                    ref = item.get("resourceFieldRef") or {}
                    ctr = containers.get(ref.get("containerName")) or {}
                    value = env.resource_value(ctr, ref.get("resource", ""), ref.get("divisor"), self.allocatable)
            except env.EnvError as e:
                raise VolumeError(str(e)) from None
            out[item.get("path", "")] = FileProjection(value.encode(), int(item.get("mode", mode)))
        return out

    def _token_due(self, uid: str, vol: Obj) -> bool:
        now = time.time()
        for (tuid, tvol, _path), tok in self._tokens.items():
            if tuid == uid and tvol == vol.get("name"):
                if now > tok.issued + 0.8 * (tok.expires - tok.issued) or now - tok.issued > TOKEN_MAX_AGE:
                    return True
        return False

    async def _token_file(self, pod: Obj, vol_name: str, src: Obj, mode: int) -> dict[str, FileProjection]:
        md, spec = pod["metadata"], pod.get("spec") or {}
        path = src.get("path", "token")
        key = (md["uid"], vol_name, path)
        tok = self._tokens.get(key)
        now = time.time()
        if tok is None or now > tok.issued + 0.8 * (tok.expires - tok.issued) or now - tok.issued > TOKEN_MAX_AGE:
            audiences = [src["audience"]] if src.get("audience") else []
            try:
                token, expires = await self.tokens.token(
                    md.get("namespace") or "default", spec.get("serviceAccountName") or "default",
                    audiences=audiences, expiration=int(src.get("expirationSeconds") or 3600),
                    pod_name=md.get("name", ""), pod_uid=md["uid"])
            except Exception as e:  # the API's message is the mount failure users see
                raise VolumeError(f"failed to fetch token: {e}") from None
            tok = self._tokens[key] = _Token(token.encode(), now, expires)
        return {path: FileProjection(tok.data, mode)}

    # ---- teardown -----------------------------------------------------------------------------------

    async def teardown(self, uid: str) -> None:
        """Unmount and delete every volume directory of pod ``uid`` (hostPath volumes are left alone)."""
        for pkey in [k for k in self._persistent if k[0] == uid]:
            del self._persistent[pkey]
        root = self.pods_dir / uid / "volumes"
        if not await asyncio.to_thread(root.exists):
            return
        for plugin in await asyncio.to_thread(lambda: [p for p in root.iterdir() if p.is_dir()]):
            for vol in await asyncio.to_thread(lambda p=plugin: list(p.iterdir())):  # type: ignore[misc]
                if await asyncio.to_thread(is_mountpoint, vol):
                    await _run("umount", str(vol))
        await asyncio.to_thread(_rmtree, root)
        for key in [k for k in self._refreshed if k[0] == uid]:
            del self._refreshed[key]
        for tkey in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[tkey]


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _kind(volume: Obj) -> str:
    for key in volume:
        if key != "name":
            return key
    return "emptyDir"


_HOST_PATH_CHECKS = {
    "Directory": (stat.S_ISDIR, "is not a directory"), "File": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"), "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


def _check_host_path(src: Obj) -> None:
    """hostPath ``type`` checks (DirectoryOrCreate/FileOrCreate create what is missing)."""
    path, kind = Path(src.get("path", "")), src.get("type") or ""
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    if kind == "FileOrCreate":
        if not path.exists():
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.touch(mode=0o644)
        return
    check = _HOST_PATH_CHECKS.get(kind)
    if check is None:
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VolumeError(f"hostPath type check failed: {path} {check[1]}") from None
    if not check[0](st.st_mode):
        raise VolumeError(f"hostPath type check failed: {path} {check[1]}")

"""Deterministic OCI image archives, written with the standard library only.

Role: turn a list of filesystem entries into an *oci-archive* (an OCI image layout packed in a tar) that
``ctr images import``, skopeo and registries accept. Used by :mod:`kybernetes.runtime.images` to build the
offline images (pause, busybox, nginx) from files on the host; the result is imported into containerd next.

Determinism: the same entries and config always give byte-identical archives (and so the same digests):
entries are sorted, owned by 0:0 unless said otherwise, dated 1970-01-01, gzip headers carry no name or time,
and every JSON document is serialised with sorted keys and compact separators.

Everything here is synchronous and CPU-bound; callers on the event loop run it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "MEDIA_CONFIG",
    "MEDIA_INDEX",
    "MEDIA_LAYER_GZIP",
    "MEDIA_MANIFEST",
    "ArchiveInfo",
    "ImageConfig",
    "Layer",
    "oci_architecture",
    "read_archive_names",
    "write_archive",
]

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

#: containerd's import takes the full image name from this index annotation.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
#: OCI's own reference annotation: tools such as skopeo read the tag from it.
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

_EPOCH = "1970-01-01T00:00:00Z"
_GZIP_LEVEL = 6

EntryKind = Literal["dir", "file", "symlink"]


@dataclass(frozen=True)
class _Entry:
    path: str  # relative, no leading slash
    kind: EntryKind
    mode: int
    uid: int = 0
    gid: int = 0
    data: bytes | None = None
    source: Path | None = None
    target: str = ""


def _norm(path: str) -> str:
    p = PurePosixPath("/" + path.lstrip("/"))
    parts = [x for x in p.parts[1:] if x not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"invalid image path {path!r}")
    return "/".join(parts)


class Layer:
    """One filesystem layer under construction.

    Add entries with absolute in-image paths (``/bin/sh``); missing parent directories are created with mode
    0755. A later entry for the same path replaces an earlier one.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and _norm(path) in self._entries

    def add_dir(self, path: str, mode: int = 0o755, *, uid: int = 0, gid: int = 0) -> None:
        """A directory with ``mode`` (e.g. 0o1777 for /tmp)."""
        p = _norm(path)
        self._entries[p] = _Entry(p, "dir", mode, uid, gid)

    def add_file(self, path: str, data: bytes, mode: int = 0o644, *, uid: int = 0, gid: int = 0) -> None:
        """A regular file with the given contents."""
        p = _norm(path)
        self._entries[p] = _Entry(p, "file", mode, uid, gid, data=data)

    def add_host_file(self, path: str, source: Path | str, mode: int | None = None) -> None:
        """A regular file copied from the host (symlinks followed); ``mode`` defaults to the source's."""
        src = Path(source).resolve()
        st = src.stat()
        p = _norm(path)
        self._entries[p] = _Entry(p, "file", mode if mode is not None else st.st_mode & 0o7777, source=src)

    def add_symlink(self, path: str, target: str) -> None:
        """A symbolic link pointing at ``target`` (kept verbatim, absolute or relative)."""
        p = _norm(path)
        self._entries[p] = _Entry(p, "symlink", 0o777, target=target)

    def entries(self) -> list[_Entry]:
        """All entries including implicit parent directories, sorted by path."""
        out = dict(self._entries)
        for p in list(out):
            parts = p.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in out:
                    out[parent] = _Entry(parent, "dir", 0o755)
                elif out[parent].kind != "dir":
                    raise ValueError(f"{parent!r} is used as a directory but added as a {out[parent].kind}")
        return [out[k] for k in sorted(out)]

    def tar(self) -> bytes:
        """The layer as an uncompressed, deterministic PAX tar."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for e in self.entries():
                info = tarfile.TarInfo(e.path)
                info.mode = e.mode
                info.uid, info.gid = e.uid, e.gid
                info.uname = info.gname = ""
                info.mtime = 0
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tf.addfile(info)
                elif e.kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = e.target
                    tf.addfile(info)
                else:
                    data = e.data if e.data is not None else _read(e.source)
                    info.type = tarfile.REGTYPE
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def _read(source: Path | None) -> bytes:
    assert source is not None
    return source.read_bytes()


@dataclass(frozen=True)
class ImageConfig:
    """The runnable part of an image config (the ``config`` object of the OCI image config)."""

    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    user: str = ""
    working_dir: str = ""
    exposed_ports: Sequence[str] = ()  # "80/tcp"
    stop_signal: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.env:
            out["Env"] = list(self.env)
        if self.user:
            out["User"] = self.user
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.labels:
            out["Labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class ArchiveInfo:
    """What :func:`write_archive` wrote: digests are ``sha256:<hex>``."""

    path: Path
    names: tuple[str, ...]
    manifest_digest: str
    config_digest: str  # the image ID CRI reports
    layer_digests: tuple[str, ...]
    diff_ids: tuple[str, ...]
    size: int


def oci_architecture(machine: str | None = None) -> str:
    """The OCI/Go architecture name of this host (``x86_64`` → ``amd64``)."""
    m = (machine or platform.machine()).lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tag_of(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    if "@" in last:
        return ""
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def write_archive(out: Path | str, layers: Sequence[Layer], config: ImageConfig, names: Iterable[str],
                  *, architecture: str | None = None, created_by: str = "kybernetes") -> ArchiveInfo:
    """Write an oci-archive of one image with ``layers`` (lowest first), tagged with every name in ``names``.

    Names should be fully qualified (``docker.io/library/busybox:latest``): containerd stores exactly the
    name it finds in the index. The index gets one manifest descriptor per name, all pointing at the same
    manifest. The file is written next to ``out`` and renamed into place.
    """
    out = Path(out)
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError("an image archive needs at least one name")
    arch = architecture or oci_architecture()
    blobs: dict[str, bytes] = {}
    layer_descs: list[dict[str, Any]] = []
    diff_ids: list[str] = []
    for layer in layers:
        raw = layer.tar()
        gz = gzip.compress(raw, compresslevel=_GZIP_LEVEL, mtime=0)
        d = _digest(gz)
        blobs[d] = gz
        diff_ids.append(_digest(raw))
        layer_descs.append({"mediaType": MEDIA_LAYER_GZIP, "digest": d, "size": len(gz)})
    image_config = {
        "architecture": arch,
        "os": "linux",
        "created": _EPOCH,
        "config": config.to_json(),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": _EPOCH, "created_by": created_by} for _ in layers],
    }
    config_bytes = _canonical(image_config)
    config_digest = _digest(config_bytes)
    blobs[config_digest] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": layer_descs,
    }
    manifest_bytes = _canonical(manifest)
    manifest_digest = _digest(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {ANNOTATION_IMAGE_NAME: n, ANNOTATION_REF_NAME: _tag_of(n)},
            }
            for n in names
        ],
    }
    members: list[tuple[str, bytes | None]] = [
        ("blobs", None),
        ("blobs/sha256", None),
        *((f"blobs/sha256/{d.split(':', 1)[1]}", blobs[d]) for d in sorted(blobs)),
        ("index.json", _canonical(index)),
        ("oci-layout", _canonical({"imageLayoutVersion": "1.0.0"})),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.mtime = 0
                info.uname = info.gname = ""
                if data is None:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(info)
                else:
                    info.mode, info.size = 0o644, len(data)
                    tf.addfile(info, io.BytesIO(data))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ArchiveInfo(path=out, names=names, manifest_digest=manifest_digest, config_digest=config_digest,
                       layer_digests=tuple(ld["digest"] for ld in layer_descs), diff_ids=tuple(diff_ids),
                       size=out.stat().st_size)


def read_archive_names(path: Path | str) -> list[str]:
    """The image names an oci-archive or docker-archive declares (containerd annotation, else RepoTags)."""
    with tarfile.open(path) as tf:
        names: list[str] = []
        try:
            member = tf.extractfile("index.json")
        except KeyError:
            member = None
        if member is not None:
            index = json.load(member)
            for desc in index.get("manifests", []):
                ann = desc.get("annotations") or {}
                if ANNOTATION_IMAGE_NAME in ann:
                    names.append(ann[ANNOTATION_IMAGE_NAME])
        try:
            member = tf.extractfile("manifest.json")
        except KeyError:
            member = None
        if member is not None:
            for item in json.load(member):
                names.extend(item.get("RepoTags") or [])
        return list(dict.fromkeys(names))

"""A test-only OCI distribution registry on 127.0.0.1 (plain HTTP), serving images made from the node's
offline busybox archive plus a layer of our own — so a container that prints that layer's file proves
its image came through the registry.

Implements the read side of the distribution API that containerd uses: ``GET /v2/``, ``HEAD``/``GET``
of ``/v2/<name>/manifests/<tag or digest>`` and ``/v2/<name>/blobs/<digest>``; unknown ones answer
404 with the registry's error codes. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Registry:
    def __init__(self, port: int) -> None:
        self.port = port
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], str] = {}  # (repository, tag) → manifest digest
        self.requests: list[tuple[str, str]] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                registry.requests.append((self.command, self.path))
                status, headers, data = registry.answer(self.path)
                self.send_response(status)
                for k, v in {"Docker-Distribution-API-Version": "registry/2.0", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-registry", daemon=True)

    def __enter__(self) -> Registry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path in ("/v2/", "/v2"):
            return 200, {"Content-Type": "application/json"}, b"{}"
        repo, sep, ref = path.removeprefix("/v2/").rpartition("/manifests/")
        if sep:
            digest = ref if ref.startswith("sha256:") else self.manifests.get((repo, ref), "")
            if digest in self.blobs:
                return 200, {"Content-Type": MANIFEST, "Docker-Content-Digest": digest}, self.blobs[digest]
            return self._error("MANIFEST_UNKNOWN", "manifest unknown")
        repo, sep, digest = path.removeprefix("/v2/").rpartition("/blobs/")
        if sep and digest in self.blobs:
            return 200, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}, \
                self.blobs[digest]
        return self._error("BLOB_UNKNOWN", "blob unknown to registry")

    @staticmethod
    def _error(code: str, message: str) -> tuple[int, dict[str, str], bytes]:
        return 404, {"Content-Type": "application/json"}, json.dumps({"errors": [{"code": code,
                                                                                  "message": message}]}).encode()

    def push_from_archive(self, archive: Path, repository: str, tag: str, files: dict[str, bytes]) -> str:
        """Serve ``repository:tag``: the archive's image (an oci-archive) with one more layer holding
        ``files``. Returns the manifest digest."""
        with tarfile.open(archive) as tf:
            def blob(digest: str) -> bytes:
                member = tf.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}")
                assert member is not None
                return member.read()

            index_file = tf.extractfile("index.json")
            assert index_file is not None
            index = json.load(index_file)
            base = json.loads(blob(index["manifests"][0]["digest"]))
            config = json.loads(blob(base["config"]["digest"]))
            for desc in base["layers"]:
                self.blobs[desc["digest"]] = blob(desc["digest"])
        raw = _layer(files)
        layer = gzip.compress(raw, mtime=0)
        self.blobs[_digest(layer)] = layer
        config["rootfs"]["diff_ids"].append(_digest(raw))
        config.setdefault("history", []).append({"created_by": "kybernetes test registry"})
        config_bytes = json.dumps(config).encode()
        self.blobs[_digest(config_bytes)] = config_bytes
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": {**base["config"], "digest": _digest(config_bytes), "size": len(config_bytes)},
                    "layers": [*base["layers"], {"mediaType": LAYER, "digest": _digest(layer), "size": len(layer)}]}
        manifest_bytes = json.dumps(manifest).encode()
        digest = _digest(manifest_bytes)
        self.blobs[digest] = manifest_bytes
        self.manifests[(repository, tag)] = digest
        return digest

"""Offline images: built from the host's Debian packages, imported into containerd's ``k8s.io`` namespace.

Role: a fresh node has no registry access, yet pods name ``busybox``, ``k8s.gcr.io/busybox``, ``nginx`` or
``nginx:1.7.9``, and every pod needs the pause (sandbox) image. At agent start the kubelet calls
:func:`ensure_builtin_images`, which builds (once, cached under ``<data-dir>/agent/builtin-images``) and
imports any missing image of:

- **pause** (``localhost/kybernetes/pause:3.10``): Debian's static ``catatonit`` in pause mode (``-P``), or,
  if catatonit is not installed but gcc is, a tiny pause program compiled with ``gcc -static``;
- **busybox**: ``busybox-static`` with all its applet links and minimal ``/etc``;
- **nginx**: ``/usr/sbin/nginx`` from ``nginx-light`` (or ``nginx``) with the shared libraries ``ldd``
  lists, its own config serving the "Welcome to nginx!" page on port 80, logs to stdout/stderr, and
  busybox for ``sh``. Every ``nginx`` tag the examples use is the *same* local image (Debian's nginx
  version, whatever the tag says).

:func:`import_archive` (used by ``kyb images import``) and :func:`import_directory` (tarballs dropped into
``<data-dir>/agent/images``, imported at every start like k3s) load OCI or docker-archive tarballs with
``ctr images import``. Archives are written by :mod:`.oci`.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import shutil
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kybernetes.runtime import containerd, cri, errors, oci

__all__ = [
    "BUILTIN",
    "BUSYBOX_NAMES",
    "NGINX_NAMES",
    "PAUSE_IMAGE",
    "BuiltinImage",
    "airgap_dir",
    "build_archive",
    "builtin_cache_dir",
    "ensure_builtin_images",
    "import_archive",
    "import_directory",
    "normalize",
]

log = logging.getLogger(__name__)

PAUSE_IMAGE = containerd.PAUSE_IMAGE
#: ``busybox``, ``busybox:latest``, ``docker.io/library/busybox:latest`` all normalise to the first name;
#: ``k8s.gcr.io/busybox`` and ``k8s.gcr.io/busybox:latest`` to the second.
BUSYBOX_NAMES = ("docker.io/library/busybox:latest", "k8s.gcr.io/busybox:latest")
NGINX_TAGS = ("latest", "1.7.9", "1.25", "1.26", "1.27", "1.28")
NGINX_NAMES = tuple(f"docker.io/library/nginx:{t}" for t in NGINX_TAGS)
K8S_NAMESPACE = "k8s.io"
#: Debian's catatonit (static); the pause image uses it in pause mode when present.
CATATONIT = Path("/usr/bin/catatonit")
_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def builtin_cache_dir(data_dir: Path) -> Path:
    """Where built archives are cached: ``<data-dir>/agent/builtin-images``."""
    return Path(data_dir) / "agent" / "builtin-images"


def airgap_dir(data_dir: Path) -> Path:
    """Drop-in directory for image tarballs imported at agent start: ``<data-dir>/agent/images``."""
    return Path(data_dir) / "agent" / "images"


def normalize(ref: str) -> str:
    """A fully qualified image reference, as containerd stores it: ``nginx`` →
    ``docker.io/library/nginx:latest``, ``k8s.gcr.io/busybox`` → ``k8s.gcr.io/busybox:latest``."""
    name, at, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not at and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}{at}{digest}"


# ---- host inspection --------------------------------------------------------------------------------------

def _is_static_elf(path: Path) -> bool:
    """True if ``path`` is an ELF executable without a program interpreter (statically linked)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            return False
        is64, endian = head[4] == 2, "<" if head[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(endian + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
        else:
            phoff, = struct.unpack_from(endian + "I", head, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from(endian + "I", table, i * phentsize)[0] != 3 for i in range(phnum))  # PT_INTERP


async def _output(*argv: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except OSError as e:
        raise errors.ImageBuildError(f"cannot run {argv[0]}: {e}") from e
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise errors.ImageBuildError(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode().strip()}")
    return out.decode()


async def _static_binary(candidates: Sequence[str], package: str) -> Path:
    for c in candidates:
        p = Path(c)
        if await asyncio.to_thread(p.is_file) and await asyncio.to_thread(_is_static_elf, p):
            return p
    raise errors.ImageBuildError(f"no static {candidates[0]} on this host; install the {package} package "
                                 "(scripts/install)")


async def _busybox_applets(busybox: Path) -> list[str]:
    """Applet paths relative to / (``bin/sh``, ``usr/bin/wget``…) that busybox installs links for."""
    out = await _output(str(busybox), "--list-full")
    return sorted({line.strip().lstrip("/") for line in out.splitlines()
                   if line.strip() and line.strip().lstrip("/") != "bin/busybox"})


async def _ldd_closure(binary: Path) -> list[Path]:
    """The shared libraries (and the loader) ``binary`` needs, as the paths ``ldd`` reports."""
    out = await _output("ldd", str(binary))
    libs: list[Path] = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" (", 1)[0].strip()
            if target and target != "not found" and target.startswith("/"):
                libs.append(Path(target))
            elif target == "not found":
                raise errors.ImageBuildError(f"{binary} needs {line.split()[0]}, which ldd cannot find")
        elif line.startswith("/"):
            libs.append(Path(line.split(" (", 1)[0]))
    return libs


# ---- image recipes -------------------------------------------------------------------------------------

_ETC_GROUP_BASE = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\n"
_ETC_PASSWD_BASE = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" \
                   "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\n"
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _base_tree(layer: oci.Layer, *, passwd_extra: str = "", group_extra: str = "") -> None:
    for d, mode in (("/bin", 0o755), ("/dev", 0o755), ("/etc", 0o755), ("/home", 0o755), ("/proc", 0o555),
                    ("/root", 0o700), ("/sys", 0o555), ("/tmp", 0o1777), ("/usr/bin", 0o755),
                    ("/usr/sbin", 0o755), ("/var/tmp", 0o1777), ("/run", 0o755)):
        layer.add_dir(d, mode)
    layer.add_file("/etc/passwd", (_ETC_PASSWD_BASE + passwd_extra +
                                   "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").encode())
    layer.add_file("/etc/group", (_ETC_GROUP_BASE + group_extra + "nogroup:x:65534:\n").encode())
    layer.add_file("/etc/hosts", _HOSTS.encode())
    layer.add_file("/etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\n")


async def _add_busybox(layer: oci.Layer) -> None:
    busybox = await _static_binary(["/bin/busybox", "/usr/bin/busybox"], "busybox-static")
    layer.add_host_file("/bin/busybox", busybox, 0o755)
    for applet in await _busybox_applets(busybox):
        if applet not in layer:
            layer.add_symlink("/" + applet, "/bin/busybox")


async def _recipe_busybox() -> tuple[list[oci.Layer], oci.ImageConfig]:
    layer = oci.Layer()
    _base_tree(layer, passwd_extra="www-data:x:33:33:www-data:/var/www:/bin/false\n",
               group_extra="www-data:x:33:\n")
    layer.add_dir("/var/www")
    await _add_busybox(layer)
    return [layer], oci.ImageConfig(cmd=("sh",), env=(_PATH_ENV,))


# A pause program of our own, used only when catatonit is missing: sleep until a signal, reap orphans.
_PAUSE_C = b"""\
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
    struct sigaction term = {0}, chld = {0};
    term.sa_handler = quit;
    sigaction(SIGTERM, &term, NULL);
    sigaction(SIGINT, &term, NULL);
    chld.sa_handler = reap;
    chld.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &chld, NULL);
    for (;;) pause();
}
"""


async def _recipe_pause() -> tuple[list[oci.Layer], oci.ImageConfig]:
    layer = oci.Layer()
    catatonit = CATATONIT
    if await asyncio.to_thread(catatonit.is_file) and await asyncio.to_thread(_is_static_elf, catatonit):
        # named like the Kubernetes pause image's program: `ps` in a pod that shares its PID namespace
        # shows PID 1 as /pause
        layer.add_host_file("/pause", catatonit, 0o755)
        entrypoint: tuple[str, ...] = ("/pause", "-P")
    elif gcc := shutil.which("gcc"):
        with tempfile.TemporaryDirectory(prefix="kyb-pause-") as tmp:
            src, binary = Path(tmp) / "pause.c", Path(tmp) / "pause"
            await asyncio.to_thread(src.write_bytes, _PAUSE_C)
            await _output(gcc, "-Os", "-static", "-s", "-o", str(binary), str(src))
            layer.add_file("/pause", await asyncio.to_thread(binary.read_bytes), 0o755)
        entrypoint = ("/pause",)
    else:
        raise errors.ImageBuildError("the pause image needs Debian's catatonit package (or gcc with static "
                                     "glibc); install catatonit (scripts/install)")
    return [layer], oci.ImageConfig(entrypoint=entrypoint, env=(_PATH_ENV,), user="65535:65535")


_NGINX_CONF = """\
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
"""

_NGINX_DEFAULT_SITE = """\
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""

_WELCOME = """\
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and working.</p>
<p><em>Served by a Kybernetes offline image.</em></p>
</body>
</html>
"""

_ERROR_PAGE = """\
<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.</p>
</body>
</html>
"""

_NGINX_MIME_MINIMAL = """\
types {
    text/html                html htm shtml;
    text/css                 css;
    text/plain               txt;
    application/javascript   js;
    application/json         json;
    image/png                png;
    image/jpeg               jpeg jpg;
    image/svg+xml            svg svgz;
}
"""


async def _recipe_nginx() -> tuple[list[oci.Layer], oci.ImageConfig]:
    nginx = Path("/usr/sbin/nginx")
    if not await asyncio.to_thread(nginx.is_file):
        raise errors.ImageBuildError("no /usr/sbin/nginx on this host; install the nginx-light package "
                                     "(scripts/install)")
    layer = oci.Layer()
    _base_tree(layer, passwd_extra="www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                   "nginx:x:101:101:nginx user:/nonexistent:/bin/false\n",
               group_extra="www-data:x:33:\nnginx:x:101:\n")
    await _add_busybox(layer)  # sh, ls, cat… for `kubectl exec`
    layer.add_host_file("/usr/sbin/nginx", nginx, 0o755)
    for lib in await _ldd_closure(nginx):
        layer.add_host_file(str(lib), lib, 0o755)
    layer.add_file("/etc/nginx/nginx.conf", _NGINX_CONF.encode())
    layer.add_file("/etc/nginx/conf.d/default.conf", _NGINX_DEFAULT_SITE.encode())
    for name in ("mime.types", "fastcgi_params", "scgi_params", "uwsgi_params"):
        host = Path("/etc/nginx") / name
        if await asyncio.to_thread(host.is_file):
            layer.add_host_file(f"/etc/nginx/{name}", host, 0o644)
    if "/etc/nginx/mime.types" not in layer:
        layer.add_file("/etc/nginx/mime.types", _NGINX_MIME_MINIMAL.encode())
    index = Path("/usr/share/nginx/html/index.html")
    page = await asyncio.to_thread(index.read_bytes) if await asyncio.to_thread(index.is_file) else b""
    layer.add_file("/usr/share/nginx/html/index.html",
                   page if b"Welcome to nginx!" in page else _WELCOME.encode())
    layer.add_file("/usr/share/nginx/html/50x.html", _ERROR_PAGE.encode())
    layer.add_dir("/var/log/nginx")
    layer.add_symlink("/var/log/nginx/access.log", "/dev/stdout")
    layer.add_symlink("/var/log/nginx/error.log", "/dev/stderr")
    layer.add_dir("/var/lib/nginx")
    layer.add_dir("/var/cache/nginx")
    layer.add_dir("/var/www/html")
    config = oci.ImageConfig(cmd=("nginx", "-g", "daemon off;"), env=(_PATH_ENV,), exposed_ports=("80/tcp",),
                             stop_signal="SIGQUIT")
    return [layer], config


@dataclass(frozen=True)
class BuiltinImage:
    """A recipe for one offline image and the names it is imported under."""

    key: str
    names: tuple[str, ...]
    recipe: Callable[[], Awaitable[tuple[list[oci.Layer], oci.ImageConfig]]]
    revision: int = 1  # bump when the recipe changes: cached archives carry it in their file name

    def archive_name(self) -> str:
        return f"{self.key}-r{self.revision}.oci.tar"


BUILTIN: dict[str, BuiltinImage] = {
    "pause": BuiltinImage("pause", (PAUSE_IMAGE,), _recipe_pause, revision=2),
    "busybox": BuiltinImage("busybox", BUSYBOX_NAMES, _recipe_busybox),
    "nginx": BuiltinImage("nginx", NGINX_NAMES, _recipe_nginx),
}


async def build_archive(key: str, cache_dir: Path, *, force: bool = False) -> Path:
    """The archive of built-in image ``key`` in ``cache_dir``, built now unless cached (or ``force``)."""
    image = BUILTIN[key]
    out = Path(cache_dir) / image.archive_name()
    if not force and await asyncio.to_thread(out.is_file):
        return out
    t0 = time.monotonic()
    layers, config = await image.recipe()
    info = await asyncio.to_thread(oci.write_archive, out, layers, config, image.names,
                                   created_by=f"kybernetes builtin image {key}")
    log.info("Built image %s (%s, %d bytes) in %.2fs", key, info.config_digest[:19], info.size,
             time.monotonic() - t0)
    return out


# ---- import --------------------------------------------------------------------------------------------

async def import_archive(socket: Path | str, archive: Path | str, *, ctr: str = "ctr",
                         namespace: str = K8S_NAMESPACE) -> list[str]:
    """``ctr images import`` an OCI or docker-archive tarball (optionally gzip-compressed) into containerd's
    ``k8s.io`` namespace, where CRI sees it; returns the image names imported.

    Only the host platform's content is imported (no ``--all-platforms``): archives of multi-arch images
    (``docker save``, ``skopeo copy``) usually hold one platform's blobs, and ctr 1.6 fails on the others'
    missing content with ``--all-platforms``. ctr cannot read gzip itself, so a compressed archive is
    decompressed on the fly into ctr's standard input.
    """
    archive = Path(archive)
    compressed = await asyncio.to_thread(_is_gzip, archive)
    argv = [ctr, "--address", str(socket).removeprefix("unix://"), "--namespace", namespace,
            "images", "import", "-" if compressed else str(archive)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if compressed else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    except OSError as e:
        raise errors.ImageImportError(f"cannot run {ctr}: {e}; it ships with the containerd package") from e
    feed_error: BaseException | None = None
    if compressed:
        feeder = asyncio.create_task(_feed_gunzipped(archive, proc), name=f"gunzip {archive.name}")
        assert proc.stdout is not None
        out = await proc.stdout.read()
        await proc.wait()
        try:
            await feeder
        except (BrokenPipeError, ConnectionResetError):
            pass  # ctr stopped reading: its exit status and output tell why
        except (OSError, EOFError) as e:
            feed_error = e
    else:
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if feed_error is not None:
        raise errors.ImageImportError(f"cannot decompress {archive}: {feed_error}")
    if proc.returncode != 0:
        raise errors.ImageImportError(f"importing {archive} failed: {text.strip()}")
    names = [line.split()[1] for line in text.splitlines() if line.startswith("unpacking ") and
             len(line.split()) > 1]
    log.info("Imported %s: %s", archive, ", ".join(names) or "(no named images)")
    return names


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


async def _feed_gunzipped(archive: Path, proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    gz = await asyncio.to_thread(gzip.open, archive, "rb")
    try:
        while chunk := await asyncio.to_thread(gz.read, 1 << 20):
            proc.stdin.write(chunk)
            await proc.stdin.drain()
    finally:
        await asyncio.to_thread(gz.close)
        proc.stdin.close()


async def import_directory(socket: Path | str, directory: Path, *, ctr: str = "ctr") -> dict[Path, list[str]]:
    """Import every ``*.tar``/``*.tar.gz``/``*.tgz`` in ``directory`` (k3s' airgap images directory).
    A file that fails is logged and skipped; returns ``{file: names}`` of the successful ones."""
    if not await asyncio.to_thread(directory.is_dir):
        return {}
    files = sorted(p for p in await asyncio.to_thread(lambda: list(directory.iterdir()))
                   if p.is_file() and p.name.endswith(_ARCHIVE_SUFFIXES))
    done: dict[Path, list[str]] = {}
    for f in files:
        try:
            done[f] = await import_archive(socket, f, ctr=ctr)
        except errors.ImageImportError as e:
            log.error("Skipping image archive %s: %s", f, e)
    return done


async def _missing(client: cri.RuntimeClient, names: Sequence[str]) -> list[str]:
    present = await asyncio.gather(*(client.image_status(n) for n in names))
    return [n for n, img in zip(names, present, strict=True) if img is None]


async def ensure_builtin_images(client: cri.RuntimeClient, socket: Path | str, cache_dir: Path,
                                keys: Sequence[str] = ("pause", "busybox", "nginx"), *,
                                ctr: str = "ctr") -> list[str]:
    """Make the built-in images ``keys`` present in the runtime, building/importing only what is missing.
    Returns the names imported now. A recipe whose package is missing raises
    :class:`errors.ImageBuildError` (the pause image is required; callers may treat others as optional)."""
    imported: list[str] = []
    for key in keys:
        names = list(BUILTIN[key].names)
        if not await _missing(client, names):
            continue
        archive = await build_archive(key, cache_dir)
        imported += await import_archive(socket, archive, ctr=ctr)
        still = await _missing(client, names)
        if still:
            raise errors.ImageImportError(f"after importing {archive}, CRI still lacks {', '.join(still)}")
    return imported


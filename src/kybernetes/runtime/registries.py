"""Private and insecure registries for the node's containerd, configured like k3s's ``registries.yaml``.

The file (``<data-dir>/agent/etc/registries.yaml``, or ``--registries``) has two sections::

    mirrors:
      docker.io:                      # images named docker.io/... are pulled from these endpoints
        endpoint: ["https://mirror.example:5000"]
      "127.0.0.1:5000":               # a registry served over plain HTTP
        endpoint: ["http://127.0.0.1:5000"]
    configs:
      "mirror.example:5000":          # per endpoint host: TLS and credentials
        tls: {ca_file: /etc/ssl/mirror-ca.pem, cert_file: ..., key_file: ..., insecure_skip_verify: true}
        auth: {username: me, password: secret}   # or auth: <base64 user:pass>, or identitytoken

:func:`write_hosts` turns it into containerd's registry host files, ``certs.d/<registry>/hosts.toml``
(``_default`` for the ``"*"`` mirror), which containerd reads at every pull — so a changed file
applies at the agent's next start without touching running pods. Directories this module wrote and
the file no longer names are removed. Called by :func:`kybernetes.runtime.bootstrap.bring_up`.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["Registries", "RegistriesError", "RegistryConfig", "load", "parse", "render_hosts", "write_hosts"]

log = logging.getLogger(__name__)

MARKER = "# Written by kybernetes from registries.yaml; edits are overwritten."
DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"


class RegistriesError(ValueError):
    """The registries file cannot be used; the message names the entry."""


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """``configs.<host>``: how to talk to one endpoint host."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False
    authorization: str = ""  # the Authorization header value ("Basic ..." or "Bearer ...")


@dataclass(frozen=True, slots=True)
class Registries:
    mirrors: dict[str, list[str]] = field(default_factory=dict)  # registry → endpoint URLs, in order
    configs: dict[str, RegistryConfig] = field(default_factory=dict)  # endpoint host → settings


def _endpoint(registry: str, url: str) -> str:
    url = str(url).strip().rstrip("/")
    parts = urlsplit(url if "://" in url else "https://" + url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistriesError(f"mirrors.{registry}.endpoint: {url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _authorization(host: str, auth: Any) -> str:
    if not auth:
        return ""
    if not isinstance(auth, dict):
        raise RegistriesError(f"configs.{host}.auth: expected username/password, auth or identitytoken")
    if auth.get("username"):
        raw = f"{auth['username']}:{auth.get('password') or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()
    if auth.get("auth"):
        return "Basic " + str(auth["auth"])
    if auth.get("identitytoken"):
        return "Bearer " + str(auth["identitytoken"])
    return ""


def parse(data: Any) -> Registries:
    if data is None:
        return Registries()
    if not isinstance(data, dict):
        raise RegistriesError("expected a mapping with mirrors and configs")
    mirrors: dict[str, list[str]] = {}
    for registry, entry in (data.get("mirrors") or {}).items():
        endpoints = (entry or {}).get("endpoint") or []
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        mirrors[str(registry)] = [_endpoint(str(registry), e) for e in endpoints]
    configs: dict[str, RegistryConfig] = {}
    for host, entry in (data.get("configs") or {}).items():
        entry = entry or {}
        tls = entry.get("tls") or {}
        configs[str(host)] = RegistryConfig(str(tls.get("ca_file") or ""), str(tls.get("cert_file") or ""),
                                            str(tls.get("key_file") or ""), bool(tls.get("insecure_skip_verify")),
                                            _authorization(str(host), entry.get("auth")))
    return Registries(mirrors, configs)


def load(path: Path) -> Registries:
    """The registries file at ``path``; none at all is an empty configuration."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Registries()
    try:
        return parse(yaml.safe_load(text))
    except yaml.YAMLError as e:
        raise RegistriesError(f"{path}: {e}") from None
    except RegistriesError as e:
        raise RegistriesError(f"{path}: {e}") from None


def _q(value: str) -> str:
    return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes


def _settings(cfg: RegistryConfig | None, indent: str, table: str) -> list[str]:
    if cfg is None:
        return []
    lines = []
    if cfg.insecure_skip_verify:
        lines.append(f"{indent}skip_verify = true")
    if cfg.ca_file:
        lines.append(f"{indent}ca = {_q(cfg.ca_file)}")
    if cfg.cert_file and cfg.key_file:
        lines.append(f"{indent}client = [[{_q(cfg.cert_file)}, {_q(cfg.key_file)}]]")
    if cfg.authorization:
        lines += ["", f"{indent}[{table}header]" if table else f"{indent}[header]",
                  f"{indent}  Authorization = {_q(cfg.authorization)}"]
    return lines


def _host_of(url: str) -> str:
    return urlsplit(url).netloc


def render_hosts(registry: str, regs: Registries) -> str:
    """``hosts.toml`` for ``registry``: its mirror endpoints in order, then the registry itself. An
    endpoint on the registry's own host is the registry itself (how plain HTTP is asked for)."""
    endpoints = regs.mirrors.get(registry, [])
    default = DOCKER_HUB_SERVER if registry == DOCKER_HUB else f"https://{registry}"
    own = next((e for e in endpoints if _host_of(e) == registry and urlsplit(e).path in ("", "/v2")), None)
    server = own or default
    lines = [MARKER]
    if registry != "*":
        lines.append(f"server = {_q(server)}")
        lines += _settings(regs.configs.get(_host_of(server)), "", "")
    for url in endpoints:
        if url == own:
            continue
        table = f'host.{_q(url)}.'
        lines += ["", f"[host.{_q(url)}]", '  capabilities = ["pull", "resolve"]']
        if urlsplit(url).path not in ("", "/v2"):
            lines.append("  override_path = true")
        lines += _settings(regs.configs.get(_host_of(url)), "  ", table)
    return "\n".join(lines) + "\n"


def _directory(registry: str) -> str:
    return "_default" if registry == "*" else registry


def write_hosts(certs_dir: Path, regs: Registries) -> list[Path]:
    """Write ``certs.d/<registry>/hosts.toml`` for every registry the configuration names (mirrored,
    or with settings of its own) and remove the ones this module wrote earlier that it no longer names."""
    wanted = {r: render_hosts(r, regs) for r in [*regs.mirrors, *(h for h in regs.configs if h not in regs.mirrors)]}
    certs_dir.mkdir(parents=True, exist_ok=True)
    keep = {_directory(r) for r in wanted}
    for d in certs_dir.iterdir():
        hosts = d / "hosts.toml"
        if d.name not in keep and hosts.is_file() and hosts.read_text().startswith(MARKER):
            shutil.rmtree(d, ignore_errors=True)
    written = []
    for registry, text in wanted.items():
        path = certs_dir / _directory(registry) / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written

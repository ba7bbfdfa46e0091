"""registries.yaml → containerd hosts.toml: mirrors in order, plain-HTTP registries as their own
server, TLS and credentials per endpoint host, stale files of ours removed, others left alone."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import pytest

from kybernetes.runtime import registries

CONFIG = """
mirrors:
  docker.io:
    endpoint: ["https://mirror.example:5000", "http://10.0.0.1:5000/v2/hub"]
  "127.0.0.1:5000":
    endpoint: ["http://127.0.0.1:5000"]
  "*":
    endpoint: ["https://catch-all.example"]
configs:
  "mirror.example:5000":
    tls: {ca_file: /etc/ssl/mirror.pem, cert_file: /etc/ssl/c.pem, key_file: /etc/ssl/c.key}
    auth: {username: me, password: "s3cret"}
  "secure.example":
    tls: {insecure_skip_verify: true}
"""


def write(tmp_path: Path) -> dict[str, dict[str, object]]:
    src = tmp_path / "registries.yaml"
    src.write_text(CONFIG)
    certs = tmp_path / "certs.d"
    written = registries.write_hosts(certs, registries.load(src))
    return {p.parent.name: tomllib.loads(p.read_text()) for p in written}


def test_hosts_files(tmp_path: Path) -> None:
    hosts = write(tmp_path)
    assert set(hosts) == {"docker.io", "127.0.0.1:5000", "_default", "secure.example", "mirror.example:5000"}
    hub = hosts["docker.io"]
    assert hub["server"] == "https://registry-1.docker.io"
    mirror = hub["host"]["https://mirror.example:5000"]  # type: ignore[index]
    assert mirror == {"capabilities": ["pull", "resolve"], "ca": "/etc/ssl/mirror.pem",
                      "client": [["/etc/ssl/c.pem", "/etc/ssl/c.key"]],
                      "header": {"Authorization": "Basic " + base64.b64encode(b"me:s3cret").decode()}}
    assert hub["host"]["http://10.0.0.1:5000/v2/hub"]["override_path"] is True  # type: ignore[index]
    assert list(hub["host"]) == ["https://mirror.example:5000", "http://10.0.0.1:5000/v2/hub"]  # type: ignore[arg-type]
    assert hosts["127.0.0.1:5000"] == {"server": "http://127.0.0.1:5000"}  # plain HTTP, no https fallback
    assert hosts["_default"] == {"host": {"https://catch-all.example": {"capabilities": ["pull", "resolve"]}}}
    assert hosts["secure.example"] == {"server": "https://secure.example", "skip_verify": True}
    assert hosts["mirror.example:5000"]["server"] == "https://mirror.example:5000"  # pulled from directly too
    assert hosts["mirror.example:5000"]["ca"] == "/etc/ssl/mirror.pem"


def test_stale_files_of_ours_go_and_others_stay(tmp_path: Path) -> None:
    write(tmp_path)
    certs = tmp_path / "certs.d"
    (certs / "hand-made.example").mkdir()
    (certs / "hand-made.example" / "hosts.toml").write_text('server = "https://hand-made.example"\n')
    (tmp_path / "registries.yaml").write_text('mirrors: {"127.0.0.1:5000": {endpoint: ["http://127.0.0.1:5000"]}}\n')
    registries.write_hosts(certs, registries.load(tmp_path / "registries.yaml"))
    assert sorted(p.name for p in certs.iterdir()) == ["127.0.0.1:5000", "hand-made.example"]


def test_missing_file_is_empty_and_bad_entries_are_named(tmp_path: Path) -> None:
    assert registries.load(tmp_path / "none.yaml") == registries.Registries()
    (tmp_path / "bad.yaml").write_text('mirrors: {"r.example": {endpoint: ["ftp://r.example"]}}\n')
    with pytest.raises(registries.RegistriesError, match=r"mirrors.r.example.endpoint: 'ftp://r.example' is not"):
        registries.load(tmp_path / "bad.yaml")

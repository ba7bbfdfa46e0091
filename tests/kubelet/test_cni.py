"""The agent's CNI conflist: the node's pod range and its gateway, rewritten when the range changes,
never written over (or beside) someone else's CNI configuration."""

from __future__ import annotations

import json
from pathlib import Path

from kybernetes.kubelet import cni


def test_conflist_uses_the_node_range_and_its_first_address_as_gateway(tmp_path: Path) -> None:
    conf = cni.conflist("kyb0", "10.42.3.0/24", tmp_path / "ipam")
    bridge, portmap = conf["plugins"]  # type: ignore[misc]
    assert bridge["type"] == "bridge" and bridge["bridge"] == "kyb0" and bridge["isGateway"]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.42.3.0/24", "gateway": "10.42.3.1"}]]
    assert bridge["ipam"]["type"] == "host-local" and portmap["type"] == "portmap"


def test_written_once_rewritten_when_the_range_changes(tmp_path: Path) -> None:
    conf_dir, ipam = tmp_path / "net.d", tmp_path / "ipam"
    path = cni.ensure_conflist(conf_dir, "kyb0", "10.42.0.0/24", ipam)
    assert path == conf_dir / cni.CONFLIST_NAME
    assert cni.ensure_conflist(conf_dir, "kyb0", "10.42.0.0/24", ipam) is None  # unchanged: not rewritten
    assert cni.ensure_conflist(conf_dir, "kyb0", "10.42.5.0/24", ipam) == path
    ranges = json.loads(path.read_text())["plugins"][0]["ipam"]["ranges"]
    assert ranges == [[{"subnet": "10.42.5.0/24", "gateway": "10.42.5.1"}]]
    assert sorted(p.name for p in conf_dir.iterdir()) == [cni.CONFLIST_NAME]


def test_someone_elses_configuration_is_left_alone(tmp_path: Path) -> None:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "05-operator.conflist").write_text("{}")
    assert cni.foreign_config(conf_dir) == conf_dir / "05-operator.conflist"
    assert cni.ensure_conflist(conf_dir, "kyb0", "10.42.0.0/24", tmp_path / "ipam") is None
    assert sorted(p.name for p in conf_dir.iterdir()) == ["05-operator.conflist"]

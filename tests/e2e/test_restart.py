"""Durability: kill -9 the server; every acknowledged write is there after a restart and
resourceVersions keep increasing."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.e2e.conftest import Cluster, Kubectl, free_port, start_server, wait_ready

pytestmark = pytest.mark.e2e


def test_kill9_and_restart_keeps_acknowledged_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    c = Cluster(data_dir, port, start_server(data_dir, port), home)
    try:
        wait_ready(c)
        from tests.e2e.conftest import kubectl_137

        k = Kubectl(c, kubectl_137(), "1.37")
        for i in range(20):
            k("create", "configmap", f"durable-{i}", f"--from-literal=i={i}")
        last_rv = int(json.loads(k("get", "cm", "durable-19", "-o", "json"))["metadata"]["resourceVersion"])
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait()
        c.proc = start_server(data_dir, port)
        wait_ready(c)
        names = set(k("get", "cm", "-o", "name").split())
        assert {f"configmap/durable-{i}" for i in range(20)} <= names
        k("create", "configmap", "after-restart")
        rv = int(json.loads(k("get", "cm", "after-restart", "-o", "json"))["metadata"]["resourceVersion"])
        assert rv > last_rv
    finally:
        if c.proc.poll() is None:
            c.proc.send_signal(signal.SIGTERM)
            try:
                c.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                c.proc.kill()

"""Fixtures for runtime tests: a real containerd node (root only) and a shared cache of built images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.runtime import node as nodes


@pytest.fixture(scope="session")
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built OCI archives, shared by the tests of one session (each image is built once)."""
    return tmp_path_factory.mktemp("builtin-images")


@pytest.fixture
async def busybox_node(tmp_path: Path, image_cache: Path) -> AsyncIterator[nodes.Node]:
    nodes.require_root()
    node = await nodes.start_node(tmp_path, image_cache, ("pause", "busybox"))
    try:
        yield node
    finally:
        await nodes.stop_node(node)
        assert nodes.leftovers(node) == []


@pytest.fixture
async def nginx_node(tmp_path: Path, image_cache: Path) -> AsyncIterator[nodes.Node]:
    nodes.require_root()
    node = await nodes.start_node(tmp_path, image_cache, ("pause", "nginx"))
    try:
        yield node
    finally:
        await nodes.stop_node(node)
        assert nodes.leftovers(node) == []

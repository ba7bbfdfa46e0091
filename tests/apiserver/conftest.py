"""An in-process API server on plain HTTP (bearer token auth) for handler-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.apiserver.app import ApiServer, ApiServerConfig, make_app
from kybernetes.apiserver.authn import User
from kybernetes.store.sqlite import SQLiteStore

TOKEN = "test-admin-token"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, TestClient]]:
    store = SQLiteStore(str(tmp_path / "state.db"), compact_interval=3600)
    server = ApiServer(ApiServerConfig(tokens={TOKEN: User("admin", ("system:masters",))},
                                       service_account_key=tmp_path / "sa.key", watch_cache_window=10), store)
    client = TestClient(TestServer(make_app(server)), headers={"Authorization": f"Bearer {TOKEN}"})
    await client.start_server()
    try:
        yield server, client
    finally:
        await client.close()

"""Fixtures for store tests: a started ``SQLiteStore`` in a temp dir, and a deadline-bound wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kybernetes.store import SQLiteStore

Until = Callable[..., Awaitable[None]]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "db.sqlite")


@pytest.fixture
async def store(db_path: str) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(db_path, compact_interval=0)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


async def _until(condition: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` on the loop until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
def until() -> Until:
    return _until

"""Per-kind strategies and resource descriptors, one module per kind under ``<group>/``.

Each kind module exports ``RESOURCES: tuple[ResourceInfo, ...]``; ``builtin_resources()`` gathers
them so that adding a kind is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from kybernetes.api.strategy import ResourceInfo


def builtin_resources() -> list[ResourceInfo]:
    found: list[ResourceInfo] = []
    for mod in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
        if mod.ispkg:
            continue
        module = importlib.import_module(mod.name)
        found.extend(getattr(module, "RESOURCES", ()))
    return found

"""rbac.authorization.k8s.io/v1 Role: namespaced rules (no non-resource URLs)."""

from __future__ import annotations

from kybernetes.api.kinds.rbac import _common
from kybernetes.api.strategy import ResourceInfo


class RoleStrategy(_common.RoleStrategyBase):
    namespaced = True


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_common.GROUP, version="v1", kind="Role", plural="roles", singular="role", namespaced=True,
        strategy=RoleStrategy(),
    ),
)

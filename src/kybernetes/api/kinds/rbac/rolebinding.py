"""rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole within a namespace."""

from __future__ import annotations

from kybernetes.api.kinds.rbac import _common
from kybernetes.api.strategy import ResourceInfo


class RoleBindingStrategy(_common.BindingStrategyBase):
    namespaced = True
    kind = "RoleBinding"


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_common.GROUP, version="v1", kind="RoleBinding", plural="rolebindings", singular="rolebinding",
        namespaced=True, strategy=RoleBindingStrategy(),
    ),
)

"""rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole cluster-wide."""

from __future__ import annotations

from kybernetes.api.kinds.rbac import _common
from kybernetes.api.strategy import ResourceInfo


class ClusterRoleBindingStrategy(_common.BindingStrategyBase):
    namespaced = False
    kind = "ClusterRoleBinding"


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_common.GROUP, version="v1", kind="ClusterRoleBinding", plural="clusterrolebindings",
        singular="clusterrolebinding", namespaced=False, strategy=ClusterRoleBindingStrategy(),
    ),
)

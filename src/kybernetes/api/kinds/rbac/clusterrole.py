"""rbac.authorization.k8s.io/v1 ClusterRole: rules plus an optional aggregationRule.

The clusterrole-aggregation controller fills ``rules`` of aggregated roles from the roles its
``clusterRoleSelectors`` match; this module only checks the shape.
"""

from __future__ import annotations

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.rbac import _common
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.api.types import Object


class ClusterRoleStrategy(_common.RoleStrategyBase):
    namespaced = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs = super().validate(obj, ctx)
        rule = obj.get("aggregationRule")
        if rule is not None:
            selectors = (rule or {}).get("clusterRoleSelectors") or []
            if not selectors:
                errs.append(errors.required("aggregationRule.clusterRoleSelectors",
                                            "at least one clusterRoleSelector required if aggregationRule is "
                                            "non-nil"))
            for i, selector in enumerate(selectors):
                errs.extend(validation.validate_label_selector(selector,
                                                               f"aggregationRule.clusterRoleSelectors[{i}]"))
        return errs


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_common.GROUP, version="v1", kind="ClusterRole", plural="clusterroles", singular="clusterrole",
        namespaced=False, strategy=ClusterRoleStrategy(),
    ),
)

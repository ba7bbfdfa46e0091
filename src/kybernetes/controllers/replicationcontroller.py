"""ReplicationController controller: the ReplicaSet controller over core/v1 ReplicationControllers.

Kubernetes runs the same code for both kinds (through conversion adapters); here the subclass only
changes the resource, the owner kind written into pods' ownerReferences, and the selector, which is
a plain label map (``spec.selector``) instead of a ``LabelSelector``.
"""

from __future__ import annotations

from kybernetes.api.selectors import LabelSelector, selector_from_map
from kybernetes.client.rest import REPLICATIONCONTROLLERS, Resource
from kybernetes.controllers.loop import Obj
from kybernetes.controllers.replicaset import ReplicaSetController


class ReplicationControllerController(ReplicaSetController):
    name = "replicationcontroller"
    resource: Resource = REPLICATIONCONTROLLERS
    api_version = "v1"
    kind = "ReplicationController"

    def selector(self, rs: Obj) -> LabelSelector | None:
        selector = (rs.get("spec") or {}).get("selector")
        if not isinstance(selector, dict):
            return None
        return selector_from_map(selector)

"""Server-side apply and ``managedFields`` tracking (structured-merge-diff semantics).

``update_managed_fields`` runs on every create/update/patch, ``server_side_apply`` on apply
patches; ``FieldSet`` is the ownership set they record as ``fieldsV1``.
"""

from kybernetes.api.apply.apply import LAST_APPLIED_ANNOTATION, conflict_error, server_side_apply
from kybernetes.api.apply.fieldpath import FieldSet, fields, path_string
from kybernetes.api.apply.managed import (
    BEFORE_FIRST_APPLY,
    MAX_UPDATE_MANAGERS,
    ManagedFieldsError,
    compute_fields,
    manager_from_user_agent,
    update_managed_fields,
)

__all__ = [
    "BEFORE_FIRST_APPLY",
    "LAST_APPLIED_ANNOTATION",
    "MAX_UPDATE_MANAGERS",
    "FieldSet",
    "ManagedFieldsError",
    "compute_fields",
    "conflict_error",
    "fields",
    "manager_from_user_agent",
    "path_string",
    "server_side_apply",
    "update_managed_fields",
]

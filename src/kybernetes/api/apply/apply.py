"""Server-side apply (``PATCH`` with ``application/apply-patch+yaml``).

``server_side_apply`` merges an applied configuration into the live object the way
structured-merge-diff does and records ownership: the applier's ``Apply`` entry holds exactly
the fields of its configuration; fields it applied before and no longer applies are removed
unless someone else owns them; changing a field another manager owns is a conflict (409, the
exact Kubernetes message and ``FieldManagerConflict`` causes) unless ``force`` takes it over;
applying a value equal to the live one shares ownership. Objects without managed fields first
get a ``before-first-apply`` entry for what they hold. For the manager ``kubectl`` the
client-side-apply annotation is honoured as upstream does: conflicts on fields unchanged since
the last client-side apply are forced, and the annotation is kept in sync with the config.

The result still needs the API server's defaulting, admission and strategy hooks.
"""

from __future__ import annotations

import json
from typing import Any

from kybernetes.api import errors
from kybernetes.api.apply import _merge, _walk
from kybernetes.api.apply._types import TypeNode, compile_root
from kybernetes.api.apply.fieldpath import FieldSet, go_json, path_string
from kybernetes.api.apply.managed import (
    APPLY,
    BEFORE_FIRST_APPLY,
    STRIPPED,
    UPDATE,
    Entry,
    Identity,
    Managed,
    ManagedFieldsError,
    cap_update_managers,
    decode,
    identifier_json,
    identity,
    object_view,
    record_update,
    store,
)
from kybernetes.api.schema import Schema, Schemas
from kybernetes.api.types import Object, split_api_version

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
_ANNOTATIONS_SIZE_LIMIT = 256 * 1024
_CSA_UPGRADING_MANAGER = "kubectl"


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[Identity, FieldSet]) -> None:
        self.conflicts = conflicts


def _print_manager(ident: Identity) -> str:
    manager, operation, api_version, subresource = ident
    text = json.dumps(manager, ensure_ascii=False)
    if subresource:
        text += f" with subresource {json.dumps(subresource, ensure_ascii=False)}"
    if operation == UPDATE:
        text += f" using {api_version}"
    return text


def conflict_error(conflicts: dict[Identity, FieldSet]) -> errors.StatusError:
    """409 Conflict as Kubernetes reports apply conflicts (managers sorted, paths in set order)."""
    items = [(ident, path) for ident in sorted(conflicts, key=identifier_json)
             for path in conflicts[ident].paths()]
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_print_manager(ident)}",
               "field": path_string(path)} for ident, path in items]
    if len(items) == 1:
        ident, path = items[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(ident)}: {path_string(path)}"
    else:
        lines: list[str] = []
        for ident in sorted(conflicts, key=identifier_json):
            lines.append(f"conflicts with {_print_manager(ident)}:")
            lines.extend(f"- {path_string(p)}" for p in conflicts[ident].paths())
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})


def _gvk_string(obj: Object) -> str:
    group, version = split_api_version(str(obj.get("apiVersion") or ""))
    return f"{group}/{version}, Kind={obj.get('kind') or ''}"


def _expected_kind(live: Object | None, schema_root: Schema | None, api_version: str) -> str | None:
    if live is not None and live.get("kind"):
        return str(live["kind"])
    group, version = split_api_version(api_version)
    for gvk in (schema_root or {}).get("x-kubernetes-group-version-kind") or ():
        if gvk.get("group", "") == group and gvk.get("version", "") == version:
            return str(gvk.get("kind"))
    return None


def _copy_entries(managed: Managed) -> Managed:
    return {k: Entry(e.manager, e.operation, e.api_version, e.subresource, e.time, e._fields, e._raw, e.source)
            for k, e in managed.items()}


def _apply_once(managed: Managed, live_view: Object, applied: Object, config: FieldSet, t: TypeNode,
                manager: str, subresource: str, api_version: str, time: str, force: bool,
                reset_fields: FieldSet | None) -> tuple[Object, Managed]:
    work = _copy_entries(managed)
    me = identity(manager, APPLY, "", subresource)
    last = work.get(me)
    merged = _merge.merge(live_view, applied, t)
    own = Entry(manager, APPLY, api_version, subresource, last.time if last is not None else None,
                fields=config)
    work[me] = own
    if last is not None and not last.fields.is_empty():
        owned = FieldSet()
        for e in work.values():
            owned.update(e.fields)
        pruned = _merge.prune(merged, t, last.fields, owned)
        merged = {} if pruned is _walk.MISSING else pruned
    cmp = _walk.compare(live_view, merged, t)
    cmp.exclude(reset_fields)
    changed = cmp.modified
    changed.update(cmp.added)
    conflicts: dict[Identity, FieldSet] = {}
    for ident, e in work.items():
        if ident != me:
            clash = e.fields.intersection(changed)
            if not clash.is_empty():
                conflicts[ident] = clash
    if conflicts and not force:
        raise _Conflicts(conflicts)
    lose = changed.union(cmp.removed)
    for ident, e in list(work.items()):
        if ident != me and (not e.subtract(lose) or not e.raw):
            del work[ident]
    own.set_fields(config.difference(STRIPPED))
    if own.fields.is_empty():
        del work[me]
    if merged == live_view:
        return _merge.deep_copy(live_view), work
    own.time = time
    return merged, work


def _allowed_by_last_applied(live: Object | None, live_view: Object, t: TypeNode,
                             api_version: str) -> FieldSet | None:
    """Fields of the client-side-apply annotation whose live value is still the applied one."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED_ANNOTATION)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        fields = _walk.to_field_set(last, t)
        cmp = _walk.compare(last, live_view, t)
    except _walk.SchemaMismatch:
        return None
    return fields.difference(cmp.modified).difference(cmp.added).difference(cmp.removed)


def _sync_last_applied(result: Object, applied: Object) -> None:
    meta = result.get("metadata")
    if not isinstance(meta, dict):
        return
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED_ANNOTATION):
        return
    config = _merge.deep_copy(applied)
    config_annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(config_annotations, dict):
        config_annotations.pop(LAST_APPLIED_ANNOTATION, None)
    annotations = dict(annotations)
    annotations[LAST_APPLIED_ANNOTATION] = go_json(config) + "\n"
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > _ANNOTATIONS_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]
    meta["annotations"] = annotations


def server_side_apply(live: Object | None, applied: Object, manager: str, force: bool, schemas: Schemas,
                      schema_root: Schema | None, api_version: str, time: str, *, subresource: str = "",
                      reset_fields: FieldSet | None = None) -> Object:
    """Apply ``applied`` as ``manager``; returns the new object with its ``managedFields``.

    ``live`` is None when the object does not exist yet (apply creates it). ``api_version`` is
    the served version of the endpoint, ``time`` the RFC 3339 timestamp of this request.
    Raises ``StatusError``: 409 on conflicts (unless ``force``), 400 for a wrong kind/version
    or a configuration carrying ``managedFields``, 500 when the configuration does not fit the
    schema (duplicate list keys, undeclared fields), as Kubernetes does. Inputs are not modified.
    """
    if not isinstance(applied, dict):
        raise errors.bad_request("apply patch must be an object")
    kind = _expected_kind(live, schema_root, api_version)
    if applied.get("apiVersion") != api_version or (kind is not None and applied.get("kind") != kind):
        raise errors.bad_request(f"invalid object type: {_gvk_string(applied)}")
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and applied_meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    live_meta = (live or {}).get("metadata")
    try:
        managed = decode(live_meta.get("managedFields") if isinstance(live_meta, dict) else None)
    except ManagedFieldsError as e:
        raise errors.StatusError(500, "InternalError", f"failed to decode managed fields: {e}") from None
    t = compile_root(schemas, schema_root)
    try:
        config = _walk.to_field_set(applied, t, strict=True)
    except _walk.SchemaMismatch as e:
        ident = applied_meta if isinstance(applied_meta, dict) else {}
        where = f"{ident.get('namespace') or ''}/{ident.get('name') or ''}; {_gvk_string(applied)}"
        raise errors.StatusError(500, "", f"failed to create typed patch object ({where}): {e}") from None
    if reset_fields is not None:
        config = config.recursive_difference(reset_fields)
    live_view = object_view(live)
    try:
        if not managed and live is not None:
            record_update(managed, {}, live_view, t, BEFORE_FIRST_APPLY, api_version, subresource, time,
                          reset_fields)
            cap_update_managers(managed)
        try:
            result, work = _apply_once(managed, live_view, applied, config, t, manager, subresource,
                                       api_version, time, force, reset_fields)
        except _Conflicts as c:
            allowed = (_allowed_by_last_applied(live, live_view, t, api_version)
                       if manager == _CSA_UPGRADING_MANAGER else None)
            if allowed is None:
                raise
            remaining = {ident: s.difference(allowed) for ident, s in c.conflicts.items()}
            remaining = {ident: s for ident, s in remaining.items() if not s.is_empty()}
            if remaining:
                raise _Conflicts(remaining) from None
            result, work = _apply_once(managed, live_view, applied, config, t, manager, subresource,
                                       api_version, time, True, reset_fields)
    except _Conflicts as c:
        raise conflict_error(c.conflicts) from None
    except _walk.SchemaMismatch as e:
        raise errors.StatusError(500, "", f"failed to apply: {e}") from None
    result_meta = result.get("metadata")
    meta: dict[str, Any] = dict(result_meta) if isinstance(result_meta, dict) else {}
    result["metadata"] = meta
    if manager == _CSA_UPGRADING_MANAGER:
        _sync_last_applied(result, applied)
    store(meta, work)
    return result

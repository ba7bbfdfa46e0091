"""apiextensions.k8s.io/v1 CustomResourceDefinition: defaults, full validation and status.

The CRD machinery of the apiserver watches these objects: once a CRD validates and its names
are free it writes ``established_status(crd)`` through ``customresourcedefinitions/status`` and
starts serving the versions with ``customresource.CustomResourceStrategy``.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apiextensions import _crdspec
from kybernetes.api.strategy import ResourceInfo, StatusStrategy, Strategy, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP = "apiextensions.k8s.io"
#: held by a CRD being deleted until the apiserver has deleted its custom objects
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def storage_version(crd: Object) -> str | None:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("storage"):
            return str(version.get("name", ""))
    return None


def default_crd(crd: Object) -> None:
    """``SetDefaults_CustomResourceDefinitionSpec``: singular, listKind, conversion, service port."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.setdefault("names", {})
    if isinstance(names, dict):
        if not names.get("singular"):
            names["singular"] = (names.get("kind") or "").lower()
        if not names.get("listKind") and names.get("kind"):
            names["listKind"] = names["kind"] + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    service = (((spec.get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def _is_established(crd: Object) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def validate_stored_versions(crd: Object) -> list[FieldError]:
    stored = (crd.get("status") or {}).get("storedVersions") or []
    path = "status.storedVersions"
    if not stored:
        return [errors.invalid(path, stored, "must have at least one stored version")]
    errs: list[FieldError] = []
    versions = [v for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict)]
    names = {v.get("name") for v in versions}
    for v in versions:
        if v.get("storage") and v.get("name") not in stored:
            errs.append(errors.invalid(path, stored, f"must have the storage version {v.get('name')}"))
    for i, name in enumerate(stored):
        if name not in names:
            errs.append(errors.invalid(f"{path}[{i}]", name, f"missing from spec.versions; {name} was previously a "
                                       f"storage version, and must remain in spec.versions until a storage "
                                       f"migration ensures no data remains persisted in {name} and removes {name} "
                                       f"from status.storedVersions"))
    return errs


def validate_crd(crd: Object, old: Object | None = None) -> list[FieldError]:
    """Every problem of a CRD (``ValidateCustomResourceDefinition``), generic ObjectMeta aside."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errs: list[FieldError] = []
    name = (crd.get("metadata") or {}).get("name") or ""
    if name and name != f"{names.get('plural', '')}.{spec.get('group', '')}":
        errs.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    group = spec.get("group") or ""
    if not group:
        errs.append(errors.required("spec.group"))
    elif validation.is_dns1123_subdomain(group):
        errs.append(errors.invalid("spec.group", group, ",".join(validation.is_dns1123_subdomain(group))))
    elif "." not in group:
        errs.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(errors.required("spec.scope"))
    elif scope not in _crdspec.SCOPES:
        errs.append(errors.not_supported("spec.scope", scope, _crdspec.SCOPES))
    version_errs, shared_errs = _crdspec.validate_versions(spec)
    errs.extend(version_errs)
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(errors.required(f"spec.names.{key}"))
    errs.extend(_crdspec.validate_names(names, "spec.names"))
    errs.extend(shared_errs)
    errs.extend(_crdspec.validate_conversion(spec))
    errs.extend(_crdspec.validate_names((crd.get("status") or {}).get("acceptedNames") or {},
                                        "status.acceptedNames"))
    errs.extend(validate_stored_versions(crd))
    errs.extend(_crdspec.validate_approval(crd, old))
    if spec.get("preserveUnknownFields") and not (old and (old.get("spec") or {}).get("preserveUnknownFields")):
        errs.append(errors.invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                                   "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    return errs


def established_status(crd: Object, now: str = "") -> dict[str, Any]:
    """The status Kubernetes shows once a CRD's names are accepted and it is served.

    ``now`` (RFC 3339) stamps the conditions' ``lastTransitionTime``; the current time if empty.
    """
    now = now or printing.format_time()
    names = copy.deepcopy((crd.get("spec") or {}).get("names") or {})
    if not names.get("singular"):
        names["singular"] = (names.get("kind") or "").lower()
    if not names.get("listKind") and names.get("kind"):
        names["listKind"] = names["kind"] + "List"
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    storage = storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    return {
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    }


class CustomResourceDefinitionStrategy(Strategy):
    def default(self, obj: Object) -> None:
        default_crd(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        storage = storage_version(obj)
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [storage] if storage else []}

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        super().prepare_for_update(obj, old, ctx)
        storage = storage_version(obj)
        status = obj.setdefault("status", {"acceptedNames": {"plural": "", "kind": ""}})
        stored = status.setdefault("storedVersions", [])
        if storage and storage not in stored:
            status["storedVersions"] = [*stored, storage]

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_crd(obj)

    def prepare_for_delete(self, obj: Object, ctx: WriteContext) -> None:
        """The first DELETE only marks the CRD: the cleanup finalizer waits for its objects to go."""
        md = obj.setdefault("metadata", {})
        finalizers = list(md.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            md["finalizers"] = [*finalizers, CLEANUP_FINALIZER]

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_crd(obj, old)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        names, old_names = spec.get("names") or {}, old_spec.get("names") or {}
        if _is_established(old):
            errs.extend(validation.immutable(spec.get("scope"), old_spec.get("scope"), "spec.scope"))
            errs.extend(validation.immutable(names.get("kind"), old_names.get("kind"), "spec.names.kind"))
        errs.extend(validation.immutable(spec.get("group"), old_spec.get("group"), "spec.group"))
        errs.extend(validation.immutable(names.get("plural"), old_names.get("plural"), "spec.names.plural"))
        return errs


class CustomResourceDefinitionStatusStrategy(StatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return _crdspec.validate_names((obj.get("status") or {}).get("acceptedNames") or {}, "status.acceptedNames")


STRATEGY = CustomResourceDefinitionStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version="v1", kind="CustomResourceDefinition", plural="customresourcedefinitions",
        singular="customresourcedefinition", namespaced=False, strategy=STRATEGY, short_names=("crd", "crds"),
        categories=("api-extensions",), subresources=(Subresource("status", "CustomResourceDefinition", GROUP, "v1"),),
        status_strategy=CustomResourceDefinitionStatusStrategy(STRATEGY),
    ),
)

"""The per-kind strategy contract and the resource descriptor that carries it.

A kind's module (``api/kinds/<group>/<kind>.py``) defines a ``Strategy`` subclass and a module
constant ``RESOURCES: tuple[ResourceInfo, ...]``. The generic write path in the apiserver calls the
hooks in Kubernetes' order and never branches on the kind:

create:  decode → ``default`` → ``prepare_for_create`` → ``validate`` (+ generic metadata checks)
         → ``warnings_on_create`` → ``canonicalize`` → store
update:  decode/patch → ``default`` → ``prepare_for_update`` → ``validate_update`` (+ metadata)
         → ``warnings_on_update`` → ``canonicalize`` → store (CAS on resourceVersion)
delete:  ``check_graceful_delete`` decides the grace period; finalizers are generic.

Contracts: ``validate*`` returns every error and mutates nothing; ``prepare_*`` may mutate ``obj``
only; warnings are ``path: message`` strings of at most 120 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api import validation
from kybernetes.api.errors import FieldError
from kybernetes.api.types import GroupVersionKind, GroupVersionResource, Object


class Allocator(Protocol):
    """Hands out unique values (service ClusterIPs, NodePorts) and takes them back."""

    def allocate(self, requested: str | int | None = None) -> Any: ...

    def release(self, value: Any) -> None: ...


@dataclass(slots=True)
class WriteContext:
    """What hooks may use besides the object: who writes, when, and the cluster-wide allocators."""

    user: str = "system:admin"
    groups: tuple[str, ...] = ("system:masters", "system:authenticated")
    now: str = ""  # RFC 3339 timestamp of this request, seconds precision (metav1.Time)
    now_micro: str = ""  # RFC 3339 with microseconds (metav1.MicroTime)
    dry_run: bool = False
    namespace: str = ""
    subresource: str = ""
    allocators: dict[str, Allocator] = field(default_factory=dict)  # "cluster-ip", "node-port"
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Column:
    """One server-side Table column (``metav1.TableColumnDefinition``)."""

    name: str
    type: str = "string"  # string | integer | number | boolean | date
    format: str = ""  # "name" for the Name column
    description: str = ""
    priority: int = 0  # 1 = shown only with -o wide

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_COLUMN = Column("Name", "string", "name", "Name must be unique within a namespace. Is required when "
                     "creating resources, although some resources may allow a client to request the generation "
                     "of an appropriate name automatically. Name is primarily intended for creation idempotence "
                     "and configuration definition. Cannot be updated. More info: "
                     "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_COLUMN = Column("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created. It is not guaranteed to be set in happens-before order across separate "
                    "operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\n"
                    "Populated by the system. Read-only. Null for lists. More info: "
                    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


class Strategy:
    """Default behaviour of a kind; subclasses override only what is special about theirs."""

    #: spec/status split: when True the main endpoint keeps the old status and ``/status`` keeps the old spec.
    has_status: bool = True
    #: whether ``metadata.generation`` tracks spec changes (kinds with a spec do).
    tracks_generation: bool = True
    #: how ``metadata.name`` is validated (most kinds: DNS-1123 subdomain)
    name_validator: Callable[[str], list[str]] = staticmethod(validation.is_dns1123_subdomain)
    #: an update only reads the old object, and what it copies from it into the new one is never
    #: changed afterwards: the watch cache's own copy may serve as the old object (one decode less).
    shares_old: bool = False

    def default(self, obj: Object) -> None:
        """Apply API defaults (Kubernetes' SetDefaults_*). Runs on every decoded write, idempotent."""

    def default_status(self, obj: Object) -> None:
        """The defaults a ``/status`` write needs: everything but the status comes from the stored
        object (already defaulted), so a kind may skip defaulting its spec here."""
        self.default(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        """Normalise a new object: e.g. clear status, set generation 1, allocate IPs."""
        if self.has_status and "status" in obj:
            obj["status"] = self.initial_status(obj)
            if obj["status"] is None:
                del obj["status"]

    def initial_status(self, obj: Object) -> Any:
        """The status a freshly created object starts with (``None`` drops the field)."""
        return None

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        """Every problem of a new object. Must not mutate."""
        return []

    def warnings_on_create(self, obj: Object) -> list[str]:
        return []

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        """Main endpoint: keep the old status; bump generation when anything but metadata/status changed."""
        if self.has_status:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        if self.tracks_generation:
            bump_generation_if_changed(obj, old)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        """Every problem of an update, including immutable fields. Must not mutate."""
        return self.validate(obj, ctx)

    def warnings_on_update(self, obj: Object, old: Object) -> list[str]:
        return []

    def canonicalize(self, obj: Object) -> None:
        """Final normalisation before storing (e.g. sort, dedupe)."""

    def allow_create_on_update(self) -> bool:
        return False

    def allow_unconditional_update(self) -> bool:
        return True

    def check_graceful_delete(self, obj: Object, grace_period: int | None) -> int | None:
        """Grace period in seconds for a delete, or None for immediate removal."""
        return None

    #: DELETE answers with the object (pods, services) rather than a Success Status.
    return_deleted_object: bool = False

    def prepare_for_delete(self, obj: Object, ctx: WriteContext) -> None:
        """Mutate an object that is being marked for deletion (e.g. a namespace goes Terminating)."""

    def blocks_deletion(self, obj: Object) -> bool:
        """Whether a marked object must stay until something finishes (metadata.finalizers by
        default; namespaces also wait for spec.finalizers)."""
        return bool((obj.get("metadata") or {}).get("finalizers"))

    def field_selectors(self, obj: Object) -> dict[str, str]:
        """Field label → value for ``fieldSelector`` matching; unknown labels are rejected with 400."""
        md = obj.get("metadata") or {}
        return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", "")}

    # --- Table printing -------------------------------------------------------------------------
    def columns(self) -> tuple[Column, ...]:
        """Table columns (Name first). The default matches kinds without a printer."""
        return (NAME_COLUMN, Column("Created At", "date", "", "CreationTimestamp is a timestamp representing the "
                                    "server time when this object was created."))

    def row(self, obj: Object, now: float) -> list[Any]:
        """One Table row's cells, aligned with ``columns()``. ``now`` is epoch seconds."""
        md = obj.get("metadata") or {}
        return [md.get("name", ""), md.get("creationTimestamp")]


def bump_generation_if_changed(obj: Object, old: Object) -> None:
    """``metadata.generation = old + 1`` if any field outside metadata/status differs (idempotent)."""
    old_gen = int((old.get("metadata") or {}).get("generation") or 1)
    md = obj.setdefault("metadata", {})
    skip = ("metadata", "status", "apiVersion", "kind")
    changed = any(obj.get(k) != old.get(k) for k in set(obj) | set(old) if k not in skip)
    md["generation"] = old_gen + 1 if changed else old_gen


class StatusStrategy(Strategy):
    """Strategy for ``/status``: the old spec (and most metadata) wins, status comes from the request."""

    def __init__(self, main: Strategy) -> None:
        self.main = main

    def default(self, obj: Object) -> None:
        self.main.default_status(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        for key in [k for k in obj if k not in ("metadata", "status", "apiVersion", "kind")]:
            del obj[key]
        for key, value in old.items():
            if key not in ("metadata", "status", "apiVersion", "kind"):
                obj[key] = value
        # Like Kubernetes' status strategies, a status write cannot relabel the object.
        md = obj.setdefault("metadata", {})
        old_labels = (old.get("metadata") or {}).get("labels")
        if old_labels is None:
            md.pop("labels", None)
        else:
            md["labels"] = old_labels

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return self.validate_status_update(obj, old, ctx)

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return []

    def columns(self) -> tuple[Column, ...]:
        return self.main.columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return self.main.row(obj, now)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return self.main.field_selectors(obj)


@dataclass(frozen=True, slots=True)
class ScaleAccessor:
    """How the ``/scale`` subresource maps onto a kind (autoscaling/v1 Scale)."""

    get_spec_replicas: Callable[[Object], int]
    set_spec_replicas: Callable[[Object, int], None]
    get_status_replicas: Callable[[Object], int]
    get_selector: Callable[[Object], str]  # label selector string, e.g. "app=web"


@dataclass(frozen=True, slots=True)
class Subresource:
    """A subresource for discovery (``pods/log``) and routing."""

    name: str
    kind: str  # response kind, e.g. "Scale"
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = ("get", "patch", "update")


ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """Everything the machinery needs to serve one resource of one group/version."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    strategy: Strategy
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    status_strategy: Strategy | None = None
    #: strategies of other writable subresources (``namespaces/finalize``, ``pods/ephemeralcontainers``)
    subresource_strategies: Mapping[str, Strategy] = field(default_factory=dict)
    scale: ScaleAccessor | None = None
    list_kind: str = ""
    #: schema definition name in kubernetes-validate data (None: derive from group/version/kind)
    schema_name: str | None = None
    #: storage key segment: objects live under /registry/<storage_prefix>/... Versions or groups
    #: that share storage (events, events.k8s.io/events) use the same prefix plus converters.
    storage_prefix: str = ""
    #: served form → stored form (None: identical apart from apiVersion/kind)
    to_storage: Callable[[Object], Object] | None = None
    #: stored form → served form
    from_storage: Callable[[Object], Object] | None = None
    # derived once (every request asks for them): see __post_init__
    _gvk: GroupVersionKind = field(init=False, repr=False, compare=False)
    _api_version: str = field(init=False, repr=False, compare=False)
    _prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_gvk", GroupVersionKind(self.group, self.version, self.kind))
        object.__setattr__(self, "_api_version", f"{self.group}/{self.version}" if self.group else self.version)
        seg = self.storage_prefix or (f"{self.group}/{self.plural}" if self.group else f"core/{self.plural}")
        object.__setattr__(self, "_prefix", f"/registry/{seg}/")

    @property
    def gvk(self) -> GroupVersionKind:
        return self._gvk

    @property
    def gvr(self) -> GroupVersionResource:
        return GroupVersionResource(self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return self._api_version

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"

    @property
    def prefix(self) -> str:
        """Store key prefix for all objects of this resource (shared by every version of it)."""
        return self._prefix

    def key(self, namespace: str | None, name: str) -> str:
        return f"{self.prefix}{namespace}/{name}" if self.namespaced else f"{self.prefix}{name}"

    def namespace_prefix(self, namespace: str | None) -> str:
        return f"{self.prefix}{namespace}/" if self.namespaced and namespace else self.prefix

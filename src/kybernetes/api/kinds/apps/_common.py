"""What the workload kinds (apps/v1, batch/v1, policy/v1, autoscaling) share.

The per-kind modules next to this one (``deployment.py``, ``replicaset.py``…) and the batch,
policy and autoscaling kinds build on these pieces: status skeletons as Go serialises empty
status structs, the selector-versus-template check, the ``metadata.name`` DNS-label warning, the
container cells of the printers, and a status strategy that keeps the old spec.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, podspec, printing, selectors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import Column, ScaleAccessor, StatusStrategy, Strategy, WriteContext
from kybernetes.api.types import Object

CONTAINERS_COLUMN = Column("Containers", priority=1, description="Names of each container in the template.")
IMAGES_COLUMN = Column("Images", priority=1, description="Images referenced by each container in the template.")
NOT_MATCHING = "`selector` does not match template `labels`"
_NAME_WARNING = ("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
                 "a DNS label is recommended: ")


def spec(obj: Object) -> dict[str, Any]:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status(obj: Object) -> dict[str, Any]:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def template_of(spec_: dict[str, Any]) -> dict[str, Any]:
    value = spec_.get("template")
    return value if isinstance(value, dict) else {}


def template_labels(template: dict[str, Any]) -> Any:
    return (template.get("metadata") or {}).get("labels")


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (template.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]


def name(obj: Object) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def fill_zero(status_: dict[str, Any], zero: dict[str, Any]) -> None:
    """Add the status fields Go always serialises (``json:"replicas"`` without omitempty)."""
    for key, value in zero.items():
        status_.setdefault(key, copy.deepcopy(value))


def selector_matches(selector: Any, labels: Any) -> bool | None:
    """``LabelSelectorAsSelector(selector).Matches(labels)``; ``None`` when the selector is invalid.

    A nil selector selects nothing; an empty one selects everything."""
    if selector is not None and not isinstance(selector, dict):
        return None
    try:
        compiled = selectors.selector_from_label_selector(selector)
    except errors.StatusError:
        return None
    if compiled is None:
        return False
    return compiled.matches(labels if isinstance(labels, dict) else {})


def selector_is_empty(selector: Any) -> bool:
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def validate_selector(spec_: dict[str, Any], path: str, what: str, required: bool = True) -> list[FieldError]:
    """``spec.selector``: required, a valid label selector, not empty (``empty selector is invalid for <what>``)."""
    sel = spec_.get("selector")
    if sel is None:
        return [errors.required(f"{path}.selector")] if required else []
    errs = validation.validate_label_selector(sel, f"{path}.selector")
    if selector_is_empty(sel):
        errs.append(errors.invalid(f"{path}.selector", validation.go_label_selector(sel),
                                   f"empty selector is invalid for {what}"))
    return errs


def validate_template_labels_match(spec_: dict[str, Any], path: str, invalid_detail: str = "") -> list[FieldError]:
    """The selector must select the template's labels (skipped for an empty selector, like
    ``selector.Empty()``; a nil selector selects nothing and therefore never matches)."""
    sel = spec_.get("selector")
    labels = template_labels(template_of(spec_))
    if selector_is_empty(sel):
        return []
    matched = selector_matches(sel, labels)
    if matched is None:
        return [errors.invalid(f"{path}.selector", validation.go_label_selector(sel), invalid_detail)]
    if not matched:
        return [errors.invalid(f"{path}.template.metadata.labels", validation.go_string_map(labels), NOT_MATCHING)]
    return []


def validate_restart_always(template: dict[str, Any], path: str, kind: str) -> list[FieldError]:
    """Controllers that keep pods running: restartPolicy Always, no activeDeadlineSeconds."""
    pod = template.get("spec") or {}
    errs: list[FieldError] = []
    policy = pod.get("restartPolicy", "")
    if policy != "Always":
        errs.append(errors.not_supported(f"{path}.spec.restartPolicy", policy, ["Always"]))
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden(f"{path}.spec.activeDeadlineSeconds",
                                     f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def name_warnings(obj: Object) -> list[str]:
    """The warning for names that are subdomains but not DNS labels (they end up in hostnames)."""
    msgs = validation.is_dns1123_label(name(obj))
    if not msgs:
        return []
    return [_NAME_WARNING + "[" + " ".join(msgs) + "]"]


def nonnegative(values: dict[str, Any], fields: tuple[str, ...], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in fields:
        errs.extend(validation.validate_nonnegative(values.get(f), f"{path}.{f}"))
    return errs


def not_above(values: dict[str, Any], fields: tuple[str, ...], limit: str, path: str,
              detail: str = "") -> list[FieldError]:
    """``status.readyReplicas`` etc. may not exceed ``status.<limit>``."""
    errs: list[FieldError] = []
    top = values.get(limit) or 0
    for f in fields:
        v = values.get(f) or 0
        if isinstance(v, int) and isinstance(top, int) and v > top:
            errs.append(errors.invalid(f"{path}.{f}", v, detail or f"cannot be greater than {path}.{limit}"))
    return errs


def collision_count_decremented(obj: Object, old: Object) -> list[FieldError]:
    new_c, old_c = status(obj).get("collisionCount"), status(old).get("collisionCount")
    if old_c is not None and (new_c is None or (isinstance(new_c, int) and new_c < old_c)):
        return [errors.invalid("status.collisionCount", new_c or 0, "cannot be decremented")]
    return []


def normalized(value: Any) -> Any:
    """Drop nulls and empty lists/maps, which ``apiequality.Semantic.DeepEqual`` does not tell apart."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def semantically_equal(a: Any, b: Any) -> bool:
    return bool(normalized(a) == normalized(b))


def immutable(new: Any, old: Any, path: str, shown: Any = None) -> list[FieldError]:
    """``ValidateImmutableField`` with semantic equality; ``shown`` is the rendered new value."""
    if semantically_equal(new, old):
        return []
    return [errors.invalid(path, new if shown is None else shown, "field is immutable")]


def bump_generation(obj: Object, old: Object, changed: bool) -> None:
    old_gen = int((old.get("metadata") or {}).get("generation") or 1)
    obj.setdefault("metadata", {})["generation"] = old_gen + 1 if changed else old_gen


def _spec_replicas(obj: Object) -> int:
    value = spec(obj).get("replicas")
    return value if isinstance(value, int) else 1


def _set_spec_replicas(obj: Object, replicas: int) -> None:
    obj.setdefault("spec", {})["replicas"] = replicas


def _status_replicas(obj: Object) -> int:
    value = status(obj).get("replicas")
    return value if isinstance(value, int) else 0


def _scale_selector(obj: Object) -> str:
    try:
        return printing.selector_string(spec(obj).get("selector"))
    except ValueError:
        return ""


#: ``/scale`` of kinds with ``spec.replicas``, ``status.replicas`` and ``spec.selector``
REPLICAS_SCALE = ScaleAccessor(_spec_replicas, _set_spec_replicas, _status_replicas, _scale_selector)


def template_warnings(obj: Object, keys: tuple[str, ...]) -> list[str]:
    """``GetWarningsForPodTemplate`` for the pod template found under ``keys``."""
    if not keys:
        return []
    node: Any = obj
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    pod = node.get("spec") if isinstance(node, dict) else None
    return podspec.warnings_for_pod_spec(pod, ".".join((*keys, "spec"))) if isinstance(pod, dict) else []


class WorkloadStrategy(Strategy):
    """A kind whose status starts as the zero value of its Go status struct."""

    #: status fields Go serialises even when zero
    zero_status: dict[str, Any] = {}
    #: where the pod template is, for its warnings (``()``: no template)
    template_keys: tuple[str, ...] = ("spec", "template")

    def warnings_on_create(self, obj: Object) -> list[str]:
        return template_warnings(obj, self.template_keys)

    def warnings_on_update(self, obj: Object, old: Object) -> list[str]:
        if (obj.get("metadata") or {}).get("generation") == (old.get("metadata") or {}).get("generation"):
            return []
        return template_warnings(obj, self.template_keys)

    def initial_status(self, obj: Object) -> Any:
        return copy.deepcopy(self.zero_status)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = self.initial_status(obj)

    def default_status(self, obj: Object) -> None:
        st = obj.get("status")
        if isinstance(st, dict):
            fill_zero(st, self.zero_status)


class WorkloadStatusStrategy(StatusStrategy):
    """``/status``: the old spec wins. ``keep_old_labels`` (Deployments only upstream) also keeps labels."""

    keep_old_labels = False

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        labels = (obj.get("metadata") or {}).get("labels")
        super().prepare_for_update(obj, old, ctx)
        md = obj.setdefault("metadata", {})
        if not self.keep_old_labels:
            if labels is None:
                md.pop("labels", None)
            else:
                md["labels"] = labels
        if self.main.tracks_generation and "generation" in (old.get("metadata") or {}):
            md["generation"] = old["metadata"]["generation"]

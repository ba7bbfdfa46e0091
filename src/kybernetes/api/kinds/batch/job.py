"""batch/v1 Job: defaults, generated selector and labels, validation, immutable fields, ``/status``,
the ``status.successful`` field selector and the table (with 1.32's STATUS column).

The generic write path calls this strategy; the job controller owns ``jobs/status``.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.kinds.batch import _jobspec
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "batch", "v1", "Job"
LEGACY_JOB_NAME, JOB_NAME = "job-name", "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID, CONTROLLER_UID = "controller-uid", "batch.kubernetes.io/controller-uid"
MAX_INT32 = 2**31 - 1
_TEMPLATE_META = "spec.template.metadata"
_INDEXED_WARNING = ("In Indexed Jobs with a number of completions higher than 10^5 and a parallelism higher than 10^4, "
                    "Kubernetes might not be able to track completedIndexes when a big number of indexes fail")
_IMMUTABLE = ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy")

COLUMNS = (
    NAME_COLUMN,
    Column("Status", description="Status of the job."),
    Column("Completions", description="The number of pods which reached phase Succeeded. The value increases "
           "monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed "
           "jobs."),
    Column("Duration", description="Time required to complete the job."),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
    Column("Selector", priority=1, description="A label query over pods that should match the pod count. Normally, "
           "the system sets this field for you. More info: "
           "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
)


def _copy_template_labels(obj: Object) -> None:
    """Jobs without labels take their template's (the defaulting Kubernetes applies on every read)."""
    labels = common.template_labels(common.template_of(common.spec(obj)))
    md = obj.setdefault("metadata", {})
    if isinstance(labels, dict) and labels and not md.get("labels"):
        md["labels"] = dict(labels)


def set_defaults(obj: Object) -> None:
    """``SetDefaults_Job`` plus the pod template's defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    _jobspec.default_pod_failure_policy(spec)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    if isinstance(spec.get("template"), dict):
        podspec.default_pod_template(spec["template"])
    _copy_template_labels(obj)


def generate_selector(obj: Object) -> None:
    """Label the template with the job's name and uid and select the uid (unless manualSelector)."""
    spec = obj.setdefault("spec", {})
    md = obj.get("metadata") or {}
    template = spec.get("template")
    if not isinstance(template, dict):
        template = spec["template"] = {}
    tmd = template.get("metadata")
    if not isinstance(tmd, dict):
        tmd = template["metadata"] = {}
    labels = tmd.get("labels")
    if not isinstance(labels, dict):
        labels = tmd["labels"] = {}
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, md.get("name", ""))
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, md.get("uid", ""))
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, md.get("uid", ""))


def _has_label(labels: Any, key: str, expected: str) -> list[FieldError]:
    """``ValidateHasLabel`` on the pod template."""
    labels = labels if isinstance(labels, dict) else {}
    path = f"{_TEMPLATE_META}.labels[{key}]"
    if key not in labels:
        return [errors.required(path, expected)]
    if labels[key] != expected:
        return [errors.invalid(path, validation.go_string_map(labels), f"must be '{expected}'")]
    return []


def _validate_generated_selector(obj: Object, prefixed: bool) -> list[FieldError]:
    spec = common.spec(obj)
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    md = obj.get("metadata") or {}
    uid, name = str(md.get("uid") or ""), str(md.get("name") or "")
    errs: list[FieldError] = [errors.required("metadata.uid")] if not uid else []
    labels = common.template_labels(common.template_of(spec))
    errs += _has_label(labels, LEGACY_CONTROLLER_UID, uid) + _has_label(labels, LEGACY_JOB_NAME, name)
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    if prefixed:
        errs += _has_label(labels, CONTROLLER_UID, uid) + _has_label(labels, JOB_NAME, name)
        expected.update({CONTROLLER_UID: uid, JOB_NAME: name})
    if common.selector_matches(spec["selector"], expected) is False:
        errs.append(errors.invalid("spec.selector", validation.go_label_selector(spec["selector"]),
                                   "`selector` not auto-generated"))
    return errs


def validate_job(obj: Object, prefixed: bool) -> list[FieldError]:
    """``ValidateJob``: generated selector, the spec, and pod hostnames of Indexed Jobs."""
    spec = common.spec(obj)
    errs = _validate_generated_selector(obj, prefixed)
    errs.extend(_jobspec.validate_job_spec(spec, "spec"))
    if spec.get("selector") is None:
        errs.append(errors.required("spec.selector"))
    else:
        errs.extend(validation.validate_label_selector(spec["selector"], "spec.selector"))
    labels = common.template_labels(common.template_of(spec))
    if common.selector_matches(spec.get("selector"), labels) is False:
        errs.append(errors.invalid("spec.template.metadata.labels", validation.go_string_map(labels),
                                   common.NOT_MATCHING))
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        hostname = f"{common.name(obj)}-{completions - 1}"
        if validation.is_dns1123_label(hostname):
            errs.append(errors.invalid("metadata.name", common.name(obj),
                                       f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


def _comparable_template(template: Any, new: Any, mutable_scheduling: bool) -> Any:
    """The old template with the fields a suspended, never-started Job may change taken from ``new``."""
    if not mutable_scheduling or not isinstance(template, dict) or not isinstance(new, dict):
        return template
    old = copy.deepcopy(template)
    old_pod, new_pod = old.setdefault("spec", {}), new.get("spec") or {}
    affinity = dict(old_pod.get("affinity") or {})
    affinity.pop("nodeAffinity", None)
    if (new_pod.get("affinity") or {}).get("nodeAffinity") is not None:
        affinity["nodeAffinity"] = new_pod["affinity"]["nodeAffinity"]
    old_pod["affinity"] = affinity or None
    for f in ("nodeSelector", "tolerations", "schedulingGates"):
        old_pod[f] = new_pod.get(f)
    old_md, new_md = old.setdefault("metadata", {}), new.get("metadata") or {}
    for f in ("annotations", "labels"):
        old_md[f] = new_md.get(f)
    return old


def validate_spec_update(obj: Object, old: Object) -> list[FieldError]:
    spec, old_spec = common.spec(obj), common.spec(old)
    errs: list[FieldError] = []
    if spec.get("completionMode") != "Indexed":
        errs += common.immutable(spec.get("completions"), old_spec.get("completions"), "spec.completions")
    elif spec.get("completions") != old_spec.get("completions") and spec.get("completions") is not None \
            and spec.get("completions") != spec.get("parallelism"):
        errs.append(errors.invalid("spec.completions", spec["completions"],
                                   "can only be modified in tandem with spec.parallelism"))
    errs += common.immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector",
                             validation.go_label_selector(spec.get("selector")))
    mutable = old_spec.get("suspend") is True and common.status(old).get("startTime") is None
    errs += common.immutable(spec.get("template"),
                             _comparable_template(old_spec.get("template"), spec.get("template"), mutable),
                             "spec.template")
    for f in _IMMUTABLE:
        errs += common.immutable(spec.get(f), old_spec.get(f), f"spec.{f}")
    return errs


def _condition_true(obj: Object, kind: str) -> bool:
    """``hasJobCondition``: the first condition of that type decides."""
    for c in common.status(obj).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == kind:
            return c.get("status") == "True"
    return False


def job_status(obj: Object) -> str:
    if _condition_true(obj, "Complete"):
        return "Complete"
    if _condition_true(obj, "Failed"):
        return "Failed"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if _condition_true(obj, "Suspended"):
        return "Suspended"
    if _condition_true(obj, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def completions_cell(spec: dict[str, Any], succeeded: int) -> str:
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def duration_cell(st: dict[str, Any], now: float) -> str:
    start = printing.parse_time(st.get("startTime"))
    if start is None:
        return ""
    end = printing.parse_time(st.get("completionTime"))
    return printing.human_duration((now if end is None else end) - start)


def spec_warnings(spec: dict[str, Any], path: str) -> list[str]:
    if spec.get("completionMode") == "Indexed" and (spec.get("completions") or 0) > 100_000 \
            and (spec.get("parallelism") or 0) > 10_000:
        return [f"{path}: {_INDEXED_WARNING}"]
    return []


class JobStrategy(common.WorkloadStrategy):
    def default(self, obj: Object) -> None:
        set_defaults(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        md = obj.setdefault("metadata", {})
        # Defaulting made the job's labels the very map of its template's labels (Go shares it),
        # so the generated template labels show up on the job as well.
        shared = md.get("labels") == common.template_labels(common.template_of(common.spec(obj)))
        if common.spec(obj).get("manualSelector") is not True:
            generate_selector(obj)
        if shared:
            md.pop("labels", None)
        super().prepare_for_create(obj, ctx)
        _copy_template_labels(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_job(obj, prefixed=True)

    def warnings_on_create(self, obj: Object) -> list[str]:
        return (common.name_warnings(obj) + spec_warnings(common.spec(obj), "spec")
                + super().warnings_on_create(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        old_labels = common.template_labels(common.template_of(common.spec(old)))
        old_labels = old_labels if isinstance(old_labels, dict) else {}
        prefixed = JOB_NAME in old_labels and CONTROLLER_UID in old_labels
        return validate_job(obj, prefixed) + validate_spec_update(obj, old)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = super().field_selectors(obj)
        fields["status.successful"] = str(common.status(obj).get("succeeded") or 0)
        return fields

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        names, images = printing.container_cells(common.containers(common.template_of(spec)))
        return [common.name(obj), job_status(obj), completions_cell(spec, st.get("succeeded") or 0),
                duration_cell(st, now), printing.age(obj, now), names, images,
                printing.format_label_selector(spec.get("selector"))]


class JobStatusStrategy(common.WorkloadStatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        st = common.status(obj)
        errs = common.nonnegative(st, ("active", "succeeded", "failed", "ready", "terminating"), "status")
        uncounted = st.get("uncountedTerminatedPods") or {}
        seen: set[str] = set()
        for group in ("succeeded", "failed"):
            for i, uid in enumerate(uncounted.get(group) or []):
                p = f"status.uncountedTerminatedPods.{group}[{i}]"
                if not uid:
                    errs.append(errors.invalid(p, uid, "must not be empty"))
                elif uid in seen:
                    errs.append(errors.duplicate(p, uid))
                seen.add(uid)
        return errs


STRATEGY = JobStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="jobs", singular="job", namespaced=True,
        strategy=STRATEGY, categories=("all",),
        subresources=(Subresource("status", KIND, GROUP, VERSION),),
        status_strategy=JobStatusStrategy(STRATEGY),
    ),
)

"""batch/v1 CronJob: defaults, schedule/time-zone/job-template validation, ``/status`` and the table.

The generic write path calls this strategy; the cronjob controller creates the Jobs and owns
``cronjobs/status``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.kinds.batch import _cron, _jobspec
from kybernetes.api.kinds.batch.job import spec_warnings
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "batch", "v1", "CronJob"
#: the controller appends ``-<minutes since epoch>`` (11 characters) to name the Jobs
MAX_NAME_LENGTH = 63 - 11
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]

COLUMNS = (
    NAME_COLUMN,
    Column("Schedule", description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    Column("Timezone", description="The time zone name for the given schedule, see "
           "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the "
           "time zone of the kube-controller-manager process. The set of valid time zone names and the time zone "
           "offset is loaded from the system-wide time zone database by the API server during CronJob validation "
           "and the controller manager during execution. If no system-wide time zone database can be found a "
           "bundled version of the database is used instead. If the time zone name becomes invalid during the "
           "lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new "
           "new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found "
           "in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    Column("Suspend", "boolean", description="This flag tells the controller to suspend subsequent executions, it "
           "does not apply to already started executions.  Defaults to false."),
    Column("Active", "integer", description="A list of pointers to currently running jobs."),
    Column("Last Schedule", description="Information when was the last time the job was successfully scheduled."),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
    Column("Selector", priority=1, description="A label query over pods that should match the pod count. Normally, "
           "the system sets this field for you. More info: "
           "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
)


def job_spec(obj: Object) -> dict[str, Any]:
    spec = (common.spec(obj).get("jobTemplate") or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def set_defaults(obj: Object) -> None:
    """``SetDefaults_CronJob`` plus the job template's pod template defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        md = job_template.get("metadata")
        if not isinstance(md, dict):
            md = job_template["metadata"] = {}
        md.setdefault("creationTimestamp", None)
        template = (job_template.get("spec") or {}).get("template")
        if isinstance(template, dict):
            podspec.default_pod_template(template)


def validate_job_template(job_template: Any, path: str) -> list[FieldError]:
    """``ValidateJobTemplateSpec``: a JobSpec whose selector the Job will generate."""
    spec = (job_template or {}).get("spec") if isinstance(job_template, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    errs = _jobspec.validate_job_spec(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        errs.append(errors.invalid(f"{path}.spec.selector", validation.go_label_selector(spec["selector"]),
                                   "`selector` will be auto-generated"))
    if spec.get("manualSelector") is True:
        errs.append(errors.not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return errs


def validate_spec(spec: dict[str, Any], old: dict[str, Any] | None, path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    schedule = str(spec.get("schedule") or "")
    if not schedule:
        errs.append(errors.required(f"{path}.schedule"))
    else:
        allow_tz = old is not None and "TZ" in str(old.get("schedule") or "")
        errs.extend(_cron.validate_schedule(schedule, spec.get("timeZone"), allow_tz, f"{path}.schedule"))
    errs.extend(validation.validate_nonnegative(spec.get("startingDeadlineSeconds"), f"{path}.startingDeadlineSeconds"))
    if old is None or old.get("timeZone") != spec.get("timeZone"):
        errs.extend(_cron.validate_time_zone(spec.get("timeZone"), f"{path}.timeZone"))
    policy = spec.get("concurrencyPolicy") or ""
    if policy == "":
        errs.append(errors.required(f"{path}.concurrencyPolicy"))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(errors.not_supported(f"{path}.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    errs.extend(validate_job_template(spec.get("jobTemplate"), f"{path}.jobTemplate"))
    for f in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.extend(validation.validate_nonnegative(spec.get(f), f"{path}.{f}"))
    return errs


class CronJobStrategy(common.WorkloadStrategy):
    template_keys = ("spec", "jobTemplate", "spec", "template")

    def default(self, obj: Object) -> None:
        set_defaults(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_spec(common.spec(obj), None)
        name = common.name(obj)
        if len(name) > MAX_NAME_LENGTH:
            errs.append(errors.invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters"))
        return errs

    def warnings_on_create(self, obj: Object) -> list[str]:
        return (common.name_warnings(obj) + spec_warnings(job_spec(obj), "spec.jobTemplate.spec")
                + super().warnings_on_create(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        # The 52-character limit is skipped on update so that old, longer names stay editable.
        return validate_spec(common.spec(obj), common.spec(old))

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        jspec = job_spec(obj)
        names, images = printing.container_cells(common.containers(common.template_of(jspec)))
        last = st.get("lastScheduleTime")
        tz = spec.get("timeZone")
        return [common.name(obj), spec.get("schedule") or "", "<none>" if tz is None else tz,
                printing.bool_ptr(spec.get("suspend")), len(st.get("active") or []),
                "<none>" if last is None else printing.translate_timestamp_since(last, now),
                printing.age(obj, now), names, images, printing.format_label_selector(jspec.get("selector"))]


STRATEGY = CronJobStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="cronjobs", singular="cronjob", namespaced=True,
        strategy=STRATEGY, short_names=("cj",), categories=("all",),
        subresources=(Subresource("status", KIND, GROUP, VERSION),),
        status_strategy=common.WorkloadStatusStrategy(STRATEGY),
    ),
)

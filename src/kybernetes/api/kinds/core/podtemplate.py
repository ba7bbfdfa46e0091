"""core/v1 PodTemplate: a stored pod template with a generation, validated like the pod it describes."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, Column("Containers", description="Names of each container in the template."),
            Column("Images", description="Images referenced by each container in the template."),
            Column("Pod Labels", description="The labels for the pod template."))


class PodTemplateStrategy(Strategy):
    has_status = False
    tracks_generation = True
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        podspec.default_pod_template(c.ensure(obj, "template"))

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return podspec.validate_pod_template(c.section(obj, "template"), "template")

    def warnings_on_create(self, obj: Object) -> list[str]:
        return podspec.warnings_for_pod_spec(c.section(c.section(obj, "template"), "spec"), "template.spec")

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        template = c.section(obj, "template")
        names, images = printing.container_cells(c.dicts(c.section(template, "spec").get("containers")))
        return [c.name(obj), names, images, printing.map_selector_string(c.meta(template).get("labels"))]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="PodTemplate", plural="podtemplates", singular="podtemplate",
                 namespaced=True, strategy=PodTemplateStrategy()),
)

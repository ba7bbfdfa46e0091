"""What PersistentVolumes and PersistentVolumeClaims share: access modes, volume modes, storage-class
lookup and the ``RWO,RWX`` cell. Used by ``persistentvolume.py`` and ``persistentvolumeclaim.py``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.types import Object

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
VOLUME_MODES = ["Block", "Filesystem"]
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_SHORT = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def access_modes_cell(modes: Any) -> str:
    """``GetAccessModesAsString``."""
    present = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for mode, short in _SHORT if mode in present)


def storage_class(obj: Object) -> str:
    """The beta annotation wins over ``spec.storageClassName`` (``GetPersistentVolume(Claim)Class``)."""
    annotation = (c.meta(obj).get("annotations") or {}).get(BETA_CLASS_ANNOTATION)
    if annotation is not None:
        return str(annotation)
    return str(c.section(obj, "spec").get("storageClassName") or "")


def validate_access_modes(modes: Any, path: str, required_detail: str) -> list[FieldError]:
    modes = modes if isinstance(modes, list) else []
    errs: list[FieldError] = []
    if not modes:
        errs.append(errors.required(path, required_detail))
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(errors.not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(errors.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_positive_quantity(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveQuantityValue``."""
    amount = validation.quantity_value(value)
    if amount is None:
        return validation.validate_quantity(value, path)
    if amount <= 0:
        return [errors.invalid(path, validation.canonical_quantity(value), "must be greater than zero")]
    return []


def validate_class_and_mode(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.get("storageClassName"):
        errs.extend(validation.validate_dns1123_subdomain(str(spec["storageClassName"]), f"{path}.storageClassName"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(errors.not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return errs

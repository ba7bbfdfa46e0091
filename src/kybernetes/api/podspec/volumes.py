"""Validation of ``spec.volumes`` and every volume source (projections, key-to-path items,
downward API files, file modes).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.podspec._common import (
    FILE_MODE_ERR,
    HOST_PATH_TYPES,
    VOLUME_FIELD_PATHS,
    _dicts,
    _local_descending_path,
    _no_backsteps,
)
from kybernetes.api.podspec.containers import _validate_field_ref, _validate_resource_field_ref
from kybernetes.api.podspec.defaults import VOLUME_SOURCES


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    """``ValidateVolumes``: the valid volumes by name (mounts may only use those) and every error."""
    errs: list[FieldError] = []
    valid: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    for i, vol in enumerate(_dicts(volumes)):
        p = f"{path}[{i}]"
        name = str(vol.get("name") or "")
        el = _validate_volume_source(vol, p)
        if not name:
            el.append(errors.required(f"{p}.name"))
        else:
            el.extend(validation.validate_dns1123_label(name, f"{p}.name"))
        if name in names:
            el.append(errors.duplicate(f"{p}.name", name))
        if el:
            errs.extend(el)
        else:
            names.add(name)
            valid[name] = vol
    return valid, errs


def _validate_volume_source(vol: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in VOLUME_SOURCES:
        src = vol.get(key)
        if not isinstance(src, dict):
            continue
        if count:
            errs.append(errors.forbidden(f"{p}.{key}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs.extend(validate_one_volume_source(key, src, f"{p}.{key}"))
    if not count:
        errs.append(errors.required(p, "must specify a volume type"))
    return errs


def validate_one_volume_source(key: str, src: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if key == "hostPath":
        if not src.get("path"):
            return [errors.required(f"{p}.path")]
        errs.extend(_no_backsteps(str(src["path"]), f"{p}.path"))
        if src.get("type") is not None and src["type"] not in HOST_PATH_TYPES:
            errs.append(errors.not_supported(f"{p}.type", src["type"], HOST_PATH_TYPES))
    elif key == "emptyDir":
        if src.get("sizeLimit") is not None:
            amount = validation.quantity_value(src["sizeLimit"])
            if amount is None:
                errs.extend(validation.validate_quantity(src["sizeLimit"], f"{p}.sizeLimit"))
            elif amount < 0:
                errs.append(errors.forbidden(f"{p}.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    elif key in ("secret", "configMap"):
        ref = "secretName" if key == "secret" else "name"
        if not src.get(ref):
            errs.append(errors.required(f"{p}.{ref}"))
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        for i, item in enumerate(_dicts(src.get("items"))):
            errs.extend(_validate_key_to_path(item, f"{p}.items[{i}]"))
    elif key == "downwardAPI":
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        for item in _dicts(src.get("items")):
            errs.extend(_validate_downward_file(item, p))
    elif key == "projected":
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        errs.extend(_validate_projection_sources(src, p))
    elif key == "persistentVolumeClaim":
        if not src.get("claimName"):
            errs.append(errors.required(f"{p}.claimName"))
    elif key == "nfs":
        if not src.get("server"):
            errs.append(errors.required(f"{p}.server"))
        if not src.get("path"):
            errs.append(errors.required(f"{p}.path"))
        elif not str(src["path"]).startswith("/"):
            errs.append(errors.invalid(f"{p}.path", src["path"], "must be an absolute path"))
    elif key == "csi":
        if not src.get("driver"):
            errs.append(errors.required(f"{p}.driver"))
    elif key == "ephemeral" and not isinstance(src.get("volumeClaimTemplate"), dict):
        errs.append(errors.required(f"{p}.volumeClaimTemplate"))
    return errs


def _validate_projection_sources(projected: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    paths: set[str] = set()
    for i, source in enumerate(_dicts(projected.get("sources"))):
        sp = f"{p}.sources[{i}]"
        count = 0
        for key in ("secret", "configMap"):
            src = source.get(key)
            if not isinstance(src, dict):
                continue
            count += 1
            if not src.get("name"):
                errs.append(errors.required(f"{sp}.{key}.name"))
            for j, item in enumerate(_dicts(src.get("items"))):
                errs.extend(_validate_key_to_path(item, f"{sp}.{key}.items[{j}]"))
                if item.get("path"):
                    if item["path"] in paths:
                        errs.append(errors.invalid(p, src.get("name", ""), "conflicting duplicate paths"))
                    paths.add(item["path"])
        if isinstance(source.get("downwardAPI"), dict):
            count += 1
            for item in _dicts(source["downwardAPI"].get("items")):
                errs.extend(_validate_downward_file(item, f"{sp}.downwardAPI"))
                if item.get("path"):
                    if item["path"] in paths:
                        errs.append(errors.invalid(p, item["path"], "conflicting duplicate paths"))
                    paths.add(item["path"])
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            count += 1
            seconds = token.get("expirationSeconds") or 0
            if isinstance(seconds, int) and seconds < 600:
                errs.append(errors.invalid(f"{sp}.serviceAccountToken.expirationSeconds", seconds,
                                           "may not specify a duration less than 10 minutes"))
            if isinstance(seconds, int) and seconds > 1 << 32:
                errs.append(errors.invalid(f"{sp}.serviceAccountToken.expirationSeconds", seconds,
                                           "may not specify a duration larger than 2^32 seconds"))
            if not token.get("path"):
                errs.append(errors.required(f"{p}.path"))
        if isinstance(source.get("clusterTrustBundle"), dict):
            count += 1
        if count > 1:
            errs.append(errors.forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _validate_key_to_path(item: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("key"):
        errs.append(errors.required(f"{p}.key"))
    if not item.get("path"):
        errs.append(errors.required(f"{p}.path"))
    errs.extend(_local_non_reserved_path(str(item.get("path") or ""), f"{p}.path"))
    errs.extend(_file_mode(item.get("mode"), f"{p}.mode"))
    return errs


def _validate_downward_file(item: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("path"):
        errs.append(errors.required(f"{p}.path"))
    errs.extend(_local_non_reserved_path(str(item.get("path") or ""), f"{p}.path"))
    if isinstance(item.get("fieldRef"), dict):
        errs.extend(_validate_field_ref(item["fieldRef"], VOLUME_FIELD_PATHS, f"{p}.fieldRef"))
        if item.get("resourceFieldRef") is not None:
            errs.append(errors.invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified "
                                                      "simultaneously"))
    elif isinstance(item.get("resourceFieldRef"), dict):
        errs.extend(_validate_resource_field_ref(item["resourceFieldRef"], f"{p}.resourceFieldRef", True))
    else:
        errs.append(errors.required(p, "one of fieldRef and resourceFieldRef is required"))
    errs.extend(_file_mode(item.get("mode"), f"{p}.mode"))
    return errs


def _file_mode(mode: Any, p: str) -> list[FieldError]:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [errors.invalid(p, mode, FILE_MODE_ERR)]
    return []


def _local_non_reserved_path(target: str, p: str) -> list[FieldError]:
    errs = _local_descending_path(target, p)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(errors.invalid(p, target, "must not start with '..'"))
    return errs

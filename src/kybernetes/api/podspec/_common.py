"""Shared pieces of PodSpec validation: allowed values, messages and small helpers.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []



# --- validation -------------------------------------------------------------------------------------

FILE_MODE_ERR = "must be a number between 0 and 0777 (octal), both inclusive"
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
VOLUME_FIELD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                      "metadata.uid"]
RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                        "requests.ephemeral-storage", "requests.memory"]
_EPHEMERAL_ALLOWED = {"name", "image", "command", "args", "workingDir", "env", "envFrom", "volumeMounts",
                      "volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                      "securityContext", "stdin", "stdinOnce", "tty", "targetContainerName"}
_NOT_POSITIVE = "must be greater than zero"
_MAX_INT32 = 2147483647
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_HTTP_HEADER_RE = re.compile(r"^[-A-Za-z0-9]+$")
_ENV_NAME_ERR = ("a valid environment variable name must consist only of printable ASCII characters other than "
                 "'='")
_SUBSCRIPT_RE = re.compile(r"^(metadata\.(?:annotations|labels))\['(.*)'\]$")



def _enum(value: Any, allowed: list[str], p: str) -> list[FieldError]:
    if not value:
        return [errors.required(p)]
    if value not in allowed:
        return [errors.not_supported(p, value, allowed)]
    return []


def _no_backsteps(target: str, p: str) -> list[FieldError]:
    if ".." in target.split("/"):
        return [errors.invalid(p, target, "must not contain '..'")]
    return []


def _local_descending_path(target: str, p: str) -> list[FieldError]:
    errs = [errors.invalid(p, target, "must be a relative path")] if posixpath.isabs(target) else []
    return errs + _no_backsteps(target, p)

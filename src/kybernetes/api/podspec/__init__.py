"""PodSpec defaulting and validation shared by pods and every kind with a pod template.

Pods (``api/kinds/core/pod.py``) and templates (Deployments, ReplicaSets, StatefulSets, DaemonSets,
Jobs, CronJobs, ReplicationControllers, PodTemplates) call these so that a template is defaulted and
validated exactly like the pod it will become. Defaults follow Kubernetes 1.32's ``SetDefaults_PodSpec``
family (``defaults``); validation follows ``ValidatePodSpec`` with Kubernetes' messages (``spec``, which
hands volumes, containers and scheduling fields to their own modules); ``warnings`` are the non-fatal
notes. Pod-only rules (``SetDefaults_Pod``, QoS, update rules) live in the pod kind module.
"""

from kybernetes.api.podspec._common import TAINT_EFFECTS
from kybernetes.api.podspec.containers import (
    is_extended_resource,
    overcommit_allowed,
    validate_container_resource_name,
    validate_port_num_or_name,
    validate_resource_requirements,
)
from kybernetes.api.podspec.defaults import (
    DEFAULT_FILE_MODE,
    DEFAULT_GRACE_PERIOD,
    DEFAULT_SCHEDULER,
    TERMINATION_MESSAGE_PATH,
    default_container,
    default_pod_spec,
    default_pod_template,
    default_pvc_spec,
    default_volume,
    default_volume_source,
    image_tag,
)
from kybernetes.api.podspec.scheduling import validate_tolerations
from kybernetes.api.podspec.spec import validate_pod_spec, validate_pod_spec_for_pod, validate_pod_template
from kybernetes.api.podspec.volumes import validate_one_volume_source, validate_volumes
from kybernetes.api.podspec.warnings import warnings_for_pod_spec

__all__ = [
    "DEFAULT_FILE_MODE", "DEFAULT_GRACE_PERIOD", "DEFAULT_SCHEDULER", "TAINT_EFFECTS", "TERMINATION_MESSAGE_PATH",
    "default_container", "default_pod_spec", "default_pod_template", "default_pvc_spec", "default_volume",
    "default_volume_source", "image_tag", "is_extended_resource", "overcommit_allowed",
    "validate_container_resource_name", "validate_one_volume_source", "validate_pod_spec",
    "validate_pod_spec_for_pod", "validate_pod_template", "validate_port_num_or_name",
    "validate_resource_requirements", "validate_tolerations", "validate_volumes", "warnings_for_pod_spec",
]

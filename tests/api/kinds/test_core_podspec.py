"""PodSpec defaults and validation (``api/podspec.py``) as tables of input → expected."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import podspec, validation


def defaulted(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    podspec.default_pod_spec(spec)
    return spec


def messages(spec: dict[str, Any], path: str = "spec") -> list[str]:
    return [e.message() for e in podspec.validate_pod_spec(defaulted(spec), path)]


def one(**ctr: Any) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "busybox:1.36", **ctr}]}


# --- defaults ---------------------------------------------------------------------------------------

def test_spec_level_defaults() -> None:
    spec = defaulted({"containers": [{"name": "c", "image": "nginx"}]})
    assert spec == {
        "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "securityContext": {}, "terminationGracePeriodSeconds": 30,
    }
    assert "enableServiceLinks" not in spec  # pods only (SetDefaults_Pod)


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.k8s.io/pause:3.9", "IfNotPresent"),
    ("localhost:5000/app", "Always"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("busybox:1.36@sha256:" + "b" * 64, "IfNotPresent"),
    ("NotAValidReference", "IfNotPresent"),
])
def test_image_pull_policy_from_tag(image: str, policy: str) -> None:
    assert defaulted({"containers": [{"name": "c", "image": image}]})["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept() -> None:
    spec = defaulted({"restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
                      "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]})
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == ("Never", "Default", 0)
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_container_nested_defaults() -> None:
    ctr = defaulted(one(
        ports=[{"containerPort": 80}],
        env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        livenessProbe={"httpGet": {"port": 8080}},
        readinessProbe={"grpc": {"port": 9000}},
        lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
        resources={"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": 0.1, "memory": "1e9"}},
    ))["containers"][0]
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert ctr["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert ctr["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                    "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert ctr["readinessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert ctr["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}
    assert ctr["resources"] == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "1e9"}}


def test_volume_defaults() -> None:
    vols = defaulted({"containers": [{"name": "c", "image": "x"}], "volumes": [
        {"name": "scratch"},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "sec"}},
        {"name": "dapi", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}},
                                                    {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {
                                                        "fieldPath": "metadata.namespace"}}]}}]}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1024Mi"}},
        {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "u"}},
    ]})["volumes"]
    by_name = {v["name"]: v for v in vols}
    assert by_name["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert by_name["host"]["hostPath"] == {"path": "/var/log", "type": ""}
    assert by_name["cfg"]["configMap"]["defaultMode"] == 420
    assert by_name["sec"]["secret"]["defaultMode"] == 420
    assert by_name["dapi"]["downwardAPI"] == {"defaultMode": 420, "items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}
    proj = by_name["proj"]["projected"]
    assert proj["defaultMode"] == 420
    assert proj["sources"][0]["serviceAccountToken"] == {"path": "token", "expirationSeconds": 3600}
    assert proj["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert by_name["mem"]["emptyDir"]["sizeLimit"] == "1Gi"
    assert by_name["disk"]["azureDisk"] == {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite",
                                            "fsType": "ext4", "readOnly": False, "kind": "Shared"}


def test_service_account_alias_mirrors_name() -> None:
    assert defaulted({"serviceAccountName": "robot", "containers": []})["serviceAccount"] == "robot"
    assert defaulted({"serviceAccount": "legacy", "containers": []})["serviceAccountName"] == "legacy"
    assert "serviceAccount" not in defaulted({"containers": []})


def test_disabled_feature_fields_are_dropped() -> None:
    spec = defaulted({"hostUsers": False, "resources": {"limits": {"cpu": "1"}}, "containers": [
        {"name": "c", "image": "x", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]}]})
    assert "hostUsers" not in spec and "resources" not in spec and "resizePolicy" not in spec["containers"][0]


def test_template_defaults_serialise_empty_metadata() -> None:
    template: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
    podspec.default_pod_template(template)
    assert template["metadata"] == {"creationTimestamp": None}
    assert template["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_defaults_are_idempotent() -> None:
    spec = defaulted(one(ports=[{"containerPort": 1}], livenessProbe={"tcpSocket": {"port": 1}}))
    assert defaulted(spec) == spec


@pytest.mark.parametrize(("value", "canonical"), [
    ("1", "1"), ("1000", "1k"), ("0.5", "500m"), ("1500m", "1500m"), ("1.5Gi", "1536Mi"), ("1024Mi", "1Gi"),
    ("100M", "100M"), ("129e6", "129e6"), ("0.1Ki", "102400m"), (2, "2"), (0.25, "250m"), ("0.0001", "1m"),
])
def test_resource_quantities_are_canonical(value: Any, canonical: str) -> None:
    assert validation.canonical_quantity(value, round_milli=True) == canonical


# --- validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected"), [
    ({"containers": []}, ["spec.containers: Required value"]),
    (one(image=""), ["spec.containers[0].image: Required value"]),
    ({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
     ['spec.containers[1].name: Duplicate value: "c"']),
    ({"containers": [{"name": "Web", "image": "x"}]},
     ['spec.containers[0].name: Invalid value: "Web": ' + validation.DNS1123_LABEL_ERR]),
    ({"containers": [{"image": "x"}]}, ["spec.containers[0].name: Required value"]),
    ({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "x"}]},
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    (one(ports=[{"containerPort": 70000, "protocol": "HTTP"}]),
     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    (one(ports=[{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]),
     ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
    (one(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}),
     ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']),
    (one(resources={"requests": {"cpu": "-1"}}),
     ['spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0']),
    (one(resources={"limits": {"gpu": "1"}}),
     ['spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers']),
    (one(livenessProbe={"periodSeconds": 5}),
     ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
    (one(livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
     ["spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    (one(startupProbe={"exec": {"command": ["true"]}, "successThreshold": 2}),
     ["spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1"]),
    (one(env=[{"name": "A=B", "value": "x"}]),
     ['spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
      "of printable ASCII characters other than '='"]),
    (one(env=[{"name": "A", "valueFrom": {}}]),
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
      "`configMapKeyRef` or `secretKeyRef`"]),
    (one(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]),
     ['spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported values: '
      '"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", '
      '"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"']),
    (one(restartPolicy="Always"),
     ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
    ({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "v", "secret": {}, "configMap": {"name": "c"}}]},
     ["spec.volumes[0].secret.secretName: Required value",
      "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"]),
    ({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "a"}, {"name": "a"}]},
     ['spec.volumes[1].name: Duplicate value: "a"']),
    ({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "s", "secret": {"secretName": "s",
                                                                                         "defaultMode": 1000}}]},
     ["spec.volumes[0].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), "
      "both inclusive"]),
    ({"containers": [{"name": "c", "image": "x"}], "tolerations": [{"operator": "Equal", "value": "x"}]},
     ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
      'means "match all values and all keys"']),
    ({"containers": [{"name": "c", "image": "x"}], "dnsPolicy": "None"},
     ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
    ({"containers": [{"name": "c", "image": "x"}], "activeDeadlineSeconds": 0},
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}], "hostNetwork": True},
     ["spec.containers[0].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true"]),
])
def test_validation_messages(spec: dict[str, Any], expected: list[str]) -> None:
    assert messages(spec) == expected


def test_mount_of_unknown_volume_is_not_found() -> None:
    errs = podspec.validate_pod_spec(defaulted(one(volumeMounts=[{"name": "missing", "mountPath": "/data"}])), "spec")
    assert [(e.path, e.type, e.value) for e in errs] == [
        ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", "missing")]


def test_init_containers_and_sidecars() -> None:
    base = {"containers": [{"name": "app", "image": "x"}]}
    plain_probe = {**base, "initContainers": [{"name": "init", "image": "x",
                                               "readinessProbe": {"exec": {"command": ["true"]}}}]}
    assert messages(plain_probe) == ["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init "
                                     "containers without restartPolicy=Always"]
    sidecar = {**base, "initContainers": [{"name": "side", "image": "x", "restartPolicy": "Always",
                                           "readinessProbe": {"exec": {"command": ["true"]}}}]}
    assert messages(sidecar) == []
    bad_policy = {**base, "initContainers": [{"name": "init", "image": "x", "restartPolicy": "Never"}]}
    assert messages(bad_policy) == ['spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported '
                                    'values: "Always"']
    clash = {**base, "initContainers": [{"name": "app", "image": "x"}]}
    assert messages(clash) == ['spec.initContainers[0].name: Duplicate value: "app"']


def test_template_validation_paths() -> None:
    template: dict[str, Any] = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    podspec.default_pod_template(template)
    assert [e.message() for e in podspec.validate_pod_template(template, "spec.template")] == [
        "spec.template.spec.containers[0].image: Required value"]
    assert [e.message() for e in podspec.validate_pod_template({}, "spec.template")] == [
        "spec.template.spec.terminationGracePeriodSeconds: Required value",
        "spec.template.spec.containers: Required value", "spec.template.spec.restartPolicy: Required value",
        "spec.template.spec.dnsPolicy: Required value"]


def test_pod_only_image_whitespace() -> None:
    spec = defaulted({"containers": [{"name": "c", "image": " nginx"}]})
    assert [e.message() for e in podspec.validate_pod_spec_for_pod(spec)] == [
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace']


def test_warnings() -> None:
    spec = defaulted({"nodeSelector": {"beta.kubernetes.io/os": "linux"}, "terminationGracePeriodSeconds": -5,
                      "containers": [{"name": "c", "image": "x", "resources": {"limits": {"memory": "1.5"}}}]})
    assert podspec.warnings_for_pod_spec(spec) == [
        'spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead',
        "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1",
        'spec.containers[0].resources.limits[memory]: fractional byte value "1500m" is invalid, must be an integer',
    ]

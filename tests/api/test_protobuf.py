"""Kubernetes protobuf request bodies → Go-JSON-shaped dicts (``kybernetes.api.protobuf``).

Inputs are built with a tiny protobuf writer below; field numbers are those of the Kubernetes 1.32
``generated.proto`` files. Expected outputs are what the Go apiserver's JSON would be (for the
kubectl generators: identical to ``kubectl create … --dry-run=client -o json``).
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from kybernetes.api import protobuf
from kybernetes.api.errors import StatusError

# ---------------------------------------------------------------------------------------------
# A minimal protobuf writer


def varint(n: int) -> bytes:
    """Base-128 varint; negative numbers as 64-bit two's complement (10 bytes), as Go writes them."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def v(number: int, value: int | bool) -> bytes:
    """A varint field."""
    return key(number, 0) + varint(int(value))


def s(number: int, value: str | bytes) -> bytes:
    """A length-delimited field (string, bytes)."""
    data = value.encode() if isinstance(value, str) else value
    return key(number, 2) + varint(len(data)) + data


def m(number: int, *parts: bytes) -> bytes:
    """A nested message field."""
    return s(number, b"".join(parts))


def entry(number: int, k: str, value: str | bytes) -> bytes:
    """A ``map<string, string|bytes>`` entry."""
    return m(number, s(1, k), s(2, value))


def mentry(number: int, k: str, *value: bytes) -> bytes:
    """A ``map<string, Message>`` entry."""
    return m(number, s(1, k), m(2, *value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` + runtime.Unknown, exactly as client-go writes it."""
    return b"k8s\x00" + m(1, s(1, api_version), s(2, kind)) + s(2, raw) + s(3, "") + s(4, "")


def object_meta(name: str, *extra: bytes) -> bytes:
    """ObjectMeta the way gogo-protobuf marshals it: every value field present, even when empty."""
    return m(1, s(1, name), s(2, ""), s(3, ""), s(4, ""), s(5, ""), s(6, ""), v(7, 0), m(8), *extra)


def quantity(value: str) -> bytes:
    return s(1, value)


# ---------------------------------------------------------------------------------------------
# Captured and typical kubectl bodies


CONFIGMAP_CAPTURE = (
    b"k8s\x00"
    + bytes.fromhex("0a0f") + b"\x0a\x02v1\x12\x09ConfigMap"
    + bytes.fromhex("122c")
    + bytes.fromhex("0a12") + b"\x0a\x02c1\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00"
    + bytes.fromhex("1216") + b"\x0a\x06cfgkey\x12\x0csecret-data\n"
    + b"\x1a\x00\x22\x00"
)


def test_configmap_capture_from_research_doc() -> None:
    assert protobuf.decode(CONFIGMAP_CAPTURE) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c1", "creationTimestamp": None},
        "data": {"cfgkey": "secret-data\n"},
    }


def test_handwriter_reproduces_capture() -> None:
    raw = object_meta("c1") + entry(2, "cfgkey", "secret-data\n")
    assert envelope("v1", "ConfigMap", raw) == CONFIGMAP_CAPTURE


def test_configmap_binary_data_and_immutable_false() -> None:
    blob = bytes(range(256))
    raw = object_meta("bin") + v(4, False) + entry(3, "blob", blob) + entry(3, "empty", b"")
    out = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert out["binaryData"] == {"blob": base64.b64encode(blob).decode(), "empty": ""}
    assert out["immutable"] is False  # a present *bool is printed even when false
    assert "data" not in out


def test_secret_binary_data_is_base64() -> None:
    raw = (object_meta("s1") + entry(2, "k", b"\x00\xff\xfebin") + entry(2, "t", "v")
           + entry(4, "plain", "text") + s(3, "Opaque"))
    assert protobuf.decode(envelope("v1", "Secret", raw)) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s1", "creationTimestamp": None},
        "data": {"k": "AP/+Ymlu", "t": "dg=="},
        "stringData": {"plain": "text"},
        "type": "Opaque",
    }


def test_secret_empty_type_is_omitted() -> None:
    out = protobuf.decode(envelope("v1", "Secret", object_meta("s") + s(3, "")))
    assert out == {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "creationTimestamp": None}}


def _deployment(replicas: int) -> bytes:
    container = (
        s(1, "nginx"), s(2, "nginx:1.25"),
        m(6, s(1, ""), v(2, 0), v(3, 8080), s(4, "TCP"), s(5, "")),
        m(8, mentry(1, "cpu", quantity("500m")), mentry(1, "memory", quantity("128Mi")),
          mentry(2, "cpu", quantity("250m"))),
        s(13, ""), s(20, ""), s(14, ""), v(16, False), v(17, False), v(18, False),
    )
    pod_spec = m(2, m(2, *container), s(3, ""), s(6, ""), s(8, ""), s(9, ""), s(10, ""), v(11, False))
    template = m(3, object_meta("", entry(11, "app", "web")), pod_spec)
    spec = m(2, v(1, replicas), m(2, entry(1, "app", "web")), template, m(4, s(1, "")), v(5, 0), v(7, False))
    status = m(3, v(1, 0), v(2, 0), v(3, 0), v(4, 0), v(5, 0))
    return envelope("apps/v1", "Deployment", object_meta("web", entry(11, "app", "web")) + spec + status)


def test_deployment() -> None:
    assert protobuf.decode(_deployment(3)) == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": None},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
                    }],
                },
            },
            "strategy": {},
        },
        "status": {},
    }


def test_deployment_zero_replicas_kept() -> None:
    assert protobuf.decode(_deployment(0))["spec"]["replicas"] == 0


def test_absent_value_fields_take_go_zero_values() -> None:
    # Only the name: Go still prints value structs ({}), zero IntOrString (0) and non-omitempty
    # scalars; nil slices without omitempty are null.
    port = m(1, v(3, 80))
    out = protobuf.decode(envelope("v1", "Service", m(1, s(1, "svc")) + m(2, port)))
    assert out == {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "svc", "creationTimestamp": None},
        "spec": {"ports": [{"port": 80, "targetPort": 0}]},
        "status": {"loadBalancer": {}},
    }
    container = protobuf.decode_message("k8s.io.api.core.v1.Container", b"")
    assert container == {"name": "", "resources": {}}
    role = protobuf.decode(envelope("rbac.authorization.k8s.io/v1", "ClusterRole", m(1, s(1, "agg"))))
    assert role["rules"] is None


def _service_port(name: str, target: bytes) -> bytes:
    return m(1, s(1, name), s(2, "TCP"), v(3, 80), m(4, target), v(5, 0))


def test_service_intorstring_target_port() -> None:
    raw = object_meta("svc1", entry(11, "app", "svc1")) + m(
        2,
        _service_port("int", v(1, 0) + v(2, 8080) + s(3, "")),
        _service_port("str", v(1, 1) + v(2, 0) + s(3, "http")),
        entry(2, "app", "svc1"), s(3, ""), s(4, "ClusterIP"), s(7, ""), s(8, ""), s(10, ""), s(11, ""), v(12, 0),
        v(13, False),
    ) + m(3, m(1))
    out = protobuf.decode(envelope("v1", "Service", raw))
    assert out["spec"] == {
        "ports": [
            {"name": "int", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "str", "protocol": "TCP", "port": 80, "targetPort": "http"},
        ],
        "selector": {"app": "svc1"},
        "type": "ClusterIP",
    }
    assert out["status"] == {"loadBalancer": {}}


def test_intorstring_bad_type_is_rejected() -> None:
    raw = object_meta("svc") + m(2, _service_port("x", v(1, 7)))
    with pytest.raises(StatusError) as e:
        protobuf.decode(envelope("v1", "Service", raw))
    assert e.value.code == 400
    assert "IntOrString" in e.value.message


def test_job_and_negative_ints() -> None:
    container = m(2, s(1, "j1"), s(2, "busybox"), s(3, "echo"), s(3, "hi"), m(8))
    template = m(6, object_meta(""), m(2, container, s(3, "Never")))
    spec = m(2, v(7, -1), v(3, -9_000_000_000), template, v(8, 100))
    raw = object_meta("j1") + spec + m(3, v(4, 0), v(5, 0), v(6, 0))
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    assert protobuf.decode(envelope("batch/v1", "Job", raw)) == {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "j1", "creationTimestamp": None},
        "spec": {
            "activeDeadlineSeconds": -9_000_000_000,
            "backoffLimit": -1,
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "containers": [{"name": "j1", "image": "busybox", "command": ["echo", "hi"], "resources": {}}],
                    "restartPolicy": "Never",
                },
            },
            "ttlSecondsAfterFinished": 100,
        },
        "status": {},
    }


def test_int32_wraps_like_go() -> None:
    raw = object_meta("pc") + v(2, -5) + s(4, "neg")
    out = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))
    assert out["value"] == -5 and out["description"] == "neg"
    # A 5-byte varint of 2**32 - 5 is the same int32 (-5) to Go's decoder.
    out = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", object_meta("pc") + v(2, 2**32 - 5)))
    assert out["value"] == -5
    # PriorityClass.value has no omitempty: 0 is printed.
    out = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", object_meta("pc")))
    assert out["value"] == 0


def test_times() -> None:
    created = m(8, v(1, 1767225600), v(2, 999))  # nanos are dropped by metav1.Time
    deleted = m(9, v(1, 1767225601))
    out = protobuf.decode(envelope("v1", "ConfigMap", m(1, s(1, "t"), created, deleted, v(10, 0))))
    assert out["metadata"] == {
        "name": "t",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "deletionTimestamp": "2026-01-01T00:00:01Z",
        "deletionGracePeriodSeconds": 0,
    }
    # Go's zero time, sent explicitly, is still null.
    out = protobuf.decode(envelope("v1", "ConfigMap", m(1, s(1, "t"), m(8, v(1, -62135596800)))))
    assert out["metadata"]["creationTimestamp"] is None


def test_microtime_lease() -> None:
    spec = m(2, s(1, "holder"), v(2, 15), m(4, v(1, 1767225600), v(2, 123456789)), v(5, 0))
    out = protobuf.decode(envelope("coordination.k8s.io/v1", "Lease", object_meta("l") + spec))
    assert out["spec"] == {
        "holderIdentity": "holder",
        "leaseDurationSeconds": 15,
        "renewTime": "2026-01-01T00:00:00.123456Z",
        "leaseTransitions": 0,
    }


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (2_000_000, "2ms"), (1_500_000_000, "1.5s"),
    (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (-(3723 * 10**9 + 5), "-1h2m3.000000005s"),
])
def test_duration(ns: int, text: str) -> None:
    assert protobuf.decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.Duration", v(1, ns)) == text


def test_raw_extension_and_inline_embedding() -> None:
    revision = object_meta("rev") + m(2, s(1, b'{"spec":{"x":[1,2]}}')) + v(3, 4)
    out = protobuf.decode(envelope("apps/v1", "ControllerRevision", revision))
    assert out["data"] == {"spec": {"x": [1, 2]}} and out["revision"] == 4
    # Nested envelope inside a RawExtension.
    nested = envelope("v1", "ConfigMap", object_meta("inner"))
    out = protobuf.decode(envelope("apps/v1", "ControllerRevision", object_meta("rev") + m(2, s(1, nested))))
    assert out["data"]["metadata"]["name"] == "inner"

    # Volume.volumeSource and ConfigMapEnvSource.localObjectReference are json:",inline".
    container = m(2, s(1, "c"), m(19, s(1, "P_"), m(2, m(1, s(1, "cm1")), v(2, True))))
    volume = m(1, s(1, "vol"), m(2, m(19, m(1, s(1, "cm2")), v(3, 0o644))))
    out = protobuf.decode(envelope("v1", "Pod", object_meta("p") + m(2, volume, container)))
    assert out["spec"]["volumes"] == [{"name": "vol", "configMap": {"name": "cm2", "defaultMode": 0o644}}]
    assert out["spec"]["containers"][0]["envFrom"] == [{"prefix": "P_", "configMapRef": {"name": "cm1",
                                                                                          "optional": True}}]


def test_packed_and_unpacked_repeated_scalars() -> None:
    unpacked = v(4, 1) + v(4, 2)
    packed = s(4, varint(3) + varint(4))
    out = protobuf.decode(envelope("v1", "Pod", object_meta("p") + m(2, m(14, unpacked, packed))))
    assert out["spec"]["securityContext"] == {"supplementalGroups": [1, 2, 3, 4]}


def test_unknown_fields_are_skipped_and_messages_merge() -> None:
    junk = v(99, 5) + s(98, "x") + key(97, 1) + b"\x00" * 8 + key(96, 5) + b"\x00" * 4 + key(95, 3) + v(1, 1) + key(95, 4)
    raw = m(1, s(1, "c1"), junk) + entry(2, "a", "1") + m(1, entry(11, "l", "v")) + junk
    out = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert out == {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "c1", "labels": {"l": "v"}, "creationTimestamp": None}, "data": {"a": "1"}}


def test_defaults_for_missing_type_meta() -> None:
    body = b"k8s\x00" + m(1) + s(2, object_meta("c"))
    out = protobuf.decode(body, api_version="v1", kind="ConfigMap")
    assert out["kind"] == "ConfigMap" and out["apiVersion"] == "v1"


def test_delete_options_in_any_group_version() -> None:
    raw = v(1, 30) + m(2, s(1, "uid-1")) + s(4, "Foreground") + s(5, "All")
    out = protobuf.decode(envelope("apps/v1", "DeleteOptions", raw))
    assert out == {"kind": "DeleteOptions", "apiVersion": "apps/v1", "gracePeriodSeconds": 30,
                   "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]}


def test_invalid_utf8_is_replaced_like_go_json() -> None:
    out = protobuf.decode(envelope("v1", "ConfigMap", object_meta("c") + entry(2, "k", b"a\xffb")))
    assert out["data"] == {"k": "a\ufffdb"}


@pytest.mark.parametrize(("body", "fragment"), [
    (b"", "empty data"),
    (b"{}", "does not appear to be a protobuf message"),
    (b"k8s\x00", "empty body"),
    (b"k8s\x00\x0a", "unexpected EOF"),  # truncated varint
    (b"k8s\x00\x0a\x05\x0a\x02v1", "unexpected EOF"),  # length past the end
    (b"k8s\x00" + key(1, 0) + varint(1), "wrong wireType"),
    (envelope("v1", "", b""), "Object 'Kind' is missing"),
    (envelope("", "ConfigMap", b""), "Object 'apiVersion' is missing"),
    (envelope("v1", "Nope", b""), 'no kind "Nope" is registered for version "v1"'),
    (envelope("v1", "PodSpec", b""), 'no kind "PodSpec"'),  # a message, but not a kind
    (envelope("example.com/v1", "Widget", b""), 'no kind "Widget"'),
    (envelope("v1", "ConfigMap", m(1, v(1, 5))), "wrong wireType = 0 for field name"),
    (envelope("v1", "ConfigMap", m(1, s(1, "c")) + b"\x12"), "unexpected EOF"),
    (envelope("v1", "ConfigMap", b"\x00\x01"), "illegal tag 0"),
    (envelope("v1", "ConfigMap", b"\x0c"), "end group"),
    (envelope("v1", "ConfigMap", key(99, 7)), "illegal wireType"),
    (envelope("v1", "ConfigMap", b"\x0a" + b"\xff" * 11), "overflow"),
    (envelope("apps/v1", "ControllerRevision", m(2, s(1, b"{not json"))), "invalid JSON"),
    (envelope("v1", "Pod", m(2, m(2, m(8, mentry(1, "cpu", quantity("lots")))))), "quantities must match"),
    (envelope("v1", "ConfigMap", m(1, s(1, "c"), m(8, v(1, 10**15)))), "time out of range"),
])
def test_malformed_input_is_bad_request(body: bytes, fragment: str) -> None:
    with pytest.raises(StatusError) as e:
        protobuf.decode(body)
    assert e.value.code == 400
    assert e.value.reason == "BadRequest"
    assert fragment in e.value.message


def test_deep_nesting_is_bad_request() -> None:
    # RawExtension-in-RawExtension recursion is bounded.
    body = envelope("v1", "ConfigMap", object_meta("c"))
    for _ in range(protobuf.MAX_DEPTH + 5):
        body = envelope("apps/v1", "ControllerRevision", m(2, s(1, body)))
    with pytest.raises(StatusError) as e:
        protobuf.decode(body)
    assert e.value.code == 400


def test_supports_and_table() -> None:
    for gv, kind in [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "Service"),
                     ("v1", "ServiceAccount"), ("v1", "ResourceQuota"), ("apps/v1", "Deployment"),
                     ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("rbac.authorization.k8s.io/v1", "Role"),
                     ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("networking.k8s.io/v1", "Ingress"),
                     ("policy/v1", "PodDisruptionBudget"), ("scheduling.k8s.io/v1", "PriorityClass"),
                     ("authentication.k8s.io/v1", "TokenRequest"), ("autoscaling/v1", "HorizontalPodAutoscaler"),
                     ("autoscaling/v2", "HorizontalPodAutoscaler"), ("coordination.k8s.io/v1", "Lease"),
                     ("discovery.k8s.io/v1", "EndpointSlice"), ("storage.k8s.io/v1", "StorageClass"),
                     ("authorization.k8s.io/v1", "SubjectAccessReview"), ("policy/v1", "Eviction"),
                     ("certificates.k8s.io/v1", "CertificateSigningRequest"), ("v1", "DeleteOptions")]:
        assert protobuf.supports(gv, kind), (gv, kind)
    assert not protobuf.supports("apps/v1", "ConfigMap")


def test_token_request() -> None:
    spec = m(2, s(1, "aud-a"), s(1, "aud-b"), v(4, 3600))
    out = protobuf.decode(envelope("authentication.k8s.io/v1", "TokenRequest", object_meta("") + spec + m(3, s(1, ""), m(2))))
    assert out["spec"] == {"audiences": ["aud-a", "aud-b"], "expirationSeconds": 3600, "boundObjectRef": None}
    assert out["status"] == {"token": "", "expirationTimestamp": None}


def test_decode_is_fast() -> None:
    protobuf.decode(CONFIGMAP_CAPTURE)  # load the table
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        protobuf.decode(CONFIGMAP_CAPTURE)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per ConfigMap"


# ---------------------------------------------------------------------------------------------
# The generator script


def _load_generator() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "gen_protofields.py"
    spec = importlib.util.spec_from_file_location("gen_protofields", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generator_on_synthetic_sources(tmp_path: Path) -> None:
    gen = _load_generator()
    pkg = tmp_path / "widgets" / "v1"
    pkg.mkdir(parents=True)
    (pkg / "generated.proto").write_text('''
syntax = "proto2";
package k8s.io.api.widgets.v1;

// Widget is a thing.
message Widget {
  // +optional
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;

  // +optional
  optional int32 size = 2;

  optional int32 count = 3;

  map<string, bytes> blobs = 4;

  optional WidgetRef ref = 5;

  optional WidgetRef inline = 6;
}

message WidgetRef {
  // +optional
  optional string name = 1;
}
''')
    (pkg / "register.go").write_text('package v1\n\nconst GroupName = "widgets.example.com"\n')
    (pkg / "types.go").write_text('''package v1

type Widget struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	WidgetRef `json:",inline" protobuf:"bytes,6,opt,name=inline"`
	Size *int32 `json:"size,omitempty" protobuf:"varint,2,opt,name=size"`
	Count int32 `json:"count" protobuf:"varint,3,opt,name=count"`
	Blobs map[string][]byte `json:"blobs,omitempty" protobuf:"bytes,4,rep,name=blobs"`
	Ref *WidgetRef `json:"reference" protobuf:"bytes,5,opt,name=ref"`
}
''')
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "generated.proto").write_text('''
package k8s.io.apimachinery.pkg.apis.meta.v1;
message ObjectMeta {
  // +optional
  optional string name = 1;
}
''')
    table = gen.build([tmp_path], ("k8s.io.api.widgets.v1",), "test")
    assert table["groups"] == {"widgets.example.com/v1": "k8s.io.api.widgets.v1"}
    assert table["kinds"] == {"k8s.io.api.widgets.v1": ["Widget"]}
    assert table["messages"]["k8s.io.api.widgets.v1.Widget"] == [
        [1, "metadata", "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "o"],
        [6, "inline", "k8s.io.api.widgets.v1.WidgetRef", "i"],
        [2, "size", "int32", "po"],
        [3, "count", "int32", ""],
        [4, "blobs", "bytes", "mo", "string"],
        [5, "reference", "k8s.io.api.widgets.v1.WidgetRef", "p"],
    ]
    # No Go struct: +optional decides omitempty.
    assert table["messages"]["k8s.io.api.widgets.v1.WidgetRef"] == [[1, "name", "string", "o"]]
    assert "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta" in table["messages"]

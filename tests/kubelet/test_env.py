"""Container environment: $(VAR) expansion, valueFrom, envFrom, service variables, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.kubelet import env


class Objects:
    def __init__(self, configmaps: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> None:
        self.configmaps = configmaps or {}
        self.secrets = secrets or {}
        self.reads: list[str] = []

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(f"cm/{namespace}/{name}")
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(f"secret/{namespace}/{name}")
        return self.secrets.get(name)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": "fe"},
                    "annotations": {"a": 'say "hi"'}},
       "spec": {"nodeName": "n1", "serviceAccountName": "default", "containers": [
           {"name": "c", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}}}]}}

SERVICES = [
    {"metadata": {"name": "redis-master", "namespace": "shop"},
     "spec": {"clusterIP": "10.43.0.20", "ports": [{"name": "redis", "port": 6379, "protocol": "TCP"},
                                                   {"port": 9121, "protocol": "UDP"}]}},
    {"metadata": {"name": "headless", "namespace": "shop"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
    {"metadata": {"name": "kubernetes", "namespace": "default"},
     "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}},
    {"metadata": {"name": "other", "namespace": "elsewhere"}, "spec": {"clusterIP": "10.43.0.9", "ports": [{"port": 80}]}},
]


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "1"), ("x$(A)y$(B)", "x1y2"), ("$(MISSING)", "$(MISSING)"), ("$$(A)", "$(A)"), ("$$", "$"),
    ("$A", "$A"), ("$(A", "$(A"), ("cost $5", "cost $5"), ("end$", "end$"), ("$(SVC)", "s"),
])
def test_expand(text: str, expected: str) -> None:
    assert env.expand(text, {"A": "1", "B": "2"}, {"SVC": "s"}) == expected


def test_service_env_and_docker_links() -> None:
    e = env.service_env(SERVICES[:1])
    assert e["REDIS_MASTER_SERVICE_HOST"] == "10.43.0.20"
    assert e["REDIS_MASTER_SERVICE_PORT"] == "6379"
    assert e["REDIS_MASTER_SERVICE_PORT_REDIS"] == "6379"
    assert e["REDIS_MASTER_PORT"] == "tcp://10.43.0.20:6379"
    assert e["REDIS_MASTER_PORT_6379_TCP"] == "tcp://10.43.0.20:6379"
    assert e["REDIS_MASTER_PORT_6379_TCP_PROTO"] == "tcp"
    assert e["REDIS_MASTER_PORT_6379_TCP_PORT"] == "6379"
    assert e["REDIS_MASTER_PORT_6379_TCP_ADDR"] == "10.43.0.20"
    assert e["REDIS_MASTER_PORT_9121_UDP"] == "udp://10.43.0.20:9121"
    assert env.service_env(SERVICES[1:2]) == {}


async def build(container: dict[str, Any], objects: Objects | None = None, pod: dict[str, Any] | None = None,
                ) -> dict[str, str]:
    out = await env.container_env(pod or POD, container, objects or Objects(), services=lambda: SERVICES,
                                  host_ip="127.0.0.1", pod_ips=["10.42.0.5"], allocatable={"cpu": "2", "memory": "1Gi"})
    return dict(out)


async def test_values_field_refs_and_expansion() -> None:
    c = {**POD["spec"]["containers"][0], "env": [
        {"name": "GREETING", "value": "hello"},
        {"name": "MSG", "value": "$(GREETING) from $(POD_NAME) at $(REDIS_MASTER_SERVICE_HOST)"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "LATE", "value": "$(POD_NAME)"},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
        {"name": "EMPTY", "value": ""},
    ]}
    e = await build(c)
    assert e["MSG"] == "hello from $(POD_NAME) at 10.43.0.20"  # only variables defined earlier expand
    assert e["LATE"] == "web"
    assert (e["NS"], e["IP"], e["HOST"], e["NODE"], e["APP"]) == ("shop", "10.42.0.5", "127.0.0.1", "n1", "web")
    assert (e["CPU"], e["MEM"], e["CPU_REQ"]) == ("500", "64", "1")
    assert e["EMPTY"] == ""
    assert e["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and e["KUBERNETES_SERVICE_PORT"] == "443"
    assert "OTHER_SERVICE_HOST" not in e and "HEADLESS_SERVICE_HOST" not in e
    keys = list(e)
    assert keys.index("GREETING") < keys.index("MSG") < keys.index("REDIS_MASTER_SERVICE_HOST")


async def test_limits_default_to_allocatable() -> None:
    c = {"name": "c", "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                              {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}}]}
    e = await build(c)
    assert (e["CPU"], e["MEM"]) == ("2", str(1 << 30))


async def test_enable_service_links_false_keeps_master_service_only() -> None:
    pod = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    e = await build({"name": "c"}, pod=pod)
    assert "KUBERNETES_SERVICE_HOST" in e and "REDIS_MASTER_SERVICE_HOST" not in e


async def test_config_map_and_secret_refs_and_env_from() -> None:
    objects = Objects({"cfg": {"data": {"mode": "prod", "level": "3"}}},
                      {"creds": {"data": {"user": b64("admin"), "pass": b64("s3cr3t")}}})
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}}],
         "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                 {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                 {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": True}}},
                 {"name": "user", "value": "override"}]}
    e = await build(c, objects)
    assert (e["CFG_mode"], e["CFG_level"], e["pass"]) == ("prod", "3", "s3cr3t")
    assert (e["MODE"], e["USER"], e["user"]) == ("prod", "admin", "override")
    assert "OPT" not in e
    assert objects.reads.count("cm/shop/cfg") == 1  # cached within one container


@pytest.mark.parametrize(("var", "message"), [
    ({"configMapKeyRef": {"name": "cfg", "key": "missing"}}, "couldn't find key missing in ConfigMap shop/cfg"),
    ({"secretKeyRef": {"name": "creds", "key": "missing"}}, "couldn't find key missing in Secret shop/creds"),
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
])
async def test_missing_references_fail(var: dict[str, Any], message: str) -> None:
    objects = Objects({"cfg": {"data": {}}}, {"creds": {"data": {}}})
    with pytest.raises(env.EnvError) as e:
        await build({"name": "c", "env": [{"name": "X", "valueFrom": var}]}, objects)
    assert str(e.value) == message


async def test_optional_missing_objects_are_skipped() -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
         "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}]}
    e = await build(c)
    assert "X" not in e


def test_downward_labels_format() -> None:
    text = env.field_value(POD, "metadata.labels", host_ip="", pod_ips=[])
    assert text == 'app="web"\ntier="fe"'
    assert env.field_value(POD, "metadata.annotations", host_ip="", pod_ips=[]) == 'a="say \\"hi\\""'

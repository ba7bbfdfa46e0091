from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.kinds.networking import ingress, ingressclass, networkpolicy
from tests.api.kinds._helpers import CTX, NOW, messages, meta


def _ing(spec: dict[str, Any], **md: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("web", "default", **md),
            "spec": spec}


def _path(path: str = "/", path_type: str | None = "Prefix", backend: Any = None) -> dict[str, Any]:
    p: dict[str, Any] = {"path": path, "backend": backend or {"service": {"name": "web", "port": {"number": 80}}}}
    if path_type is not None:
        p["pathType"] = path_type
    return p


def test_resource_facts() -> None:
    (info,) = ingress.RESOURCES
    assert (info.group, info.plural, info.short_names, info.namespaced) == ("networking.k8s.io", "ingresses",
                                                                             ("ing",), True)
    assert [s.name for s in info.subresources] == ["status"] and info.status_strategy is not None


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be "
          "specified"]),
    ({"rules": [{"host": "1.2.3.4", "http": {"paths": [_path()]}}]},
     ['spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address']),
    ({"rules": [{"http": {"paths": [_path(path_type=None)]}}]},
     ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]),
    ({"rules": [{"http": {"paths": [_path("foo")]}}]},
     ['spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path']),
    ({"rules": [{"http": {"paths": [_path("/a//b", "Exact")]}}]},
     ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"]),
    ({"rules": [{"http": {"paths": [_path("/", "Regex")]}}]},
     ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", '
      '"ImplementationSpecific", "Prefix"']),
    ({"rules": [{"http": {"paths": []}}]}, ["spec.rules[0].http.paths: Required value"]),
    ({"defaultBackend": {"service": {"name": "web", "port": {}}}},
     ["spec.defaultBackend: Required value: port name or number is required"]),
    ({"defaultBackend": {"service": {"name": "web", "port": {"name": "http", "number": 80}}}},
     ['spec.defaultBackend: Invalid value: "": cannot set both port name & port number']),
    ({"defaultBackend": {"service": {"name": "web", "port": {"number": 70000}}}},
     ["spec.defaultBackend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ({"defaultBackend": {}}, ['spec.defaultBackend: Invalid value: "": resource or service backend is required']),
    ({"defaultBackend": {"resource": {"kind": "Bucket", "name": "b"}, "service": {"name": "x"}}},
     ['spec.defaultBackend: Invalid value: "": cannot set both resource and service backends']),
])
def test_validation(spec: dict[str, Any], expected: list[str]) -> None:
    assert messages(ingress.STRATEGY.validate(_ing(spec), CTX)) == expected


def test_wildcard_host_and_class_annotation() -> None:
    ok = _ing({"ingressClassName": "nginx", "rules": [{"host": "*.example.com", "http": {"paths": [_path()]}}]})
    assert ingress.STRATEGY.validate(ok, CTX) == []
    bad = _ing({"ingressClassName": "nginx", "rules": [{"host": "a.*.com", "http": {"paths": [_path()]}}]},
               annotations={"kubernetes.io/ingress.class": "traefik"})
    msgs = messages(ingress.STRATEGY.validate(bad, CTX))
    assert msgs[0].startswith('spec.rules[0].host: Invalid value: "a.*.com": a wildcard DNS-1123 subdomain must start')
    assert msgs[1] == ('annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match '
                       "`ingressClassName` when both are specified")


def test_table() -> None:
    strategy = ingress.STRATEGY
    assert [c.name for c in strategy.columns()] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    obj = _ing({"tls": [{"hosts": ["a.com"]}], "rules": [{"host": h} for h in ("a.com", "b.com", "c.com", "d.com")]})
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"},
                                                  {"ip": "10.0.0.1"}]}}
    assert strategy.row(obj, NOW) == ["web", "<none>", "a.com,b.com,c.com + 1 more...",
                                      "10.0.0.1,10.0.0.2,lb.example.com", "80, 443", "60m"]
    plain = _ing({"ingressClassName": "nginx", "rules": [{"http": {"paths": [_path()]}}]})
    assert strategy.row(plain, NOW) == ["web", "nginx", "*", "", "80", "60m"]


def test_status_strategy_keeps_spec_and_checks_addresses() -> None:
    (info,) = ingress.RESOURCES
    assert info.status_strategy is not None
    old = _ing({"ingressClassName": "a", "defaultBackend": {"service": {"name": "s", "port": {"number": 1}}}})
    new = _ing({"ingressClassName": "b"})
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "nope"}, {"hostname": "10.1.1.1"}]}}
    info.status_strategy.prepare_for_update(new, old, CTX)
    assert new["spec"] == old["spec"]
    assert messages(info.status_strategy.validate_update(new, old, CTX)) == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'status.loadBalancer.ingress[1].hostname: Invalid value: "10.1.1.1": must be a DNS name, not an IP address',
    ]


def test_ingressclass() -> None:
    (info,) = ingressclass.RESOURCES
    assert not info.namespaced
    obj: dict[str, Any] = {"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx",
                                                "parameters": {"apiGroup": "k8s.example.com", "kind": "Params",
                                                               "name": "p"}}}
    info.strategy.default(obj)
    assert obj["spec"]["parameters"]["scope"] == "Cluster"
    assert info.strategy.validate(obj, CTX) == []
    assert [c.name for c in info.strategy.columns()] == ["Name", "Controller", "Parameters", "Age"]
    assert info.strategy.row(obj, NOW) == ["nginx", "k8s.io/ingress-nginx", "Params.k8s.example.com/p", "60m"]
    bad = {"metadata": meta("x"), "spec": {"controller": "nginx", "parameters": {"kind": "P", "name": "p",
                                                                                 "scope": "Namespace"}}}
    assert messages(info.strategy.validate(bad, CTX)) == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")',
        "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
    ]
    changed = {"metadata": meta("nginx"), "spec": {"controller": "k8s.io/other"}}
    assert messages(info.strategy.validate_update(changed, obj, CTX))[0] == \
        'spec.controller: Invalid value: "k8s.io/other": field is immutable'


def test_networkpolicy_defaults_validation_and_table() -> None:
    (info,) = networkpolicy.RESOURCES
    assert info.short_names == ("netpol",)
    obj: dict[str, Any] = {"metadata": meta("deny", "default"),
                           "spec": {"egress": [{"ports": [{"port": 53}]}]}}
    info.strategy.default(obj)
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["podSelector"] == {}
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    assert info.strategy.row(obj, NOW) == ["deny", "<none>", "60m"]
    obj["spec"]["podSelector"] = {"matchLabels": {"app": "web"}}
    assert info.strategy.row(obj, NOW)[1] == "app=web"
    bad = {"metadata": meta("x", "default"), "spec": {
        "podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]},
        "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]},
                                   "podSelector": {}}],
                     "ports": [{"port": "http", "endPort": 90}]}],
        "policyTypes": ["Sideways"]}}
    assert messages(info.strategy.validate(bad, CTX)) == [
        "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
        "'NotIn'",
        "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of '
        "`cidr`",
        "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
        'spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]

from __future__ import annotations

from typing import Any

from kybernetes.api.kinds.discovery import endpointslice
from tests.api.kinds._helpers import CTX, NOW, messages, meta

STRATEGY = endpointslice.RESOURCES[0].strategy


def _slice(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("web-abc", "default"),
            **fields}


def test_defaults_and_table() -> None:
    obj = _slice(addressType="IPv4", ports=[{"port": 80}, {"name": "metrics", "port": 9090}, {}, {"port": 1}],
                 endpoints=[{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6", "10.42.0.7", "10.42.0.8"]}])
    STRATEGY.default(obj)
    assert obj["ports"][0] == {"port": 80, "name": "", "protocol": "TCP"}
    assert [c.name for c in STRATEGY.columns()] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert STRATEGY.row(obj, NOW) == ["web-abc", "IPv4", "80,9090, + 1 more...",
                                      "10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...", "60m"]
    empty = _slice(addressType="IPv4")
    assert STRATEGY.row(empty, NOW)[2:4] == ["<unset>", "<unset>"]


def test_validation() -> None:
    obj = _slice(addressType="IPv4",
                 endpoints=[{"addresses": []}, {"addresses": ["127.0.0.1", "fe80::1"], "hostname": "Bad_Host"}],
                 ports=[{"name": "http", "protocol": "TCP"}, {"name": "http", "protocol": "ICMP"}])
    assert messages(STRATEGY.validate(obj, CTX)) == [
        "endpoints[0].addresses: Required value: must contain at least 1 address",
        'endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
        "::1/128)",
        'endpoints[1].addresses[1]: Invalid value: "fe80::1": must be a valid IPv4 address',
        'endpoints[1].hostname: Invalid value: "Bad_Host": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
        "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        'ports[1].name: Duplicate value: "http"',
        'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]
    assert messages(STRATEGY.validate(_slice(), CTX)) == ["addressType: Required value"]
    fqdn = _slice(addressType="FQDN", endpoints=[{"addresses": ["localhost"]}])
    assert messages(STRATEGY.validate(fqdn, CTX)) == [
        'endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with at least two segments '
        "separated by dots"]


def test_address_type_is_immutable() -> None:
    old, new = _slice(addressType="IPv4"), _slice(addressType="IPv6")
    assert messages(STRATEGY.validate_update(new, old, CTX)) == ['addressType: Invalid value: "IPv6": field is immutable']

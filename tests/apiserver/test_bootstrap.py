"""The API server's bootstrap objects: the ``kubernetes`` and ``kube-dns`` Services follow the service range."""

from __future__ import annotations

from kybernetes.apiserver.app import bootstrap_objects


def _services(objs: list[dict]) -> dict[str, dict]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objs if o["kind"] == "Service"}


def test_kube_dns_takes_the_tenth_address_like_k3s() -> None:
    svcs = _services(bootstrap_objects("10.0.0.5", 6443))
    assert svcs["default/kubernetes"]["spec"]["clusterIP"] == "10.43.0.1"
    dns = svcs["kube-system/kube-dns"]
    assert dns["spec"]["clusterIP"] == "10.43.0.10"
    assert dns["spec"]["selector"] == {"k8s-app": "kube-dns"} and dns["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert [(p["name"], p["port"], p["protocol"]) for p in dns["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]


def test_service_addresses_follow_the_configured_range() -> None:
    svcs = _services(bootstrap_objects("10.0.0.5", 6443, "10.96.0.0/12"))
    assert svcs["default/kubernetes"]["spec"]["clusterIP"] == "10.96.0.1"
    assert svcs["kube-system/kube-dns"]["spec"]["clusterIP"] == "10.96.0.10"

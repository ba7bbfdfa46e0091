"""``kyb server``'s composition settings: which packaged components ``--disable`` turns off, and
where cluster DNS lives in the service range."""

from __future__ import annotations

import pytest

from kybernetes import server


def test_disable_takes_comma_lists_repeated_flags_and_k3s_names() -> None:
    assert server.disabled_components([]) == frozenset()
    assert server.disabled_components(["dns,servicelb", "ingress"]) == {"dns", "servicelb", "ingress"}
    assert server.disabled_components(["coredns,servicelb,traefik"]) == {"dns", "servicelb", "ingress"}
    assert server.disabled_components([" dns , ", ""]) == {"dns"}


def test_disable_names_the_valid_components_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match=r"--disable metrics-server: unknown component; use any of dns, "
                                         r"servicelb, ingress"):
        server.disabled_components(["dns,metrics-server"])


def test_cluster_dns_is_the_tenth_address_of_the_service_range() -> None:
    assert server.cluster_dns_ip("10.43.0.0/16") == "10.43.0.10"
    assert server.cluster_dns_ip("10.96.0.0/12") == "10.96.0.10"

"""The API server's bootstrap objects: the ``kubernetes`` and ``kube-dns`` Services follow the service range."""

from __future__ import annotations

from pathlib import Path

from kybernetes.api.strategy import WriteContext
from kybernetes.apiserver.app import ApiServer, ApiServerConfig, bootstrap_objects
from kybernetes.apiserver.objects import WriteOptions
from kybernetes.store.sqlite import SQLiteStore


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
    assert "kube-system/kube-dns" not in _services(bootstrap_objects("10.0.0.5", 6443, dns=False))


async def test_disabling_the_cluster_dns_removes_its_service(tmp_path: Path) -> None:
    # as k3s removes a disabled addon: the kube-dns Service it made goes (so a DNS of the user's own
    # can take the name), unless somebody else changed it since; with the DNS on again it comes back
    async def boot(dns: bool) -> dict | None:
        store = SQLiteStore(str(tmp_path / "state.db"), compact_interval=3600)
        server = ApiServer(ApiServerConfig(service_account_key=tmp_path / "sa.key", cluster_dns_service=dns), store)
        await server.start()
        try:
            entry = server.cache.get("/registry/core/services/kube-system/kube-dns")
            return entry.obj if entry is not None else None
        finally:
            await server.stop()

    assert (await boot(True)) is not None
    assert (await boot(False)) is None
    assert (await boot(False)) is None
    svc = await boot(True)
    assert svc is not None

    store = SQLiteStore(str(tmp_path / "state.db"), compact_interval=3600)
    server = ApiServer(ApiServerConfig(service_account_key=tmp_path / "sa.key"), store)
    await server.start()
    info = server.registry.require("", "v1", "services")

    def relabel(current: dict | None) -> dict:
        assert current is not None
        return {**current, "metadata": {**current["metadata"], "labels": {"app": "mine"}}}

    ctx, opts = WriteContext(), WriteOptions(field_manager="kubectl-label")  # as a PATCH through the API records it
    await server.objects.update(info, "kube-system", "kube-dns", relabel, ctx, opts,
                                on_prepared=server.writes.track(info, opts, ctx))
    await server.stop()
    kept = await boot(False)
    assert kept is not None and kept["metadata"]["labels"] == {"app": "mine"}

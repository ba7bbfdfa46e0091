"""ServiceAccount controller and root CA publisher: per-namespace defaults, recreated when deleted,
skipped for terminating namespaces, repaired when edited."""

from __future__ import annotations

from kybernetes.client.rest import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS
from kybernetes.controllers import rootcacert
from kybernetes.controllers.rootcacert import RootCACertPublisher
from kybernetes.controllers.serviceaccount import ServiceAccountController
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


async def test_default_service_account_created_and_recreated() -> None:
    client = FakeClient()
    client.add(NAMESPACES, b.namespace("demo"))
    client.add(NAMESPACES, b.namespace("dying", terminating=True))
    ctrl = ServiceAccountController(client.informer(NAMESPACES), client.informer(SERVICEACCOUNTS),
                                    as_client(client), FakeRecorder())
    for ns in ("demo", "dying"):
        await ctrl.sync(ns)
    assert [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in client.all(SERVICEACCOUNTS)] == \
        [("demo", "default")]
    await ctrl.sync("demo")
    assert client.verbs("serviceaccounts").count("create") == 1  # idempotent
    added: list[str] = []
    ctrl.queue.add = added.append  # type: ignore[method-assign]
    await client.delete(SERVICEACCOUNTS, "default", "demo")
    assert added == ["demo"]  # the deletion re-enqueued the namespace
    await ctrl.sync("demo")
    assert client.stored(SERVICEACCOUNTS, "default", "demo") is not None


async def test_root_ca_configmap_published_and_repaired() -> None:
    client = FakeClient()
    client.add(NAMESPACES, b.namespace("demo"))
    ctrl = RootCACertPublisher(client.informer(NAMESPACES), client.informer(CONFIGMAPS), as_client(client),
                               FakeRecorder(), PEM)
    await ctrl.sync("demo")
    cm = client.stored(CONFIGMAPS, "kube-root-ca.crt", "demo")
    assert cm["data"] == {"ca.crt": PEM}
    assert cm["metadata"]["annotations"] == {rootcacert.DESCRIPTION_ANNOTATION: rootcacert.DESCRIPTION}
    await ctrl.sync("demo")
    assert client.verbs("configmaps") == ["create"]
    await client.patch(CONFIGMAPS, "kube-root-ca.crt", {"data": {"ca.crt": "tampered", "extra": "x"}}, "demo")
    await ctrl.sync("demo")
    assert client.stored(CONFIGMAPS, "kube-root-ca.crt", "demo")["data"] == {"ca.crt": PEM}

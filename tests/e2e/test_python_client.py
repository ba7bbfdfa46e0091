"""The official ``kubernetes`` Python client: typed API, dynamic client, watch."""

from __future__ import annotations

import threading
import uuid

import pytest

pytestmark = pytest.mark.e2e


def test_typed_api_crud(k8s_client) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(k8s_client)
    apps = client.AppsV1Api(k8s_client)
    ns = f"py-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="nginx", image="nginx")]))))
    created = apps.create_namespaced_deployment(ns, body)
    assert created.metadata.uid and created.spec.strategy.type == "RollingUpdate"
    got = apps.read_namespaced_deployment("web", ns)
    assert got.spec.replicas == 2
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    listed = apps.list_namespaced_deployment(ns, label_selector="app=web")
    assert [d.spec.replicas for d in listed.items] == [3]
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("nope", ns)
    assert exc.value.status == 404
    apps.delete_namespaced_deployment("web", ns)
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("web", ns)


def test_dynamic_client_and_server_side_apply(k8s_client) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import dynamic

    dyn = dynamic.DynamicClient(k8s_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    ns = f"dyn-{uuid.uuid4().hex[:6]}"
    dyn.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": ns}})
    cms.create(namespace=ns, body={"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert cms.get(namespace=ns, name="c").data.a == "1"
    applied = cms.server_side_apply(namespace=ns, body={"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "c"}, "data": {"a": "2"}},
                                    field_manager="pytest", force_conflicts=True)
    assert applied.data.a == "2"


def test_watch_stream(k8s_client) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client, watch

    core = client.CoreV1Api(k8s_client)
    ns = f"pw-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 4:
                w.stop()
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    for i in range(3):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}")))
    core.delete_namespaced_config_map("c1", ns)
    assert done.wait(25)
    t.join()
    assert seen == [("ADDED", "c0"), ("ADDED", "c1"), ("ADDED", "c2"), ("DELETED", "c1")]

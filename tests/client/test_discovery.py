"""Client-side discovery: preferred versions, subresources skipped, failing groups reported."""

from __future__ import annotations

from kybernetes.client import discovery
from kybernetes.client.rest import Resource
from tests.controllers.fakes import FakeClient, as_client


async def test_discover_preferred_versions_and_failures() -> None:
    client = FakeClient()
    client.responses.update({
        "/api": {"versions": ["v1"]},
        "/apis": {"groups": [
            {"name": "apps", "versions": [{"version": "v1"}], "preferredVersion": {"version": "v1"}},
            {"name": "broken.example.com", "preferredVersion": {"version": "v1"}}]},
        "/api/v1": {"resources": [
            {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "delete"]},
            {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
            {"name": "nodes", "namespaced": False, "kind": "Node", "verbs": ["list"]}]},
        "/apis/apps/v1": {"resources": [
            {"name": "deployments", "namespaced": True, "kind": "Deployment", "verbs": ["list", "delete"]}]},
    })
    found = await discovery.discover(as_client(client))
    plurals = [d.resource.plural for d in found.resources]
    assert plurals == ["pods", "nodes", "deployments"]
    assert list(found.failed) == ["broken.example.com/v1"]
    assert found.by_kind()[("apps/v1", "Deployment")] == Resource("apps", "v1", "deployments", True, "Deployment")
    assert [d.resource.plural for d in found.namespaced("delete")] == ["pods", "deployments"]
    assert found.resources[0].supports("get", "list") and not found.resources[1].supports("delete")

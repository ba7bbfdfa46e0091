"""kubectl against a real ``kyb server``: reads, writes, errors — with kubectl 1.32 and 1.37."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Kubectl

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    name = f"t-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


DEPLOY = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: {replicas}
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: nginx
            image: {image}
            ports:
            - containerPort: 80
    """)


def deploy_yaml(replicas: int = 1, image: str = "nginx:1.25") -> str:
    return DEPLOY.replace("{replicas}", str(replicas)).replace("{image}", image)


def test_version_and_api_resources(kubectl: Kubectl) -> None:
    out = json.loads(kubectl("version", "-o", "json"))
    assert out["serverVersion"]["minor"] == "32"
    if kubectl.version == "1.32":
        assert out["clientVersion"]["gitVersion"].startswith("v1.32.")
    res = kubectl("api-resources")
    for line in ("deployments", "deploy", "apps/v1", "customresourcedefinitions", "horizontalpodautoscalers"):
        assert line in res
    names = kubectl("api-resources", "-o", "name", "--namespaced=false")
    assert "nodes" in names.split() and "pods" not in names.split()


def test_namespaces_listed(kubectl: Kubectl) -> None:
    out = kubectl("get", "ns")
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert rows[n] == "Active"


def test_create_get_describe_output_formats(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "-f", "-", input=deploy_yaml(2))
    table = kubectl("-n", ns, "get", "deploy")
    assert table.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table.splitlines()[1].split()[0] == "web"
    wide = kubectl("-n", ns, "get", "deploy", "-o", "wide")
    assert "CONTAINERS" in wide and "nginx:1.25" in wide and "app=web" in wide
    obj = json.loads(kubectl("-n", ns, "get", "deploy", "web", "-o", "json"))
    assert obj["spec"]["strategy"] == {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    y = yaml.safe_load(kubectl("-n", ns, "get", "deploy", "web", "-o", "yaml"))
    assert y["spec"]["replicas"] == 2
    assert kubectl("-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}") \
        == "nginx:1.25"
    cc = kubectl("-n", ns, "get", "deploy", "-o", "custom-columns=N:.metadata.name,R:.spec.replicas")
    assert cc.split() == ["N", "R", "web", "2"]
    assert kubectl("-n", ns, "get", "deploy", "-o", "name").strip() == "deployment.apps/web"
    desc = kubectl("-n", ns, "describe", "deploy", "web")
    assert "Name:" in desc and "web" in desc and "RollingUpdate" in desc


def test_all_namespaces_and_selectors(kubectl: Kubectl, ns: str) -> None:
    for name, tier in (("a", "fe"), ("b", "be"), ("c", "fe")):
        kubectl("-n", ns, "create", "configmap", name, f"--from-literal=k={name}")
        kubectl("-n", ns, "label", "configmap", name, f"tier={tier}")
    out = kubectl("get", "cm", "-A", "-l", "tier=fe")
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][:2] == ["NAMESPACE", "NAME"]
    assert sorted(row[1] for row in lines[1:] if row[0] == ns) == ["a", "c"]
    assert kubectl("-n", ns, "get", "cm", "-l", "tier in (be)", "-o", "name").split() == ["configmap/b"]
    assert kubectl("-n", ns, "get", "cm", "-l", "tier!=fe,tier", "-o", "name").split() == ["configmap/b"]
    got = kubectl("-n", ns, "get", "cm", "--field-selector", "metadata.name=c", "-o", "name").split()
    assert got == ["configmap/c"]
    shown = kubectl("-n", ns, "get", "cm", "a", "--show-labels")
    assert "tier=fe" in shown
    bad = kubectl.run("-n", ns, "get", "cm", "--field-selector", "spec.nope=1", check=False)
    assert bad.returncode != 0 and "field label not supported: spec.nope" in bad.stderr


def test_big_configmap_from_file(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    # ~900 KB (kubectl sends it as protobuf, in many TLS records): stored whole, and over 1 MiB refused
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{i:08d} {'k' * 90}\n" for i in range(9_000)))
    kubectl("create", "configmap", "big", "-n", ns, f"--from-file={big}")
    data = json.loads(kubectl("get", "configmap", "big", "-n", ns, "-o", "json"))["data"]
    assert data["big.txt"] == big.read_text()
    big.write_text("k" * 1_100_000)
    refused = kubectl.run("create", "configmap", "huge", "-n", ns, f"--from-file={big}", check=False)
    assert refused.returncode != 0
    assert 'ConfigMap "huge" is invalid' in refused.stderr and "must have at most 1048576 bytes" in refused.stderr


def test_chunked_list(kubectl: Kubectl, ns: str) -> None:
    for i in range(7):
        kubectl("-n", ns, "create", "configmap", f"cm{i}")
    out = kubectl("-n", ns, "get", "cm", "--chunk-size=2", "-o", "name").split()
    assert [o for o in out if o.startswith("configmap/cm")] == [f"configmap/cm{i}" for i in range(7)]


def test_apply_twice_then_server_side(kubectl: Kubectl, ns: str) -> None:
    first = kubectl("-n", ns, "apply", "-f", "-", input=deploy_yaml(1))
    assert "deployment.apps/web created" in first
    second = kubectl("-n", ns, "apply", "-f", "-", input=deploy_yaml(3, "nginx:1.26"))
    assert "deployment.apps/web configured" in second
    obj = json.loads(kubectl("-n", ns, "get", "deploy", "web", "-o", "json"))
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert obj["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    unchanged = kubectl("-n", ns, "apply", "-f", "-", input=deploy_yaml(3, "nginx:1.26"))
    assert "unchanged" in unchanged
    ssa = kubectl("-n", ns, "apply", "--server-side", "--force-conflicts", "-f", "-", input=deploy_yaml(4, "nginx:1.27"))
    assert "serverside-applied" in ssa
    obj = json.loads(kubectl("-n", ns, "get", "deploy", "web", "-o", "json", "--show-managed-fields"))
    assert obj["spec"]["replicas"] == 4
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


def test_server_side_apply_conflict(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deploy_yaml(1))
    kubectl("-n", ns, "scale", "deploy", "web", "--replicas=5")
    res = kubectl.run("-n", ns, "apply", "--server-side", "--field-manager=other", "-f", "-",
                      input=deploy_yaml(2), check=False)
    assert res.returncode != 0 and "conflict" in res.stderr.lower() and ".spec.replicas" in res.stderr


def test_edit_with_editor_script(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl("-n", ns, "create", "configmap", "ed", "--from-literal=color=blue")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/color: blue/color: red/' \"$1\"\n")
    editor.chmod(0o755)
    out = kubectl("-n", ns, "edit", "cm", "ed", env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)})
    assert "configmap/ed edited" in out
    assert kubectl("-n", ns, "get", "cm", "ed", "-o", "jsonpath={.data.color}") == "red"


def test_patch_types(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "-f", "-", input=deploy_yaml(1))
    kubectl("-n", ns, "patch", "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":2}}')
    kubectl("-n", ns, "patch", "deploy", "web", "--type=json",
            "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]')
    kubectl("-n", ns, "patch", "deploy", "web", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}')
    obj = json.loads(kubectl("-n", ns, "get", "deploy", "web", "-o", "json"))
    containers = {c["name"]: c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}
    assert obj["spec"]["replicas"] == 2
    assert containers == {"nginx": "nginx:1.27", "sidecar": "busybox"}
    bad = kubectl.run("-n", ns, "patch", "deploy", "web", "--type=json",
                      "-p", '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
    assert bad.returncode != 0


def test_label_annotate_scale(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "-f", "-", input=deploy_yaml(1))
    kubectl("-n", ns, "label", "deploy", "web", "tier=fe")
    kubectl("-n", ns, "annotate", "deploy", "web", "note=hi")
    kubectl("-n", ns, "label", "deploy", "web", "tier-")
    obj = json.loads(kubectl("-n", ns, "get", "deploy", "web", "-o", "json"))
    assert "tier" not in obj["metadata"]["labels"] and obj["metadata"]["annotations"]["note"] == "hi"
    assert "scaled" in kubectl("-n", ns, "scale", "deploy", "web", "--replicas=3")
    assert "scaled" in kubectl("-n", ns, "scale", "deploy", "web", "--current-replicas=3", "--replicas=4")
    stale = kubectl.run("-n", ns, "scale", "deploy", "web", "--current-replicas=1", "--replicas=5", check=False)
    assert stale.returncode != 0
    assert kubectl("-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "4"


def test_set_image_and_selector(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "-f", "-", input=deploy_yaml(1))
    kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:1.28")
    assert kubectl("-n", ns, "get", "deploy", "web", "-o",
                   "jsonpath={.spec.template.spec.containers[0].image}") == "nginx:1.28"
    kubectl("-n", ns, "create", "service", "clusterip", "web", "--tcp=80:8080")
    kubectl("-n", ns, "set", "selector", "svc", "web", "app=web2")
    assert kubectl("-n", ns, "get", "svc", "web", "-o", "jsonpath={.spec.selector.app}") == "web2"


def test_run_dry_run_client_and_server(kubectl: Kubectl, ns: str) -> None:
    client = yaml.safe_load(kubectl("-n", ns, "run", "nginx", "--image=nginx", "--dry-run=client", "-o", "yaml"))
    assert client["kind"] == "Pod" and client["spec"]["containers"][0]["image"] == "nginx"
    server = yaml.safe_load(kubectl("-n", ns, "run", "nginx", "--image=nginx", "--dry-run=server", "-o", "yaml"))
    spec = server["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30 and spec["schedulerName"] == "default-scheduler"
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always" and c["terminationMessagePath"] == "/dev/termination-log"
    assert server["metadata"]["uid"]
    missing = kubectl.run("-n", ns, "get", "pod", "nginx", check=False)
    assert missing.returncode != 0 and 'pods "nginx" not found' in missing.stderr


def test_create_generators_protobuf(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    (tmp_path / "username.txt").write_text("admin\n")
    (tmp_path / "ui.properties").write_text("color.good=purple\ncolor.bad=yellow\n")
    kubectl("-n", ns, "create", "secret", "generic", "user", f"--from-file={tmp_path / 'username.txt'}")
    kubectl("-n", ns, "create", "configmap", "ui-config", f"--from-file={tmp_path / 'ui.properties'}")
    kubectl("-n", ns, "create", "deployment", "gen", "--image=nginx", "--replicas=2")
    kubectl("-n", ns, "create", "service", "nodeport", "np", "--tcp=80:80")
    kubectl("-n", ns, "create", "job", "j", "--image=busybox", "--", "echo", "hi")
    secrets = kubectl("-n", ns, "get", "secrets")
    assert secrets.splitlines()[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert any(line.split()[:3] == ["user", "Opaque", "1"] for line in secrets.splitlines())
    cm = yaml.safe_load(kubectl("-n", ns, "get", "cm", "ui-config", "-o", "yaml"))
    assert cm["data"]["ui.properties"] == "color.good=purple\ncolor.bad=yellow\n"
    sec = json.loads(kubectl("-n", ns, "get", "secret", "user", "-o", "json"))
    assert sec["data"]["username.txt"] == "YWRtaW4K"
    assert kubectl("-n", ns, "get", "deploy", "gen", "-o", "jsonpath={.spec.replicas}") == "2"
    svc = json.loads(kubectl("-n", ns, "get", "svc", "np", "-o", "json"))
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    job = json.loads(kubectl("-n", ns, "get", "job", "j", "-o", "json"))
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_errors(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "configmap", "dup")
    again = kubectl.run("-n", ns, "create", "configmap", "dup", check=False)
    assert again.returncode != 0 and 'configmaps "dup" already exists' in again.stderr
    nf = kubectl.run("-n", ns, "get", "deploy", "nope", check=False)
    assert 'deployments.apps "nope" not found' in nf.stderr
    bad = deploy_yaml(1).replace("image: nginx:1.25", "image: ''")
    inv = kubectl.run("-n", ns, "create", "-f", "-", input=bad, check=False)
    assert inv.returncode != 0 and "spec.template.spec.containers[0].image: Required value" in inv.stderr
    unknown = deploy_yaml(1).replace("  replicas: 1", "  replicas: 1\n  bogus: 1")
    strict = kubectl.run("-n", ns, "create", "--validate=strict", "-f", "-", input=unknown, check=False)
    assert strict.returncode != 0 and 'unknown field "spec.bogus"' in strict.stderr
    missing_ns = kubectl.run("-n", "does-not-exist", "create", "configmap", "x", check=False)
    assert 'namespaces "does-not-exist" not found' in missing_ns.stderr


def test_conflict_on_stale_update(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "configmap", "cf", "--from-literal=a=1")
    obj = json.loads(kubectl("-n", ns, "get", "cm", "cf", "-o", "json"))
    kubectl("-n", ns, "label", "cm", "cf", "x=y")
    obj["data"]["a"] = "2"
    res = kubectl.run("-n", ns, "replace", "-f", "-", input=json.dumps(obj), check=False)
    assert res.returncode != 0 and "the object has been modified" in res.stderr


def test_delete_wait_and_cascade(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "configmap", "gone")
    assert 'configmap "gone" deleted' in kubectl("-n", ns, "delete", "cm", "gone", "--wait")
    kubectl("-n", ns, "create", "-f", "-", input=deploy_yaml(1))
    out = kubectl("-n", ns, "delete", "deploy", "web", "--cascade=orphan")
    assert "deleted" in out


def test_explain(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers")
    assert "FIELD: containers" in out and "image" in out and "livenessProbe" in out
    ru = kubectl("explain", "deploy.spec.strategy.rollingUpdate")
    assert "maxSurge" in ru and "maxUnavailable" in ru


def test_auth_can_i(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "create", "deployments").strip() == "yes"
    assert kubectl("auth", "can-i", "*", "*").strip() == "yes"


def test_impersonation(kubectl: Kubectl) -> None:
    # kubectl --as / --as-group: the request acts as that user, with its (lack of) rights
    can = kubectl.run("auth", "can-i", "list", "pods", "--as", "bob", check=False)
    assert (can.returncode, can.stdout.strip()) == (1, "no")
    assert kubectl("auth", "can-i", "list", "pods", "--as", "bob", "--as-group", "system:masters").strip() == "yes"
    denied = kubectl.run("get", "pods", "-n", "default", "--as", "bob", check=False)
    assert denied.returncode != 0
    assert ('Error from server (Forbidden): pods is forbidden: User "bob" cannot list resource "pods" in API group '
            '"" in the namespace "default"') in denied.stderr
    who = json.loads(kubectl("auth", "whoami", "--as", "system:serviceaccount:default:default", "-o", "json"))
    assert who["status"]["userInfo"] == {
        "username": "system:serviceaccount:default:default",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]}


def test_impersonation_with_the_python_client(k8s_client) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.ApiClient(k8s_client.configuration)
    api.set_default_header("Impersonate-User", "bob")
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(api).list_namespaced_pod("default")
    assert denied.value.status == 403
    assert 'User "bob" cannot list resource "pods"' in json.loads(denied.value.body)["message"]
    api.set_default_header("Impersonate-Group", "system:masters")
    assert client.CoreV1Api(api).list_namespaced_pod("default").kind == "PodList"

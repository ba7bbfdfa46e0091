"""A container's environment: ``env``, ``envFrom``, ``$(VAR)`` expansion, downward API values and the
service environment variables.

Role: :mod:`.containers` calls :func:`container_env` before CreateContainer (an :class:`EnvError` there
becomes the waiting reason CreateContainerConfigError) and :func:`expand` on command and args.
ConfigMaps and Secrets come through an :class:`ObjectSource` (the API, or a fake in tests); services
are the ones that exist when the container starts. :func:`field_value` and :func:`resource_value` are
shared with the downward API volume. Upstream: pkg/kubelet/kubelet_pods.go (makeEnvironmentVariables),
pkg/kubelet/envvars, third_party/forked/golang/expansion.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from kybernetes.api.quantity import parse_quantity

__all__ = ["EnvError", "ObjectSource", "container_env", "expand", "field_value", "resource_value", "service_env"]

Obj = dict[str, Any]
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


class EnvError(Exception):
    """The environment cannot be built (missing ConfigMap, key, …); the message is what users see."""


class ObjectSource(Protocol):
    """Reads ConfigMaps and Secrets of the pod's namespace; None when the object does not exist."""

    async def configmap(self, namespace: str, name: str) -> Obj | None: ...

    async def secret(self, namespace: str, name: str) -> Obj | None: ...


def expand(text: str, *mappings: Mapping[str, str]) -> str:
    """Replace ``$(NAME)`` with its value from the first mapping that has it; unknown references stay as
    written, ``$$`` is a literal ``$``."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append(text[i:])
                break
            name = text[i + 2:end]
            for m in mappings:
                if name in m:
                    out.append(m[name])
                    break
            else:
                out.append(text[i:end + 1])
            i = end + 1
        else:
            out.append(ch + nxt)
            i += 2
    return "".join(out)


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: Iterable[Obj]) -> dict[str, str]:
    """``<NAME>_SERVICE_HOST``/``_PORT``/``_PORT_<port name>`` and the docker-link variables of services
    that have a cluster IP."""
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP") or ""
        if not ip or ip == "None":
            continue
        prefix = _env_name((svc.get("metadata") or {}).get("name", ""))
        ports = spec.get("ports") or []
        env[f"{prefix}_SERVICE_HOST"] = ip
        if ports:
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for p in ports:
            if p.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(p['name'])}"] = str(p.get("port"))
        host = f"[{ip}]" if ":" in ip else ip
        for i, p in enumerate(ports):
            proto = str(p.get("protocol") or "TCP")
            url = f"{proto.lower()}://{host}:{p.get('port')}"
            if i == 0:
                env[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{p.get('port')}_{proto.upper()}"
            env[port_prefix] = url
            env[f"{port_prefix}_PROTO"] = proto.lower()
            env[f"{port_prefix}_PORT"] = str(p.get("port"))
            env[f"{port_prefix}_ADDR"] = ip
    return env


def field_value(pod: Obj, path: str, *, host_ip: str, pod_ips: list[str]) -> str:
    """The downward API value of ``fieldRef.fieldPath``."""
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
              "metadata.uid": md.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", ""), "status.hostIP": host_ip,
              "status.hostIPs": host_ip, "status.podIP": pod_ips[0] if pod_ips else "",
              "status.podIPs": ",".join(pod_ips)}
    if path in simple:
        return str(simple[path])
    if path in ("metadata.labels", "metadata.annotations"):
        values = md.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{_quote(v)}"' for k, v in sorted(values.items()))
    m = _SUBSCRIPT.match(path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    raise EnvError(f"unsupported fieldPath: {path}")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def resource_value(container: Obj, resource: str, divisor: Any, allocatable: Mapping[str, str]) -> str:
    """The downward API value of ``resourceFieldRef`` (limits fall back to node allocatable)."""
    kind, _, name = resource.partition(".")
    res = container.get("resources") or {}
    quantity = (res.get(kind) or {}).get(name)
    if quantity is None and kind == "limits":
        quantity = allocatable.get(name)
    try:
        q = parse_quantity(quantity if quantity is not None else "0")
        d = parse_quantity(divisor if divisor not in (None, "", "0") else "1")
    except ValueError as e:
        raise EnvError(f"invalid quantity for {resource}: {e}") from None
    if name == "cpu":
        return str(math.ceil(q.milli_value() / max(d.milli_value(), 1)))
    return str(math.ceil(q.int_value() / max(d.int_value(), 1)))


def _secret_text(data: str) -> str:
    return base64.b64decode(data).decode(errors="replace")


async def container_env(pod: Obj, container: Obj, source: ObjectSource, *, services: Callable[[], list[Obj]],
                        host_ip: str, pod_ips: list[str], allocatable: Mapping[str, str]) -> list[tuple[str, str]]:
    """The environment of ``container`` in ``pod``, in a stable order (envFrom, env, service variables)."""
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns = md.get("namespace") or "default"
    links = spec.get("enableServiceLinks", True) is not False
    svc_env = service_env(s for s in services() if ((s.get("metadata") or {}).get("namespace") == ns and links)
                          or ((s.get("metadata") or {}).get("namespace") == "default"
                              and (s.get("metadata") or {}).get("name") == "kubernetes"))
    configmaps: dict[str, Obj | None] = {}
    secrets: dict[str, Obj | None] = {}

    async def cm(name: str) -> Obj | None:
        if name not in configmaps:
            configmaps[name] = await source.configmap(ns, name)
        return configmaps[name]

    async def sec(name: str) -> Obj | None:
        if name not in secrets:
            secrets[name] = await source.secret(ns, name)
        return secrets[name]

    env: dict[str, str] = {}
    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix") or ""
        if ef.get("configMapRef"):
            ref = ef["configMapRef"]
            obj = await cm(ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'configmap "{ref.get("name", "")}" not found')
            env.update({prefix + k: v for k, v in (obj.get("data") or {}).items()})
        elif ef.get("secretRef"):
            ref = ef["secretRef"]
            obj = await sec(ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'secret "{ref.get("name", "")}" not found')
            env.update({prefix + k: _secret_text(v) for k, v in (obj.get("data") or {}).items()})
    for var in container.get("env") or []:
        name, val, src = var.get("name", ""), var.get("value") or "", var.get("valueFrom")
        if val:
            val = expand(val, env, svc_env)
        elif src:
            if src.get("fieldRef"):
                val = field_value(pod, src["fieldRef"].get("fieldPath", ""), host_ip=host_ip, pod_ips=pod_ips)
            elif src.get("resourceFieldRef"):
                ref = src["resourceFieldRef"]
                target = container
                if ref.get("containerName"):
                    target = next((c for c in spec.get("containers") or [] if c.get("name") == ref["containerName"]),
                                  container)
                val = resource_value(target, ref.get("resource", ""), ref.get("divisor"), allocatable)
            elif src.get("configMapKeyRef") or src.get("secretKeyRef"):
                is_cm = bool(src.get("configMapKeyRef"))
                ref = src.get("configMapKeyRef") or src.get("secretKeyRef") or {}
                obj = await (cm if is_cm else sec)(ref.get("name", ""))
                kind = "ConfigMap" if is_cm else "Secret"
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise EnvError(f'{kind.lower()} "{ref.get("name", "")}" not found')
                data = obj.get("data") or {}
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        continue
                    raise EnvError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name', '')}")
                val = data[ref["key"]] if is_cm else _secret_text(data[ref["key"]])
        env[name] = val
    for k, v in svc_env.items():
        env.setdefault(k, v)
    return list(env.items())

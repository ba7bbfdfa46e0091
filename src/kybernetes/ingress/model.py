"""Ingresses + Services + EndpointSlices + TLS Secrets → the nginx model (servers, locations, upstreams).

``ingress/controller.py`` calls :func:`build` with the Ingresses it serves and read-only views of
its informer caches; ``ingress/nginxconf.py`` renders the result. Everything here is pure and
deterministic: the same objects give the same model, whatever order they arrive in.

Path semantics (Kubernetes' Ingress rules, as ingress-nginx maps them): ``Exact`` is an exact
location; ``Prefix`` matches element-wise, so ``/foo`` becomes ``= /foo`` plus ``/foo/``;
``ImplementationSpecific`` is a plain nginx prefix location. On a host where an Ingress asks for
regular expressions (``use-regex``, ``rewrite-target``), non-exact paths become case-insensitive
regex locations, longest first. nginx picks the longest prefix, which is Kubernetes' "longest
match wins"; collisions keep the Exact path, then the oldest Ingress. Requests matching no path go
to the Ingress's ``spec.defaultBackend`` or get 404; backends without ready endpoints get 503.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kybernetes.ingress import annotations as annots
from kybernetes.ingress import certs

__all__ = ["Certificate", "Listers", "Location", "Model", "Server", "StaticListers", "Upstream", "build",
           "ingress_key"]

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
EXACT, PREFIX, REGEX = "=", "", "~*"
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9/._~%!$&'()*+,=:@-]*$")
# inside a quoted nginx string a backslash before one of "'\\trn is an escape nginx would rewrite
_SAFE_REGEX = re.compile(r"""^/(?:[^\s"'\\]|\\[^\s"'\\trn])*$""")


class Listers(Protocol):
    """Read-only lookups into the informer caches."""

    def service(self, namespace: str, name: str) -> Obj | None: ...

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]: ...

    def secret(self, namespace: str, name: str) -> Obj | None: ...


@dataclass(frozen=True, slots=True)
class StaticListers:
    """:class:`Listers` over plain lists of objects (tests, one-shot rendering)."""

    services: tuple[Obj, ...] = ()
    slices: tuple[Obj, ...] = ()
    secrets: tuple[Obj, ...] = ()

    def service(self, namespace: str, name: str) -> Obj | None:
        return _find(self.services, namespace, name)

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        return [s for s in self.slices if s["metadata"].get("namespace") == namespace
                and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service]

    def secret(self, namespace: str, name: str) -> Obj | None:
        return _find(self.secrets, namespace, name)


def _find(objs: Iterable[Obj], namespace: str, name: str) -> Obj | None:
    return next((o for o in objs if o["metadata"].get("namespace") == namespace and o["metadata"]["name"] == name),
                None)


@dataclass(frozen=True, slots=True)
class Location:
    """One nginx ``location``: ``modifier`` is ``=`` (exact), ``""`` (prefix) or ``~*`` (regex)."""

    modifier: str
    path: str
    upstream: str = ""        # upstream name; empty when ``status`` answers instead
    status: int = 0           # 404 (no rule matched) or 503 (no endpoints)
    protocol: str = "HTTP"
    rewrite_source: str = ""  # regex the rewrite applies to (the Ingress path)
    rewrite_target: str = ""
    ssl_redirect: bool = False
    body_size: str = ""
    snippet: str = ""
    ingress: str = ""         # ns/name of the Ingress that defined it
    backend: str = ""         # service:port, for the comment


@dataclass(frozen=True, slots=True)
class Server:
    """One nginx ``server``; ``host`` is empty for the catch-all server."""

    host: str
    locations: tuple[Location, ...]
    certificate: str = ""     # file name of the host's TLS bundle; empty: the default certificate


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Certificate:
    name: str                 # file name, unique per content
    pem: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Model:
    servers: tuple[Server, ...]
    upstreams: tuple[Upstream, ...]
    certificates: tuple[Certificate, ...]
    problems: tuple[tuple[str, str], ...] = ()   # (ingress ns/name, what was ignored and why)


def ingress_key(ing: Obj) -> str:
    md = ing["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def _order(ing: Obj) -> tuple[str, str]:
    return (ing["metadata"].get("creationTimestamp") or "", ingress_key(ing))


def _endpoint(address: str, port: int) -> str:
    try:
        if ipaddress.ip_address(address).version == 6:
            return f"[{address}]:{port}"
    except ValueError:
        pass
    return f"{address}:{port}"


class _Builder:
    def __init__(self, listers: Listers, allow_snippets: bool) -> None:
        self.listers = listers
        self.allow_snippets = allow_snippets
        self.upstreams: dict[str, Upstream] = {}
        self.certificates: dict[str, Certificate] = {}
        self.host_certs: dict[str, str] = {}
        self.tls_hosts: set[str] = set()        # hosts named in spec.tls get a server even without rules
        self.problems: list[tuple[str, str]] = []
        # host → nginx (modifier, path) → (rank, location); rank orders collisions
        self.locations: dict[str, dict[tuple[str, str], tuple[tuple[int, int, int], Location]]] = {}
        self.fallbacks: dict[str, Location] = {}
        self.regex_hosts: set[str] = set()

    def warn(self, ing: Obj, message: str) -> None:
        self.problems.append((ingress_key(ing), message))

    # --- backends ---------------------------------------------------------------------------------
    def backend(self, ing: Obj, backend: Obj, ann: annots.Annotations) -> Location:
        """A location template (no path yet) sending to ``backend``, or answering 503."""
        ns = ing["metadata"].get("namespace", "")
        svc_ref = backend.get("service") or {}
        name, port = svc_ref.get("name", ""), svc_ref.get("port") or {}
        port_ref = port.get("name") or port.get("number") or ""
        base = Location("", "", protocol=ann.backend_protocol, ingress=ingress_key(ing), backend=f"{name}:{port_ref}",
                        ssl_redirect=ann.force_ssl_redirect, body_size=ann.proxy_body_size,
                        snippet=ann.configuration_snippet)
        if not name:
            self.warn(ing, "resource backends are not supported")
            return replace(base, status=503)
        svc = self.listers.service(ns, name)
        if svc is None:
            self.warn(ing, f'service "{ns}/{name}" not found')
            return replace(base, status=503)
        spec = svc.get("spec") or {}
        sp = next((p for p in spec.get("ports") or [] if (p.get("name") == port_ref if isinstance(port_ref, str)
                                                           else p.get("port") == port_ref)), None)
        if sp is None:
            self.warn(ing, f'service "{ns}/{name}" has no port {port_ref}')
            return replace(base, status=503)
        upstream = f"{ns}-{name}-{port_ref}"
        if upstream not in self.upstreams:
            eps = self.endpoints(ns, name, sp.get("name") or "")
            self.upstreams[upstream] = Upstream(upstream, eps)
        if not self.upstreams[upstream].endpoints:
            return replace(base, status=503)
        return replace(base, upstream=upstream)

    def endpoints(self, ns: str, service: str, port_name: str) -> tuple[str, ...]:
        out: set[str] = set()
        for sl in self.listers.endpoint_slices(ns, service):
            if sl.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
                continue
            port = next((p.get("port") for p in sl.get("ports") or [] if (p.get("name") or "") == port_name), None)
            if not port:
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                out.update(_endpoint(a, int(port)) for a in ep.get("addresses") or [])
        return tuple(sorted(out))

    # --- TLS --------------------------------------------------------------------------------------
    def tls(self, ing: Obj) -> None:
        ns = ing["metadata"].get("namespace", "")
        for entry in (ing.get("spec") or {}).get("tls") or []:
            secret_name = entry.get("secretName") or ""
            self.tls_hosts.update(entry.get("hosts") or [])
            if not secret_name:
                continue
            secret = self.listers.secret(ns, secret_name)
            if secret is None:
                self.warn(ing, f'secret "{ns}/{secret_name}" not found; using the default certificate')
                continue
            try:
                pem = certs.pem_bundle(secret.get("data"))
            except certs.InvalidCertificate as e:
                self.warn(ing, f'secret "{ns}/{secret_name}": {e}; using the default certificate')
                continue
            file_name = f"{ns}-{secret_name}-{hashlib.sha256(pem).hexdigest()[:12]}.pem"
            self.certificates.setdefault(file_name, Certificate(file_name, pem))
            for host in entry.get("hosts") or [""]:
                self.host_certs.setdefault(host, file_name)

    # --- rules ------------------------------------------------------------------------------------
    def put(self, host: str, loc: Location, rank: tuple[int, int, int]) -> None:
        slot = self.locations.setdefault(host, {})
        key = (loc.modifier, loc.path)
        if key not in slot or rank < slot[key][0]:
            slot[key] = (rank, loc)

    def rules(self, ing: Obj, order: int) -> None:
        ann = annots.parse((ing["metadata"].get("annotations")), self.allow_snippets)
        for problem in ann.problems:
            self.warn(ing, problem)
        spec = ing.get("spec") or {}
        rules = spec.get("rules") or []
        default = spec.get("defaultBackend")
        fallback_hosts = {r.get("host") or "" for r in rules} if rules else {""}
        if default:
            template = self.backend(ing, default, ann)
            for host in sorted(fallback_hosts):
                self.fallbacks.setdefault(host, replace(template, modifier=PREFIX, path="/"))
        for r in rules:
            host = r.get("host") or ""
            redirect = ann.force_ssl_redirect or (ann.ssl_redirect and host in self.host_certs)
            if ann.regex:
                self.regex_hosts.add(host)
            for i, p in enumerate((r.get("http") or {}).get("paths") or []):
                path, path_type = p.get("path") or "/", p.get("pathType") or "ImplementationSpecific"
                if not (_SAFE_REGEX if ann.regex else _SAFE_PATH).match(path):
                    self.warn(ing, f'path "{path}" contains characters this controller does not accept')
                    continue
                loc = replace(self.backend(ing, p.get("backend") or {}, ann), ssl_redirect=redirect)
                if ann.rewrite_target:
                    loc = replace(loc, rewrite_source=path, rewrite_target=ann.rewrite_target)
                rank = (0 if path_type == "Exact" else 1, order, i)
                for modifier, nginx_path in self.expand(path, path_type, ann.regex):
                    self.put(host, replace(loc, modifier=modifier, path=nginx_path), rank)

    @staticmethod
    def expand(path: str, path_type: str, regex: bool) -> list[tuple[str, str]]:
        if path_type == "Exact":
            return [(EXACT, path)]
        if regex:
            return [(REGEX, path)]
        if path_type == "Prefix":
            trimmed = path.rstrip("/")
            return [(PREFIX, "/")] if not trimmed else [(EXACT, trimmed), (PREFIX, trimmed + "/")]
        return [(PREFIX, path)]

    # --- assembly ---------------------------------------------------------------------------------
    def server(self, host: str) -> Server:
        slot = {k: loc for k, (_rank, loc) in self.locations.get(host, {}).items()}
        if host in self.regex_hosts:  # every non-exact path of a regex host is a regex
            slot = {(m, p): loc for (m, p), loc in slot.items() if m != PREFIX} | {
                (REGEX, p): replace(loc, modifier=REGEX) for (m, p), loc in slot.items() if m == PREFIX}
        if (PREFIX, "/") not in slot:
            slot[(PREFIX, "/")] = self.fallbacks.get(host) or Location(PREFIX, "/", status=404)
        exact = sorted((loc for loc in slot.values() if loc.modifier == EXACT), key=lambda loc: loc.path)
        regex = sorted((loc for loc in slot.values() if loc.modifier == REGEX),
                       key=lambda loc: (-len(loc.path), loc.path))   # nginx tries regexes in order: longest first
        prefix = sorted((loc for loc in slot.values() if loc.modifier == PREFIX), key=lambda loc: loc.path)
        return Server(host, (*exact, *regex, *prefix), self.host_certs.get(host, ""))


def build(ingresses: Iterable[Obj], listers: Listers, *, allow_snippets: bool = False) -> Model:
    """The nginx model for ``ingresses`` (all of them served by this controller)."""
    ordered = sorted(ingresses, key=_order)
    b = _Builder(listers, allow_snippets)
    for ing in ordered:
        b.tls(ing)
    for order, ing in enumerate(ordered):
        b.rules(ing, order)
    hosts = sorted(set(b.locations) | set(b.fallbacks) | b.tls_hosts | {""})
    used = {loc.upstream for locs in b.locations.values() for _rank, loc in locs.values()}
    used |= {loc.upstream for loc in b.fallbacks.values()}
    upstreams = tuple(u for name, u in sorted(b.upstreams.items()) if name in used and u.endpoints)
    return Model(servers=tuple(b.server(h) for h in hosts), upstreams=upstreams,
                 certificates=tuple(c for _n, c in sorted(b.certificates.items())), problems=tuple(b.problems))

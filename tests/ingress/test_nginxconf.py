"""Config generation: Ingress objects → model → nginx.conf, read back into server/location/upstream blocks."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kybernetes.ingress import annotations as annots
from kybernetes.ingress import model, nginxconf
from tests.ingress import builders as b
from tests.ingress import confparse, seed

Obj = dict[str, Any]
SETTINGS = nginxconf.Settings("/var/lib/kyb/ingress", 18080, 18443, "127.0.0.1", "1")


def render(ingresses: list[Obj], services: list[Obj] = (), slices: list[Obj] = (), secrets: list[Obj] = (),
           **kw: Any) -> tuple[confparse.Conf, model.Model, str]:
    m = model.build(ingresses, model.StaticListers(tuple(services), tuple(slices), tuple(secrets)), **kw)
    text = nginxconf.render(m, SETTINGS)
    return confparse.read(text), m, text


def targets(conf: confparse.Conf, host: str) -> dict[str, str]:
    return {head: confparse.target(loc) for head, loc in conf.servers[host].items()}


def web(*names: str, port: int = 80) -> tuple[list[Obj], list[Obj]]:
    """Services ``names`` with one ready endpoint each (10.42.0.<i>:8080)."""
    return ([b.service(n, ("http", port)) for n in names],
            [b.endpoint_slice(n, "http", 8080, f"10.42.0.{i + 1}") for i, n in enumerate(names)])


def test_seed_ingress_routes_each_path_to_its_service() -> None:
    slices = [b.endpoint_slice(svc, pname, 9000 + i, "10.42.1.1", ns=seed.NAMESPACE)
              for i, (svc, pname) in enumerate(seed.BACKENDS)]
    conf, m, _ = render([seed.ingress()], seed.services(), slices)
    assert not m.problems
    want = {p: f"http://{seed.upstream(s, n)}" for p, s, n in seed.PATHS} | {"/": "return 404"}
    assert targets(conf, seed.HOST) == want
    ports = {f"{svc}-{pname}": 9000 + i for i, (svc, pname) in enumerate(seed.BACKENDS)}
    assert conf.upstreams == {
        seed.upstream("kct-cos-power-repair", 8081): [f"10.42.1.1:{ports['kct-cos-power-repair-http']}"],
        seed.upstream("kct-cos-power-repair-web-admin-svc", 80): ["10.42.1.1:9001"],
        seed.upstream("cos-power-customer-service-admin", 8081): ["10.42.1.1:9002"],
        seed.upstream("cos-power-customer-service-admin", 9001): ["10.42.1.1:9003"],
        seed.upstream("cos-power-customer-service-web-admin-svc", 80): ["10.42.1.1:9004"],
        seed.upstream("cos-power-mobile-h5-svc", 80): ["10.42.1.1:9005"],
    }
    srv = conf.server_blocks[seed.HOST]
    assert srv.values("listen") == ["127.0.0.1:18080", "127.0.0.1:18443 ssl"]
    assert conf.server_blocks["_"].values("listen") == ["127.0.0.1:18080 default_server",
                                                        "127.0.0.1:18443 ssl default_server"]
    assert targets(conf, "_") == {"/": "return 404"}


@pytest.mark.parametrize(("paths", "want"), [
    # Prefix matches element-wise: /foo is "= /foo" plus "/foo/" (so /foobar does not match)
    ([("/foo", "Prefix")], {"= /foo": "a", "/foo/": "a", "/": "404"}),
    ([("/foo/", "Prefix")], {"= /foo": "a", "/foo/": "a", "/": "404"}),
    ([("/", "Prefix")], {"/": "a"}),
    ([("/foo", "Exact")], {"= /foo": "a", "/": "404"}),
    ([("/", "Exact")], {"= /": "a", "/": "404"}),
    ([("/foo", "ImplementationSpecific")], {"/foo": "a", "/": "404"}),
    # Exact beats Prefix for the same path, whatever the order of the paths
    ([("/foo", "Prefix"), ("/foo", "Exact")], {"= /foo": "b", "/foo/": "a", "/": "404"}),
    ([("/foo", "Exact"), ("/foo", "Prefix")], {"= /foo": "a", "/foo/": "b", "/": "404"}),
    # the same nginx location twice: the first path keeps it
    ([("/foo/", "ImplementationSpecific"), ("/foo", "Prefix")], {"= /foo": "b", "/foo/": "a", "/": "404"}),
])
def test_path_types(paths: list[tuple[str, str]], want: dict[str, str]) -> None:
    svcs, slices = web("a", "b")
    ing = b.ingress("i", b.rule("h.example.com", *(b.path(p, "ab"[i], 80, t) for i, (p, t) in enumerate(paths))))
    conf, _, _ = render([ing], svcs, slices)
    short = {"http://default-a-80": "a", "http://default-b-80": "b", "return 404": "404"}
    assert {h: short[t] for h, t in targets(conf, "h.example.com").items()} == want


def test_oldest_ingress_wins_a_shared_path_and_hosts_get_their_own_servers() -> None:
    svcs, slices = web("old", "new", "other")
    new = b.ingress("new", b.rule("h.example.com", b.path("/x", "new", 80, "Prefix")), created="2024-02-01T00:00:00Z")
    old = b.ingress("old", b.rule("h.example.com", b.path("/x", "old", 80, "Prefix")), created="2024-01-01T00:00:00Z")
    other = b.ingress("other", b.rule("", b.path("/x", "other", 80, "Prefix")))
    conf, _, _ = render([new, other, old], svcs, slices)
    assert targets(conf, "h.example.com")["= /x"] == "http://default-old-80"
    assert targets(conf, "_")["/x/"] == "http://default-other-80"
    assert list(conf.servers) == ["_", "h.example.com"]


def test_default_backends() -> None:
    svcs, slices = web("catchall", "hostdefault", "app")
    rule_less = b.ingress("all", default_backend=("catchall", 80))
    with_rules = b.ingress("host", b.rule("h.example.com", b.path("/app", "app", 80, "Prefix")),
                           default_backend=("hostdefault", 80))
    conf, _, _ = render([rule_less, with_rules], svcs, slices)
    assert targets(conf, "_") == {"/": "http://default-catchall-80"}
    assert targets(conf, "h.example.com")["/"] == "http://default-hostdefault-80"


def test_endpoints_ready_only_named_ports_and_503() -> None:
    svcs = [b.service("named", ("web", 8000)), b.service("empty"), b.service("v6")]
    slices = [b.endpoint_slice("named", "web", 3000, "10.42.0.2", "10.42.0.1", not_ready=("10.42.0.3",)),
              b.endpoint_slice("named", "web", 3000, "10.42.0.1", suffix="dup"),
              b.endpoint_slice("empty", "http", 80, not_ready=("10.42.0.9",)),
              b.endpoint_slice("v6", "http", 80, "fd00::5")]
    ing = b.ingress("i", b.rule("h", b.path("/named", "named", "web"), b.path("/empty", "empty", 80),
                                b.path("/missing", "nosuch", 80), b.path("/badport", "empty", 81),
                                b.path("/v6", "v6", 80)))
    conf, m, _ = render([ing], svcs, slices)
    assert targets(conf, "h") == {"/named": "http://default-named-web", "/empty": "return 503",
                                  "/missing": "return 503", "/badport": "return 503", "/v6": "http://default-v6-80",
                                  "/": "return 404"}
    assert conf.upstreams == {"default-named-web": ["10.42.0.1:3000", "10.42.0.2:3000"],
                              "default-v6-80": ["[fd00::5]:80"]}
    assert m.problems == (("default/i", 'service "default/nosuch" not found'),
                          ("default/i", 'service "default/empty" has no port 81'))


def test_wildcard_host_matches_one_label() -> None:
    svcs, slices = web("a")
    conf, _, text = render([b.ingress("i", b.rule("*.example.com", b.path("/", "a", 80, "Prefix")))], svcs, slices)
    assert r'server_name "~^[^.]+\.example\.com$";' in text
    assert list(conf.servers) == ["_", r"~^[^.]+\.example\.com$"]


def test_rewrite_target_makes_the_host_regex() -> None:
    svcs, slices = web("a", "b")
    rewrite = b.ingress("rw", b.rule("h", b.path("/something(/|$)(.*)", "a", 80)),
                        annotations={annots.REWRITE_TARGET: "/$2"})
    plain = b.ingress("plain", b.rule("h", b.path("/static", "b", 80, "Prefix"), b.path("/exact", "b", 80, "Exact")))
    conf, _, _ = render([rewrite, plain], svcs, slices)
    locs = conf.servers["h"]
    assert list(locs) == ["= /exact", "= /static", "~* ^/something(/|$)(.*)", "~* ^/static/", "/"]
    assert locs["~* ^/something(/|$)(.*)"].values("rewrite") == ["(?i)^/something(/|$)(.*) /$2 break"]
    assert locs["~* ^/static/"].values("rewrite") == []


@pytest.mark.parametrize(("ann", "problem"), [
    ({annots.REWRITE_TARGET: "/x; return 200"}, "contains characters not allowed"),
    ({annots.BACKEND_PROTOCOL: "FCGI"}, 'unsupported value "FCGI"'),
    ({annots.PROXY_BODY_SIZE: "10 m"}, "is not a size"),
    ({annots.SSL_REDIRECT: "yes"}, "is not a boolean"),
    ({annots.CONFIGURATION_SNIPPET: "return 200;"}, "snippet annotations are disabled"),
])
def test_bad_annotations_are_ignored_and_reported(ann: dict[str, str], problem: str) -> None:
    svcs, slices = web("a")
    conf, m, text = render([b.ingress("i", b.rule("h", b.path("/", "a", 80, "Prefix")), annotations=ann)],
                           svcs, slices)
    assert [p for _k, p in m.problems if problem in p]
    assert targets(conf, "h") == {"/": "http://default-a-80"}
    assert "return 200" not in text


def test_location_annotations() -> None:
    svcs, slices = web("a")
    ann = {annots.BACKEND_PROTOCOL: "https", annots.PROXY_BODY_SIZE: "8m", annots.FORCE_SSL_REDIRECT: "true",
           annots.CONFIGURATION_SNIPPET: 'add_header X-Snippet "yes";'}
    conf, _, _ = render([b.ingress("i", b.rule("h", b.path("/", "a", 80, "Prefix")), annotations=ann)],
                        svcs, slices, allow_snippets=True)
    loc = conf.servers["h"]["/"]
    assert confparse.target(loc) == "https://default-a-80"
    assert loc.values("client_max_body_size") == ["8m"]
    assert loc.values("add_header") == ["X-Snippet yes"]
    assert [" ".join(d.args) for d in loc.all("if")] == ["($scheme = http)"]
    assert loc.all("if")[0].values("return") == ["308 https://$host:18443$request_uri"]


def test_tls_certificates_sni_and_ssl_redirect() -> None:
    svcs, slices = web("a")
    secrets = [b.tls_secret("s1", "secure.example.com"), b.tls_secret("bad", "x")]
    secrets[1]["data"]["tls.key"] = secrets[0]["data"]["tls.key"]  # a key that does not match its certificate
    tls = [{"hosts": ["secure.example.com"], "secretName": "s1"}, {"hosts": ["other.example.com"], "secretName": "bad"},
           {"hosts": ["gone.example.com"], "secretName": "missing"}]
    ing = b.ingress("i", *(b.rule(h, b.path("/", "a", 80, "Prefix"))
                           for h in ("secure.example.com", "other.example.com", "plain.example.com")),
                    tls=tls, annotations={annots.SSL_REDIRECT: "true"})
    conf, m, _ = render([ing], svcs, slices, secrets)
    [cert] = m.certificates
    assert cert.name.startswith("default-s1-") and b"PRIVATE KEY" in cert.pem
    secure = conf.server_blocks["secure.example.com"]
    assert secure.values("ssl_certificate") == [f"{SETTINGS.certs_dir}/{cert.name}"]
    assert secure.values("ssl_certificate_key") == [f"{SETTINGS.certs_dir}/{cert.name}"]
    assert conf.server_blocks["other.example.com"].values("ssl_certificate") == []
    assert conf.server_blocks["gone.example.com"].all("location")[0].values("return") == ["404"]
    # ssl-redirect applies only where TLS is configured
    assert conf.servers["secure.example.com"]["/"].all("if")
    assert not conf.servers["plain.example.com"]["/"].all("if")
    problems = [p for _k, p in m.problems]
    assert any("the private key does not match the certificate" in p for p in problems)
    assert any('secret "default/missing" not found' in p for p in problems)


def test_tls_without_hosts_goes_to_the_default_server() -> None:
    conf, m, _ = render([b.ingress("i", default_backend=("a", 80), tls=[{"secretName": "s"}])],
                        *web("a"), [b.tls_secret("s", "anything")])
    assert conf.server_blocks["_"].values("ssl_certificate") == [f"{SETTINGS.certs_dir}/{m.certificates[0].name}"]


def test_unsafe_paths_are_refused() -> None:
    svcs, slices = web("a")
    ing = b.ingress("i", b.rule("h", b.path("/ok", "a", 80), b.path("/x;return", "a", 80),
                                b.path("/a b", "a", 80), b.path("/{x}", "a", 80)))
    conf, m, _ = render([ing], svcs, slices)
    assert list(conf.servers["h"]) == ["/", "/ok"]
    assert len(m.problems) == 3


def test_rendering_is_deterministic() -> None:
    svcs = seed.services()
    slices = [b.endpoint_slice(svc, pname, 9000 + i, "10.42.1.2", "10.42.1.1", ns=seed.NAMESPACE)
              for i, (svc, pname) in enumerate(seed.BACKENDS)]
    extra = b.ingress("z", b.rule("a.example.com", b.path("/", "kct-cos-power-repair", 8081, "Prefix")),
                      ns=seed.NAMESPACE)
    _, _, first = render([seed.ingress(), extra], svcs, slices)
    rng = random.Random(5)
    for _ in range(5):
        ings, ss = [seed.ingress(), extra], list(slices)
        rng.shuffle(ings)
        rng.shuffle(ss)
        assert render(ings, svcs, ss)[2] == first


def test_global_settings() -> None:
    s = nginxconf.Settings("/st", 80, 443, "::", "auto", user="www-data")
    text = nginxconf.render(model.build([], model.StaticListers()), s)
    top = confparse.parse(text)
    assert [" ".join(d.args) for d in top if d.name in ("daemon", "pid", "user", "error_log")] == [
        "off", "/st/nginx.pid", "/st/error.log notice", "www-data"]
    http = next(d for d in top if d.name == "http")
    assert http.values("access_log") == ["/st/access.log upstreaminfo"]
    assert http.values("client_max_body_size") == ["1m"]
    assert http.values("ssl_certificate") == ["/st/certs/default.pem"]
    assert {v.split()[0] for v in http.values("proxy_set_header")} >= {
        "Host", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto"}
    srv = next(d for d in http.block or [] if d.name == "server")
    assert srv.values("listen") == ["[::]:80 default_server", "[::]:443 ssl default_server"]

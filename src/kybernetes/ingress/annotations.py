"""The ingress-nginx annotations this controller understands, parsed and checked once per Ingress.

``ingress/model.py`` calls :func:`parse` for every Ingress it serves and copies the result into
the locations it builds. Values that could break out of the generated nginx.conf are rejected
(the annotation is then ignored and a problem is reported), never escaped into the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["BACKEND_PROTOCOL", "CONFIGURATION_SNIPPET", "FORCE_SSL_REDIRECT", "PREFIX", "PROXY_BODY_SIZE",
           "REWRITE_TARGET", "SSL_REDIRECT", "USE_REGEX", "Annotations", "parse"]

PREFIX = "nginx.ingress.kubernetes.io/"
REWRITE_TARGET = PREFIX + "rewrite-target"
USE_REGEX = PREFIX + "use-regex"
BACKEND_PROTOCOL = PREFIX + "backend-protocol"
SSL_REDIRECT = PREFIX + "ssl-redirect"
FORCE_SSL_REDIRECT = PREFIX + "force-ssl-redirect"
PROXY_BODY_SIZE = PREFIX + "proxy-body-size"
CONFIGURATION_SNIPPET = PREFIX + "configuration-snippet"

PROTOCOLS = ("HTTP", "HTTPS")
_REWRITE = re.compile(r"^[A-Za-z0-9/$._~%!&()*+,=:@?-]*$")
_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")


@dataclass(frozen=True, slots=True)
class Annotations:
    """What one Ingress asks of its locations; ``problems`` lists annotations that were ignored."""

    rewrite_target: str = ""
    use_regex: bool = False
    backend_protocol: str = "HTTP"
    ssl_redirect: bool = False
    force_ssl_redirect: bool = False
    proxy_body_size: str = ""
    configuration_snippet: str = ""
    problems: tuple[str, ...] = field(default=())

    @property
    def regex(self) -> bool:
        """Whether the Ingress's paths are regular expressions (ingress-nginx: rewrite-target implies it)."""
        return self.use_regex or bool(self.rewrite_target)


def _bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None


def parse(annotations: dict[str, str] | None, allow_snippets: bool = False) -> Annotations:
    """Read the supported ``nginx.ingress.kubernetes.io/*`` annotations of one Ingress."""
    ann = annotations or {}
    problems: list[str] = []
    flags: dict[str, bool] = {}
    for key in (USE_REGEX, SSL_REDIRECT, FORCE_SSL_REDIRECT):
        if key in ann:
            parsed = _bool(ann[key])
            if parsed is None:
                problems.append(f'{key}: "{ann[key]}" is not a boolean')
            flags[key] = bool(parsed)
    rewrite = ann.get(REWRITE_TARGET, "").strip()
    if rewrite and not _REWRITE.match(rewrite):
        problems.append(f'{REWRITE_TARGET}: "{rewrite}" contains characters not allowed in a rewrite target')
        rewrite = ""
    proto = ann.get(BACKEND_PROTOCOL, "HTTP").strip().upper()
    if proto not in PROTOCOLS:
        problems.append(f'{BACKEND_PROTOCOL}: unsupported value "{ann[BACKEND_PROTOCOL]}": '
                        f'supported values: {", ".join(PROTOCOLS)}')
        proto = "HTTP"
    size = ann.get(PROXY_BODY_SIZE, "").strip()
    if size and not _SIZE.match(size):
        problems.append(f'{PROXY_BODY_SIZE}: "{size}" is not a size (e.g. 8m)')
        size = ""
    snippet = ann.get(CONFIGURATION_SNIPPET, "")
    if snippet and not allow_snippets:
        problems.append(f"{CONFIGURATION_SNIPPET}: snippet annotations are disabled on this controller")
        snippet = ""
    return Annotations(rewrite_target=rewrite, use_regex=flags.get(USE_REGEX, False), backend_protocol=proto,
                       ssl_redirect=flags.get(SSL_REDIRECT, False),
                       force_ssl_redirect=flags.get(FORCE_SSL_REDIRECT, False), proxy_body_size=size,
                       configuration_snippet=snippet, problems=tuple(problems))

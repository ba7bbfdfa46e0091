"""Request information: which resource a URL names, query parameters, body decoding, Accept.

``parse_path`` turns ``/apis/apps/v1/namespaces/ns/deployments/web/scale`` into a ``RequestInfo``
(the apiserver's RequestInfoResolver). Bodies are decoded from JSON, YAML or Kubernetes protobuf;
responses are always JSON, rendered as a Table when the client asks for one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import errors

MAX_BODY = 3 * 1024 * 1024  # Kubernetes' default request size limit (3 MiB)

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    group: str
    version: str
    resource: str  # plural; "" for group/version roots
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    #: whether the URL had /namespaces/<ns>/ (a namespaced request) — also true for ns objects themselves
    namespaced_path: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@functools.lru_cache(maxsize=8192)
def parse_path(path: str) -> RequestInfo | None:
    """Resource URL → RequestInfo; None for /api, /apis, /apis/<group> and non-resource paths.

    A pure function of the path, memoized: clients ask for the same URLs again and again.
    """
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 2:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 3:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return RequestInfo(group, version, "")
    namespace = ""
    namespaced_path = False
    if rest[0] == "namespaces" and len(rest) == 3 and rest[2] in ("status", "finalize"):
        return RequestInfo(group, version, "namespaces", name=rest[1], subresource=rest[2])
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
        namespaced_path = True
    elif rest[0] == "namespaces" and len(rest) in (1, 2):
        # /api/v1/namespaces or /api/v1/namespaces/<name> — the namespaces resource itself
        return RequestInfo(group, version, "namespaces", name=rest[1] if len(rest) == 2 else "")
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    if resource == "namespaces" and not namespaced_path:
        return RequestInfo(group, version, resource, name=name, subresource=sub)
    return RequestInfo(group, version, resource, namespace, name, sub, namespaced_path)


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Parse like Go's strconv.ParseBool (what the apiserver does for query booleans)."""
    v = request.query.get(name)
    if v is None or v == "":
        return default
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise errors.bad_request(f'invalid boolean value "{v}" for parameter {name}')


def query_int(request: web.Request, name: str) -> int | None:
    v = request.query.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f'invalid value "{v}" for parameter {name}: must be an integer') from None


def media_type(request: web.Request) -> str:
    ct = request.headers.get("Content-Type", "")
    return ct.split(";", 1)[0].strip().lower()


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or its first ``limit + 1`` bytes when it is longer (for the caller to refuse).
    A single ``content.read(n)`` returns only what has arrived so far: part of a big body."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_body(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise errors.request_entity_too_large(f"Request entity too large: limit is {MAX_BODY}")
    data = await read_limited(request, MAX_BODY)
    if len(data) > MAX_BODY:
        raise errors.request_entity_too_large(f"Request entity too large: limit is {MAX_BODY}")
    return data


def decode_object(body: bytes, content_type: str) -> dict[str, Any]:
    """A create/update body (JSON when no Content-Type is given, as kubectl scale sends)."""
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    if content_type in ("", JSON, "*/*"):
        return _json(body)
    if content_type in (YAML, "application/x-yaml", "text/yaml"):
        return _yaml(body)
    if content_type == PROTOBUF:
        from kybernetes.api import protobuf

        return protobuf.decode(body)
    raise errors.unsupported_media_type(content_type)


def _json(body: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    if not isinstance(obj, dict):
        raise errors.bad_request("couldn't get version/kind; json parse error: json: cannot unmarshal "
                                 f"{type(obj).__name__} into Go value of type struct {{ APIVersion string "
                                 '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }')
    return obj


def _yaml(body: bytes) -> dict[str, Any]:
    import yaml  # only YAML bodies need it (and start-up is faster without)

    try:
        obj = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
    if not isinstance(obj, dict):
        raise errors.bad_request("couldn't get version/kind; yaml body is not an object")
    decoded: dict[str, Any] = orjson.loads(orjson.dumps(obj, default=str))
    return decoded


def decode_patch_body(body: bytes, content_type: str) -> Any:
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    if content_type == APPLY_PATCH:
        import yaml

        try:
            return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"error decoding patch: {e}") from None


@dataclass(frozen=True, slots=True)
class Accept:
    table: bool = False
    partial_metadata: bool = False  # as=PartialObjectMetadata(List)


def parse_accept(request: web.Request) -> Accept:
    """Pick the first acceptable representation; we can always answer JSON."""
    return _accept(request.headers.get("Accept", ""))


@functools.lru_cache(maxsize=256)
def _accept(header: str) -> Accept:
    for item in header.split(","):
        params = [p.strip() for p in item.split(";")]
        mt = params[0].lower()
        kv = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if mt in (JSON, "application/*", "*/*", PROTOBUF) and kv.get("g") == "meta.k8s.io":
            if kv.get("as") == "Table":
                return Accept(table=True)
            if kv.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Accept(partial_metadata=True)
            continue
        if mt in (JSON, PROTOBUF, YAML, "application/*", "*/*", ""):
            return Accept()
    return Accept()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(body=data, status=status, content_type=JSON, headers=headers)

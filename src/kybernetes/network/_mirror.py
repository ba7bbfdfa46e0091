"""Manual core/v1 Endpoints seen as EndpointSlices, for Services without a selector.

Kubernetes' EndpointSliceMirroring controller copies such Endpoints into EndpointSlices, which is
all kube-proxy and CoreDNS read. This cluster may run without that controller, so the proxy and
DNS fall back to the Endpoints object while a selector-less Service has no slice at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def slices_from_endpoints(ep: Obj) -> list[Obj]:
    """A core/v1 Endpoints object as the EndpointSlices the EndpointSliceMirroring controller would
    write: one slice per subset, ``addresses`` ready, ``notReadyAddresses`` not."""
    md = ep.get("metadata") or {}
    out = []
    for i, subset in enumerate(ep.get("subsets") or []):
        eps = []
        for ready, field_name in ((True, "addresses"), (False, "notReadyAddresses")):
            for a in subset.get(field_name) or []:
                e: Obj = {"addresses": [a.get("ip")], "conditions": {"ready": ready, "serving": ready,
                                                                      "terminating": False}}
                for k in ("nodeName", "hostname"):
                    if a.get(k):
                        e[k] = a[k]
                eps.append(e)
        out.append({"metadata": {"name": f"{md.get('name')}-mirror-{i}", "namespace": md.get("namespace", ""),
                                 "labels": {SERVICE_NAME_LABEL: md.get("name")}},
                    "addressType": "IPv4", "endpoints": eps,
                    "ports": [{"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol", "TCP")}
                              for p in subset.get("ports") or []]})
    return out


def mirrored_slices(services: Iterable[Obj], slices: Iterable[Obj], endpoints: Iterable[Obj]) -> list[Obj]:
    """Slices for Services without a selector that have manual Endpoints but no EndpointSlice yet
    (this cluster may run no mirroring controller); once a slice exists, it wins."""
    sliced = {((sl.get("metadata") or {}).get("namespace", ""),
               ((sl.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)) for sl in slices}
    selectorless = {((s.get("metadata") or {}).get("namespace", ""), (s.get("metadata") or {}).get("name"))
                    for s in services if not (s.get("spec") or {}).get("selector")}
    out: list[Obj] = []
    for ep in endpoints:
        md = ep.get("metadata") or {}
        key = (md.get("namespace", ""), md.get("name"))
        if key in selectorless and key not in sliced:
            out += slices_from_endpoints(ep)
    return out

"""Root CA publisher: a ``kube-root-ca.crt`` ConfigMap (key ``ca.crt``) in every namespace, so pods
can verify the API server (projected service-account volumes mount it).

Namespace adds/updates and changes to any ``kube-root-ca.crt`` ConfigMap enqueue the namespace;
``sync`` creates the ConfigMap or puts back the exact CA and description annotation if edited.
"""

from __future__ import annotations

import copy
import logging

from kybernetes.client.errors import AlreadyExistsError, ApiError, has_status_cause
from kybernetes.client.informer import Informer
from kybernetes.client.rest import CONFIGMAPS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

CONFIGMAP_NAME = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class RootCACertPublisher(loop.Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, ns_informer: Informer, cm_informer: Informer, client: Client, recorder: loop.Recorder,
                 root_ca_pem: str) -> None:
        super().__init__([ns_informer, cm_informer])
        self.ns_informer = ns_informer
        self.cm_informer = cm_informer
        self.client = client
        self.recorder = recorder
        self.root_ca_pem = root_ca_pem
        ns_informer.add_handlers(self._namespace, lambda _old, cur: self._namespace(cur))
        cm_informer.add_handlers(on_update=lambda _old, cur: self._configmap(cur), on_delete=self._configmap)

    def _namespace(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _configmap(self, cm: Obj) -> None:
        md = cm.get("metadata") or {}
        if md.get("name") == CONFIGMAP_NAME and md.get("namespace"):
            self.queue.add(md["namespace"])

    async def sync(self, key: str) -> None:
        ns = self.ns_informer.get(key)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp") or \
                (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        want = {DATA_KEY: self.root_ca_pem}
        cm = self.cm_informer.get(f"{key}/{CONFIGMAP_NAME}")
        try:
            if cm is None:
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": CONFIGMAP_NAME, "namespace": key,
                                     "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                        "data": want}
                await self.client.create(CONFIGMAPS, body, key)
                return
            annotations = (cm.get("metadata") or {}).get("annotations") or {}
            if cm.get("data") == want and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
                return
            fixed = copy.deepcopy(cm)
            fixed["data"] = want
            fixed.pop("binaryData", None)
            fixed["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
            await self.client.replace(CONFIGMAPS, fixed, key)
        except AlreadyExistsError:
            pass
        except ApiError as e:
            if has_status_cause(e, "NamespaceTerminating"):
                return
            raise

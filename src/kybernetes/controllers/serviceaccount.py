"""ServiceAccount controller: every active namespace has a ``default`` ServiceAccount.

Namespace adds/updates and ServiceAccount deletions enqueue the namespace name; ``sync`` creates the
missing accounts unless the namespace is gone or terminating (then creates would be refused).
"""

from __future__ import annotations

import logging

from kybernetes.client.errors import AlreadyExistsError, ApiError, has_status_cause
from kybernetes.client.informer import Informer
from kybernetes.client.rest import SERVICEACCOUNTS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

DEFAULT_ACCOUNTS = ("default",)


class ServiceAccountController(loop.Controller):
    name = "serviceaccount"

    def __init__(self, ns_informer: Informer, sa_informer: Informer, client: Client, recorder: loop.Recorder,
                 accounts: tuple[str, ...] = DEFAULT_ACCOUNTS) -> None:
        super().__init__([ns_informer, sa_informer])
        self.ns_informer = ns_informer
        self.sa_informer = sa_informer
        self.client = client
        self.recorder = recorder
        self.accounts = accounts
        ns_informer.add_handlers(self._namespace, lambda _old, cur: self._namespace(cur))
        sa_informer.add_handlers(on_delete=self._sa_deleted)

    def _namespace(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _sa_deleted(self, sa: Obj) -> None:
        md = sa.get("metadata") or {}
        if md.get("name") in self.accounts and md.get("namespace"):
            self.queue.add(md["namespace"])

    async def sync(self, key: str) -> None:
        ns = self.ns_informer.get(key)
        if ns is None or (ns.get("status") or {}).get("phase", "Active") != "Active" or \
                (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        for name in self.accounts:
            if self.sa_informer.get(f"{key}/{name}") is not None:
                continue
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICEACCOUNTS, body, key)
                log.debug("created service account %s/%s", key, name)
            except AlreadyExistsError:
                pass
            except ApiError as e:
                if has_status_cause(e, "NamespaceTerminating"):
                    return
                raise

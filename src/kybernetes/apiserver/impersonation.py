"""User impersonation (``kubectl --as``, ``--as-group``, ``--as-uid``): the ``Impersonate-*``
headers make a request act as another user, if the requester may ``impersonate`` each part of
that identity.

What is checked, as in Kubernetes: the user name (resource ``users``, or ``serviceaccounts`` in
its namespace for ``system:serviceaccount:<ns>:<name>``), each group (``groups``), the uid
(``uids`` in ``authentication.k8s.io``) and each extra value (``userextras/<key>``). The acting
user is then in ``system:authenticated`` (``system:unauthenticated`` for ``system:anonymous``);
a service account without requested groups gets its fixed ``system:serviceaccounts`` groups.
"""

from __future__ import annotations

from urllib.parse import unquote

from multidict import CIMultiDictProxy

from kybernetes.api import errors
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz import Attributes, Authorizer, forbidden

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ANONYMOUS = "system:anonymous"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


def acting_user(headers: CIMultiDictProxy[str], user: User, authz: Authorizer) -> User:
    """``user`` itself without impersonation headers, else the user they name (403 when
    ``user`` may not impersonate some part of it)."""
    name = headers.get(USER_HEADER, "")
    groups = list(headers.getall(GROUP_HEADER, []))
    uid = headers.get(UID_HEADER, "")
    extras = [(unquote(k[len(EXTRA_PREFIX):].lower()), v) for k, v in headers.items()
              if k.lower().startswith(EXTRA_PREFIX)]
    if not (name or groups or uid or extras):
        return user
    if not name:
        asked = ", ".join([*(f"group {g!r}" for g in groups), *([f"uid {uid!r}"] if uid else []),
                           *(f"extra {k}={v!r}" for k, v in extras)])
        raise errors.bad_request(f"requested {asked} without impersonating a user")
    wanted: list[Attributes] = []
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        namespace, sa = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")
        wanted.append(Attributes("impersonate", "", "serviceaccounts", namespace=namespace, name=sa))
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        wanted.append(Attributes("impersonate", "", "users", name=name))
    wanted += [Attributes("impersonate", "", "groups", name=g) for g in groups]
    if uid:
        wanted.append(Attributes("impersonate", "authentication.k8s.io", "uids", name=uid))
    wanted += [Attributes("impersonate", "authentication.k8s.io", "userextras", subresource=k, name=v)
               for k, v in extras]
    if not user.is_admin:
        for a in wanted:
            if not authz.allowed(user, a):
                raise forbidden(user, a)
    implied = UNAUTHENTICATED if name == ANONYMOUS else AUTHENTICATED
    return User(name, tuple(groups) if implied in groups else (*groups, implied))

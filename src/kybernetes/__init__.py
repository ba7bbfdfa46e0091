"""Kybernetes: Kubernetes written in Python.

The package is layered (see ../shared/design/STYLE.md): ``cli`` → composition roots (``server``,
``agent``) → components (``apiserver``, ``controllers``, ``scheduler``, ``kubelet``, ``network``,
``ingress``) → ``client``/``store``/``runtime`` → ``api``.
"""

import os

# uvloop starts every subprocess with fork(), and gRPC's fork handlers, run around each one, can deadlock
# against gRPC's own threads (grpc/grpc#37259): the child never reaches exec, and libuv blocks the event
# loop waiting for that exec. Our children always exec at once and need no gRPC state, so the handlers are
# turned off — before anything imports grpc, which reads this once.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"

#: The Kubernetes release whose API we serve (kubectl's dispatcher picks its binary from this).
KUBERNETES_VERSION = "v1.32.4"

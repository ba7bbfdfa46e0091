"""Kybernetes: Kubernetes written in Python.

The package is layered (see ../shared/design/STYLE.md): ``cli`` → composition roots (``server``,
``agent``) → components (``apiserver``, ``controllers``, ``scheduler``, ``kubelet``, ``network``,
``ingress``) → ``client``/``store``/``runtime`` → ``api``.
"""

__version__ = "0.1.0"

#: The Kubernetes release whose API we serve (kubectl's dispatcher picks its binary from this).
KUBERNETES_VERSION = "v1.32.4"

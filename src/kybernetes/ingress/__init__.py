"""Ingress controller: Ingress objects → nginx.conf → an nginx process on the node (ingress-nginx's role).

``controller.run_ingress_controller`` is the entry point (``kyb ingress-controller``, and ``kyb server``
through the composition root); ``model`` and ``nginxconf`` are the pure translation, ``nginx`` the
process manager, ``classes`` the IngressClass rules, ``certs`` the TLS files, ``statedir`` the
files nginx runs from.
"""

from kybernetes.ingress.classes import CONTROLLER, DEFAULT_CLASS_NAME
from kybernetes.ingress.controller import IngressController, run_ingress_controller

__all__ = ["CONTROLLER", "DEFAULT_CLASS_NAME", "IngressController", "run_ingress_controller"]

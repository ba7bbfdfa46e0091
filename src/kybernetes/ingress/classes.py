"""Which Ingresses this controller serves: IngressClass selection as Kubernetes defines it.

An Ingress is ours when ``spec.ingressClassName`` names an IngressClass whose ``spec.controller`` is
:data:`CONTROLLER`; when it names no class, it is ours if one of our classes is annotated as the
cluster default (or, the pre-v1 way, if its ``kubernetes.io/ingress.class`` annotation names one of
our classes). The controller (``ingress/controller.py``) calls :func:`is_ours` from its sync and
creates :func:`default_class` at start when asked to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kybernetes.client.rest import Resource

__all__ = ["CONTROLLER", "DEFAULT_CLASS_ANNOTATION", "DEFAULT_CLASS_NAME", "INGRESSCLASSES", "INGRESSES",
           "LEGACY_CLASS_ANNOTATION", "default_class", "is_default", "is_ours", "our_classes"]

Obj = dict[str, Any]

CONTROLLER = "kybernetes.io/ingress-nginx"
DEFAULT_CLASS_NAME = "nginx"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", kind="Ingress")
INGRESSCLASSES = Resource("networking.k8s.io", "v1", "ingressclasses", namespaced=False, kind="IngressClass")


def is_default(ingress_class: Obj) -> bool:
    """Whether the IngressClass carries ``is-default-class: "true"``."""
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"


def our_classes(classes: Iterable[Obj], controller: str = CONTROLLER) -> dict[str, Obj]:
    """The IngressClasses (by name) whose ``spec.controller`` is ``controller``."""
    return {c["metadata"]["name"]: c for c in classes
            if (c.get("spec") or {}).get("controller") == controller and not c["metadata"].get("deletionTimestamp")}


def is_ours(ingress: Obj, classes: dict[str, Obj]) -> bool:
    """Whether ``ingress`` belongs to one of ``classes`` (the result of :func:`our_classes`)."""
    class_name = (ingress.get("spec") or {}).get("ingressClassName")
    if class_name:
        return class_name in classes
    legacy = ((ingress.get("metadata") or {}).get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
    if legacy:
        return legacy in classes
    return any(is_default(c) for c in classes.values())


def default_class(name: str = DEFAULT_CLASS_NAME, controller: str = CONTROLLER, default: bool = True) -> Obj:
    """The IngressClass the controller creates at start when none by ``name`` exists."""
    md: Obj = {"name": name, "labels": {"app.kubernetes.io/component": "controller"}}
    if default:
        md["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": md,
            "spec": {"controller": controller}}

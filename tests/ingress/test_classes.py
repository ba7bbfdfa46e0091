"""IngressClass selection: which Ingresses the controller serves."""

from __future__ import annotations

import pytest

from kybernetes.ingress import classes
from tests.ingress import builders as b

MINE = b.ingress_class("nginx", default=True)
MINE_NOT_DEFAULT = b.ingress_class("internal", default=False)
FOREIGN = b.ingress_class("traefik", controller="traefik.io/ingress-controller", default=True)


@pytest.mark.parametrize(("class_name", "legacy", "available", "ours"), [
    ("nginx", None, [MINE, FOREIGN], True),
    ("internal", None, [MINE_NOT_DEFAULT], True),
    ("traefik", None, [MINE, FOREIGN], False),
    ("missing", None, [MINE], False),
    (None, None, [MINE], True),                 # no class: ours while our class is the default
    (None, None, [MINE_NOT_DEFAULT, FOREIGN], False),
    (None, None, [], False),
    (None, "internal", [MINE_NOT_DEFAULT], True),  # the pre-v1 annotation names the class
    (None, "traefik", [MINE, FOREIGN], False),
])
def test_is_ours(class_name: str | None, legacy: str | None, available: list[dict], ours: bool) -> None:
    ing = b.ingress("i", class_name=class_name,
                    annotations={classes.LEGACY_CLASS_ANNOTATION: legacy} if legacy else None)
    assert classes.is_ours(ing, classes.our_classes(available)) is ours


def test_default_class_object() -> None:
    obj = classes.default_class()
    assert obj["metadata"]["name"] == "nginx"
    assert obj["spec"] == {"controller": "kybernetes.io/ingress-nginx"}
    assert classes.is_default(obj)
    assert not classes.is_default(classes.default_class("x", default=False))

"""Pod-template hash: FNV-32a, SafeEncodeString alphabet, stable, sensitive to template and collisions."""

from __future__ import annotations

from kybernetes.controllers import templatehash
from tests.controllers import builders as b


def test_fnv32a_reference_values() -> None:
    assert templatehash.fnv32a(b"") == 0x811C9DC5
    assert templatehash.fnv32a(b"a") == 0xE40C292C
    assert templatehash.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_maps_digits_like_upstream() -> None:
    assert templatehash.safe_encode_string("0123456789") == "456789bcdf"


def test_hash_is_stable_and_changes_with_template_and_collision_count() -> None:
    t = b.template({"app": "web"})
    h = templatehash.compute_hash(t)
    assert h == templatehash.compute_hash(b.template({"app": "web"}))
    assert set(h) <= set("456789bcdf") and 1 <= len(h) <= 10
    assert templatehash.compute_hash(b.template({"app": "web"}, image="nginx:1.26")) != h
    assert templatehash.compute_hash(t, 1) != h
    assert templatehash.compute_hash(t, 0) != h  # a set collision count is hashed even when zero

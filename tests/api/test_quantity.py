"""Quantities: parse → canonical ``String()`` as Go prints it, arithmetic and its format rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kybernetes.api import quantity
from kybernetes.api.quantity import Quantity, new_milli_quantity, parse_quantity


@pytest.mark.parametrize(("text", "canonical", "value"), [
    ("0", "0", 0),
    ("1", "1", 1),
    ("1.0", "1", 1),
    ("100m", "100m", Fraction(1, 10)),
    ("0.5", "500m", Fraction(1, 2)),
    ("1500m", "1500m", Fraction(3, 2)),
    ("2000m", "2", 2),
    ("1k", "1k", 1000),
    ("1000", "1k", 1000),
    ("1500", "1500", 1500),
    ("1M", "1M", 10**6),
    ("2G", "2G", 2 * 10**9),
    ("1T", "1T", 10**12),
    ("1P", "1P", 10**15),
    ("1E", "1E", 10**18),
    ("1Ki", "1Ki", 1024),
    ("1024", "1024", 1024),
    ("1024Ki", "1Mi", 1024**2),
    ("1.5Gi", "1536Mi", 3 * 1024**3 // 2),
    ("64Mi", "64Mi", 64 * 1024**2),
    ("1Ti", "1Ti", 1024**4),
    ("1Pi", "1Pi", 1024**5),
    ("1Ei", "1Ei", 1024**6),
    ("0.5Ki", "512", 512),
    ("1e3", "1e3", 1000),
    ("1E3", "1e3", 1000),
    ("12e6", "12e6", 12 * 10**6),
    ("1.5e3", "1500", 1500),
    ("1e-3", "1e-3", Fraction(1, 1000)),
    ("10u", "10u", Fraction(1, 10**5)),
    ("5n", "5n", Fraction(5, 10**9)),
    ("-100m", "-100m", Fraction(-1, 10)),
    ("+2", "2", 2),
    (".5", "500m", Fraction(1, 2)),
    (3, "3", 3),
])
def test_parse_and_format(text: object, canonical: str, value: Fraction | int) -> None:
    q = parse_quantity(text)
    assert q.value == value
    assert str(q) == canonical == quantity.format_quantity(q)


@pytest.mark.parametrize("bad", ["", "abc", "1Gb", "1.2.3", "Mi", "1 Gi", None, True, "1e"])
def test_malformed_quantities_raise_with_kubernetes_message(bad: object) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        parse_quantity(bad)


def test_sum_keeps_first_nonzero_format() -> None:
    total = Quantity()
    for _ in range(2):
        total = total + parse_quantity("64Mi")
    assert str(total) == "128Mi"
    assert str(parse_quantity("100m") + parse_quantity("1")) == "1100m"
    assert str(Quantity() + parse_quantity("1Gi") + parse_quantity("512Mi")) == "1536Mi"
    assert str(parse_quantity("1Gi") - parse_quantity("1Gi")) == "0"


def test_comparisons_ignore_format() -> None:
    assert parse_quantity("1Ki") == parse_quantity("1024")
    assert parse_quantity("1k") < parse_quantity("1Ki")
    assert parse_quantity("2") > parse_quantity("1500m") >= parse_quantity("1.5")
    assert parse_quantity("0").is_zero()


def test_milli_and_int_values_round_up() -> None:
    assert parse_quantity("1500m").milli_value() == 1500
    assert parse_quantity("1.5").int_value() == 2
    assert parse_quantity("1n").milli_value() == 1
    assert parse_quantity("-1.5").int_value() == -2
    assert parse_quantity("128Mi").int_value() == 128 * 1024**2
    assert str(new_milli_quantity(250)) == "250m"
    assert str(new_milli_quantity(3000)) == "3"
    assert str(quantity.new_quantity(5)) == "5"
    assert str(parse_quantity("1").times(3)) == "3"

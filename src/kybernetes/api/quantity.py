"""Kubernetes quantities as values: parse, compare, add, and print them the way Go's ``resource.Quantity`` does.

``api/validation.py`` owns the grammar (``parse_quantity`` → exact ``Fraction`` and format, and
``format_quantity`` → canonical ``String()``); this module wraps that pair in an immutable ``Quantity``
with the arithmetic controllers need: the quota controller sums pod requests, the HPA reads metric
usages in milli-units, the scheduler compares requests with allocatable. Formats follow Go: a sum
keeps the format of its left operand unless that operand is zero (``0 + 64Mi + 64Mi`` prints ``128Mi``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kybernetes.api import validation

__all__ = ["BINARY_SI", "DECIMAL_EXPONENT", "DECIMAL_SI", "Quantity", "format_quantity", "new_milli_quantity",
           "new_quantity", "parse_quantity"]

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact amount (``value``, a ``Fraction``) and the format it prints in."""

    value: Fraction = Fraction(0)
    format: str = DECIMAL_SI

    def __str__(self) -> str:
        return validation.format_quantity(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __add__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.value == 0 else self.format
        return Quantity(self.value - other.value, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def __eq__(self, other: object) -> bool:
        """Equal amounts are equal whatever their format (``Quantity.Cmp() == 0``)."""
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def is_zero(self) -> bool:
        return self.value == 0

    def milli_value(self) -> int:
        """``MilliValue()``: the amount in thousandths, rounded up (away from zero)."""
        return _ceil_away(self.value * 1000)

    def int_value(self) -> int:
        """``Value()``: the amount rounded up to a whole number (away from zero)."""
        return _ceil_away(self.value)

    def times(self, factor: int | Fraction) -> Quantity:
        return Quantity(self.value * factor, self.format)


def _ceil_away(x: Fraction) -> int:
    return math.ceil(x) if x >= 0 else -math.ceil(-x)


def parse_quantity(text: Any) -> Quantity:
    """``resource.ParseQuantity``; raises ``ValueError`` with Kubernetes' message when malformed."""
    parsed = validation.parse_quantity(text)
    if parsed is None:
        raise ValueError(validation.QUANTITY_ERR)
    amount, fmt = parsed
    return Quantity(Fraction(amount), fmt)


def format_quantity(q: Quantity) -> str:
    """``Quantity.String()``: ``1500m``, ``1536Mi``, ``1k``, ``129e6``, ``0``."""
    return str(q)


def new_quantity(value: int | Fraction, fmt: str = DECIMAL_SI) -> Quantity:
    """``resource.NewQuantity``."""
    return Quantity(Fraction(value), fmt)


def new_milli_quantity(milli: int, fmt: str = DECIMAL_SI) -> Quantity:
    """``resource.NewMilliQuantity``: ``new_milli_quantity(1500)`` prints ``1500m``."""
    return Quantity(Fraction(milli, 1000), fmt)

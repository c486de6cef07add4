"""Estimator parameters checked from a table, in the spirit of scikit-learn's
``_parameter_constraints`` (written here: scikit-learn's helpers are private).

A table maps each parameter's name to the constraints it may meet, any one of them
(an empty list: not checked)::

    {"alpha": [Interval(0, None, closed="left")],
     "batch_size": [Options("auto"), Interval(1, None, closed="left", whole=True)]}

``validate_parameters`` walks the table and raises ``InvalidParameterError`` naming the
parameter, what it must be (the constraints' descriptions) and the value it got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal, Protocol

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A parameter that meets none of its constraints.  Both a ValueError and a TypeError,
    as scikit-learn's: a wrong value and a wrong type are caught by either name."""


class Constraint(Protocol):
    """What a parameter may be: ``accepts(value)``, and ``str()`` says it in words."""

    def accepts(self, value: Any) -> bool: ...


def _is_real(value: Any) -> bool:
    """A real number: Python's or NumPy's (a 0-d array included), bool counting as 0 or 1."""
    if isinstance(value, Real):
        return True
    return np.ndim(value) == 0 and np.asarray(value).dtype.kind in "biuf"


@dataclass(frozen=True)
class Interval:
    """A real number between ``low`` and ``high`` (None: unbounded), the ends included as
    ``closed`` says; ``whole=True`` also asks for a whole value (3 or 3.0)."""

    low: float | None
    high: float | None
    closed: Literal["left", "right", "both", "neither"]
    whole: bool = False

    def accepts(self, value: Any) -> bool:
        if not _is_real(value):
            return False
        if self.whole and not float(value).is_integer():
            return False
        return self._above_low(value) and self._below_high(value)

    def _above_low(self, value: Any) -> bool:
        if self.low is None:
            return True
        return value >= self.low if self.closed in ("left", "both") else value > self.low

    def _below_high(self, value: Any) -> bool:
        if self.high is None:
            return True
        return value <= self.high if self.closed in ("right", "both") else value < self.high

    def __str__(self) -> str:
        left = "[" if self.closed in ("left", "both") and self.low is not None else "("
        right = "]" if self.closed in ("right", "both") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        kind = "a whole number" if self.whole else "a number"
        return f"{kind} in {left}{low}, {high}{right}"


class Options:
    """One of a few strings."""

    def __init__(self, *options: str) -> None:
        self.options = options

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(option) for option in self.options)


@dataclass(frozen=True)
class Each:
    """A sequence (not a string) whose every item meets ``item``; empty is accepted."""

    item: Constraint

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str) or not isinstance(value, Iterable):
            return False
        return all(self.item.accepts(element) for element in value)

    def __str__(self) -> str:
        return f"a sequence of which each is {self.item}"


@dataclass(frozen=True)
class InstanceOf:
    """An instance of ``kind`` (None: the value None itself)."""

    kind: type | None
    description: str

    def accepts(self, value: Any) -> bool:
        return value is None if self.kind is None else isinstance(value, self.kind)

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Satisfies:
    """Whatever ``check(value)`` returns True for, described by ``description``."""

    check: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        return self.check(value)

    def __str__(self) -> str:
        return self.description


NONE = InstanceOf(None, "None")
UNCHECKED: list[Constraint] = []  # a parameter the table lists but does not check

ParameterTable = Mapping[str, Sequence[Constraint]]


def expected(constraints: Sequence[Constraint]) -> str:
    """What a parameter must be, in words: "A", "A or B", "A, B or C"."""
    words = [str(constraint) for constraint in constraints]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def validate_parameters(owner: str, values: Mapping[str, Any], table: ParameterTable) -> None:
    """Raise InvalidParameterError for the first parameter of ``table`` (in its order) whose
    value in ``values`` meets none of its constraints; ``owner`` names the estimator."""
    for name, constraints in table.items():
        value = values[name]
        if constraints and not any(constraint.accepts(value) for constraint in constraints):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {expected(constraints)}. "
                f"Got {value!r} instead."
            )

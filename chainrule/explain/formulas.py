"""The gates' local-gradient formulas as text: in the gate's own letters ((1 - s) s), in the
graph's names ((1 - f) f) and with the numbers put in ((1 - 0.7311) x 0.7311), numbers
written as the notes write them, to 4 decimals.

A formula is a template of the gate table (:class:`~chainrule.autodiff.gates.LocalGradient`):
letters in braces stand for the gate's inputs and output, `` * `` for a product.
"""

from __future__ import annotations

import math
import re

from ..autodiff.gates import LocalGradient

_FIELD = re.compile(r"\{(\w+)\}")


def short(value: float | None) -> str:
    """A number as the notes write one: at most 4 decimals, no trailing zeros (0.7311,
    -0.5345, 3); a very small or very large one in 4 significant digits (1.235e-07)."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e7):
        return f"{value:.4g}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _parenthesised(text: str, alone: bool) -> str:
    """A negative number inside a formula goes in parentheses: -1/(-2)^2."""
    return f"({text})" if text.startswith("-") and not alone else text


def _fill(template: str, replace: dict[str, str], times: str) -> str:
    def field(match: re.Match) -> str:
        before, after = template[: match.start()], template[match.end() :]
        alone = (not before.strip() and not after.strip()) or (
            before.endswith("(") and after.startswith((")", ","))
        )  # the whole formula, or a function's argument: exp(-1), not exp((-1))
        return _parenthesised(replace.get(match.group(1), match.group(1)), alone)

    return _FIELD.sub(field, template).replace(" * ", times)


def rule(gradient: LocalGradient, position: int) -> str:
    """The formula of input ``position`` in the gate's letters: (1 - s) s, -x/y^2."""
    return _fill(gradient.formula(position), {}, " ")


def named(gradient: LocalGradient, position: int, names: dict[str, str]) -> str:
    """The formula with the graph's names for the gate's letters (``names``: letter ->
    name): df/dq = z for f = q * z."""
    return _fill(gradient.formula(position), names, " ")


def substituted(gradient: LocalGradient, position: int, values: dict[str, float]) -> str:
    """The formula with the numbers put in (``values``: letter -> value):
    (1 - 0.7311) x 0.7311."""
    return _fill(gradient.formula(position), {k: short(v) for k, v in values.items()}, " x ")


def letters(gradient: LocalGradient, inputs: list[str], output: str) -> dict[str, str]:
    """The gate's letters -> the things they stand for in the graph: the inputs in order
    (a variable, a node or a constant), the output node."""
    bound = dict(zip(gradient.inputs, inputs, strict=False))
    bound[gradient.output] = output
    return bound


def sum_text(terms: list[float], total: float) -> str:
    """The copy gate's sum written out: 3 + 3 + 1 = 7, 3 - 2 = 1."""
    parts = [short(terms[0])]
    for term in terms[1:]:
        parts.append(f"- {short(-term)}" if term < 0 else f"+ {short(term)}")
    return f"{' '.join(parts)} = {short(total)}"


def product_text(upstream: float, local: float, downstream: float) -> str:
    """upstream x local = downstream: -4 x 1 = -4."""
    return f"{short(upstream)} x {_parenthesised(short(local), False)} = {short(downstream)}"

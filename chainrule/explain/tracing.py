"""The backprop trace of an expression: every node's forward value, the upstream gradient
arriving at it, its local gradients and what it sends on (upstream x local = downstream),
with the patterns of the notes named where they apply.

Intermediate nodes are named as on the slides: q, r, s, ... and the output f.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..autodiff.backward import backward
from .expressions import BuiltGraph, Expression, build, parse

NODE_NAMES = "qrstuvwabcdeghijklmnop"
SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "neg": "-x",
    "pow": "**",
    "pow_const": "**",
    "maximum": "max",
    "minimum": "min",
    "sigmoid": "σ",  # noqa: RUF001 - the sigmoid of the slides
}


@dataclass
class Step:
    """One gate node of the graph: ``formula`` in terms of the nodes' names (q = x + y),
    ``expression`` in terms of the variables."""

    name: str
    gate: str
    symbol: str
    formula: str
    expression: str
    inputs: list[str]
    value: float
    upstream: float = 0.0
    local: list[float | None] = field(default_factory=list)
    downstream: list[float | None] = field(default_factory=list)
    pattern: str | None = None


@dataclass
class Trace:
    expression: str
    gates: str
    at: dict[str, float]
    steps: list[Step]
    output: float
    gradients: dict[str, float]
    copies: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _names(count: int, taken: set[str]) -> list[str]:
    """q, r, s, ... skipping the variables' names, then n1, n2, ...; the last is f."""
    pool = [c for c in NODE_NAMES if c not in taken and c != "f"]
    names = pool[: count - 1]
    names += [f"n{i}" for i in range(1, count - len(names))]
    return [*names[: count - 1], "f" if "f" not in taken else "out"]


def _symbol(gate: str, inputs: list[str], constants: set[str]) -> str:
    """The gate as the notes label it: +, *, exp, 1/x, +1 (c + x), *a ..."""
    if gate == "div" and inputs[0] in constants and float(inputs[0]) == 1.0:
        return "1/x"
    if gate in ("add", "mul") and any(i in constants for i in inputs):
        constant = next(i for i in inputs if i in constants)
        return ("+" if gate == "add" else "*") + constant
    return SYMBOLS.get(gate, gate)


def formula(gate: str, inputs: list[str]) -> str:
    """The gate applied to its inputs' names, as the slides write it: q = x + y, f = q * z."""
    infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "pow_const": "**"}
    if gate in infix and len(inputs) == 2:
        return f"{inputs[0]} {infix[gate]} {inputs[1]}"
    if gate == "neg":
        return f"-{inputs[0]}"
    name = {"maximum": "max", "minimum": "min"}.get(gate, gate)
    return f"{name}({', '.join(inputs)})"


def trace(expression: str | Expression, at: dict[str, float], gates: str = "as-typed") -> Trace:
    """Evaluate ``expression`` at the point ``at`` and backpropagate, recording each step."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    graph = build(parsed, at, gates)
    return trace_graph(parsed, graph, at, gates)


def trace_graph(parsed: Expression, graph: BuiltGraph, at: dict[str, float], gates: str) -> Trace:
    names = _names(len(graph.nodes), set(parsed.variables))
    label_to_name = {f"#{i}": name for i, name in enumerate(names, start=1)}
    constants = {
        label
        for label in graph.labels.values()
        if label not in parsed.variables and not label.startswith("#")
    }

    def display(label: str) -> str:
        return label_to_name.get(label, label)

    steps: list[Step] = []
    index_of: dict[int, int] = {}
    for i, (tensor, inputs, text) in enumerate(graph.nodes):
        shown = [display(label) for label in inputs]
        steps.append(
            Step(
                name=names[i],
                gate=tensor.gate.name,
                symbol=_symbol(tensor.gate.name, shown, constants),
                formula=formula(tensor.gate.name, shown),
                expression=text,
                inputs=shown,
                value=float(tensor.item()),
                pattern=tensor.gate.pattern,
            )
        )
        index_of[id(tensor)] = i

    uses = Counter(label for _, inputs, _ in graph.nodes for label in inputs)
    copies = {display(label): n for label, n in uses.items() if n > 1 and label not in constants}

    def hook(node, upstream, downstream) -> None:
        step = steps[index_of[id(node)]]
        ones = np.ones_like(upstream)
        local = node.gate.vjp(np, ones, node._saved, node._needs)  # d node / d input, scalars
        step.upstream = float(upstream)
        step.local = [
            None if g is None or not need else float(g)
            for g, need in zip(local, node._needs, strict=True)
        ]
        step.downstream = [None if g is None else float(g) for g in downstream]

    backward(graph.output, hook=hook)
    gradients = {
        name: float(leaf.grad) if leaf.grad is not None else 0.0
        for name, leaf in graph.leaves.items()
    }
    return Trace(
        expression=parsed.text,
        gates=gates,
        at={k: float(v) for k, v in at.items()},
        steps=steps,
        output=float(graph.output.item()),
        gradients=gradients,
        copies=copies,
    )


def pattern_notes(trace_: Trace) -> list[str]:
    """The notes' patterns in gradient flow, as they occur in this trace."""
    notes = []
    for step in trace_.steps:
        if step.pattern == "add distributes" and step.gate == "add":
            notes.append(
                f"{step.name} = {' + '.join(step.inputs)}: add distributes "
                f"{_num(step.upstream)} to each input"
            )
        elif step.pattern == "mul swaps":
            a, b = step.inputs
            notes.append(
                f"{step.name} = {a} * {b}: mul swaps, "
                f"d{step.name}/d{a} = {b} = {_num(step.local[0])}, "
                f"d{step.name}/d{b} = {a} = {_num(step.local[1])}"
            )
        elif step.pattern in ("max routes", "min routes") and step.gate in ("maximum", "minimum"):
            winner = step.inputs[0] if (step.local[0] or 0) != 0 else step.inputs[1]
            notes.append(
                f"{step.name} = {step.formula}: {step.pattern}, "
                f"all of {_num(step.upstream)} goes to {winner}"
            )
    for variable, count in trace_.copies.items():
        notes.append(
            f"{variable} is used {count} times: copy adds, its gradient is the sum "
            f"of the {count} gradients it receives"
        )
    return notes


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"

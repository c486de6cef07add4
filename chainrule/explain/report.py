"""The trace and the comparison as rich tables, forward then backward, as on the slides."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .comparison import Comparison
from .tracing import Trace, _num, pattern_notes


def _inputs(values: list[float | None], names: list[str]) -> str:
    return ", ".join(
        f"{n}: {_num(v)}" for n, v in zip(names, values, strict=False) if v is not None
    )


def print_trace(trace: Trace, console: Console) -> None:
    at = ", ".join(f"{k} = {_num(v)}" for k, v in trace.at.items())
    console.print(
        Text.assemble((f"f = {trace.expression}", "bold"), f"   at {at}   (gates: {trace.gates})")
    )
    forward = Table(title="forward: each gate's value")
    for column in ("node", "gate", "computes", "that is", "value"):
        forward.add_column(column, justify="right" if column == "value" else "left")
    for step in trace.steps:
        forward.add_row(
            step.name,
            step.symbol,
            f"{step.name} = {step.formula}",
            step.expression,
            _num(step.value),
        )
    console.print(forward)
    backward = Table(title="backward: downstream = upstream x local")
    for column in ("node", "gate", "upstream", "local gradients", "downstream", "pattern"):
        backward.add_column(column)
    for step in reversed(trace.steps):
        backward.add_row(
            step.name,
            step.symbol,
            _num(step.upstream),
            _inputs(step.local, [f"d{step.name}/d{i}" for i in step.inputs]),
            _inputs(step.downstream, [f"to {i}" for i in step.inputs]),
            step.pattern or "",
        )
    console.print(backward)
    gradients = Table(title=f"gradients of f = {_num(trace.output)}")
    gradients.add_column("variable")
    gradients.add_column("value", justify="right")
    gradients.add_column("df/d(variable)", justify="right")
    for name, value in trace.gradients.items():
        gradients.add_row(name, _num(trace.at[name]), _num(value))
    console.print(gradients)
    for note in pattern_notes(trace):
        console.print(f"  - {note}")


def print_comparison(comparison: Comparison, console: Console) -> None:
    table = Table(title="three ways to get the gradient")
    for column in ("variable", "autodiff", "numerical", "|difference|"):
        table.add_column(column, justify="right")
    if comparison.symbolic_available:
        table.add_column("symbolic derivative")
        table.add_column("size (ops)", justify="right")
    for row in comparison.rows:
        cells = [
            row.variable,
            f"{row.autodiff:.10g}",
            f"{row.numerical:.10g}",
            f"{row.abs_error:.2e}",
        ]
        if comparison.symbolic_available:
            text = row.symbolic or ""
            cells += [text if len(text) <= 60 else text[:57] + "...", str(row.symbolic_ops)]
        table.add_row(*cells)
    console.print(table)
    times = (
        f"time: autodiff {comparison.autodiff_seconds * 1e6:.0f} us (one backward pass for all "
        f"variables), numerical {comparison.numerical_seconds * 1e6:.0f} us (two evaluations "
        "per variable)"
    )
    if comparison.symbolic_seconds is not None:
        times += f", symbolic {comparison.symbolic_seconds * 1e6:.0f} us"
    else:
        times += "; install sympy (chainrule[explain]) for the symbolic derivative"
    console.print(times)

"""The trace and the comparison as rich tables, forward then backward, as on the slides."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .comparison import Comparison
from .formulas import short
from .tracing import InputGradient, Trace, _num, pattern_notes


def _local_text(entry: InputGradient) -> str:
    """formula = numbers = value, each part once: df/dq = z = -4, dq/dx = 1."""
    parts: list[str] = []
    for part in (entry.formula, entry.substituted, short(entry.local)):
        if part is not None and part not in parts:
            parts.append(part)
    return " = ".join(parts)


def backward_lines(trace: Trace) -> list[str]:
    """Node by node, from the output: what arrives, and for each input the local gradient
    (formula, numbers, value) and upstream x local = downstream, in aligned columns."""
    rows = [
        (step, [(f"to {e.input}:", f"d{step.name}/d{e.input} = {_local_text(e)}", e)
                for e in step.chain])
        for step in reversed(trace.steps)
    ]  # fmt: skip
    entries = [entry for _, chain in rows for entry in chain]
    target_width = max((len(target) for target, _, _ in entries), default=0)
    local_width = min(max((len(local) for _, local, _ in entries), default=0), 60)
    lines = []
    for step, chain in rows:
        copy = trace.sums.get(step.name)
        arrives = short(step.upstream) if copy is None else copy.text
        pattern = f"   ({step.pattern})" if step.pattern else ""
        lines.append(f"  {step.name} = {step.formula}   receives {arrives}{pattern}")
        for target, local, entry in chain:
            product = entry.product or ""
            line = f"    {target.ljust(target_width)}  {local.ljust(local_width)}   {product}"
            lines.append(line.rstrip())
        if step.nondifferentiable:
            lines.append(f"    not differentiable: {step.nondifferentiable}")
    return lines


def print_trace(trace: Trace, console: Console) -> None:
    at = ", ".join(f"{k} = {_num(v)}" for k, v in trace.at.items())
    out = trace.output_name
    console.print(
        Text.assemble(
            (f"{out} = {trace.expression}", "bold"), f"   at {at}   (gates: {trace.gates})"
        )
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
    console.print("backward: downstream = upstream x local", style="italic")
    for line in backward_lines(trace):
        console.print(line, markup=False)
    gradients = Table(title=f"gradients of {out} = {_num(trace.output)}")
    gradients.add_column("variable")
    gradients.add_column("value", justify="right")
    gradients.add_column(f"d{out}/d(variable)", justify="right")
    if trace.sums:
        gradients.add_column("copy adds")
    for name, value in trace.gradients.items():
        row = [name, _num(trace.at[name]), _num(value)]
        if trace.sums:
            row.append(trace.sums[name].text if name in trace.sums else "")
        gradients.add_row(*row)
    console.print(gradients)
    for note in pattern_notes(trace):
        console.print(f"  - {note}", markup=False)


def print_comparison(comparison: Comparison, console: Console) -> None:
    """The three ways side by side: the numbers in a table whose columns never wrap or
    truncate (80 columns are enough), the symbolic derivatives written out below it."""
    console.print(
        f"numerical: {comparison.numerical_formula}, h = {comparison.step:g}", markup=False
    )
    table = Table(
        title=f"three ways to get the gradient ({comparison.numerical_method})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = ["variable", "autodiff", comparison.numerical_method, "|difference|"]
    if comparison.symbolic_available:
        columns += ["symbolic", "ops"]
    for column in columns:
        table.add_column(column, justify="right", overflow="fold")
    for row in comparison.rows:
        cells = [
            row.variable + (" *" if row.note else ""),
            f"{row.autodiff:.10g}",
            f"{row.numerical:.10g}",
            f"{row.abs_error:.2e}",
        ]
        if comparison.symbolic_available:
            value = row.symbolic_value
            cells += ["-" if value is None else f"{value:.10g}", str(row.symbolic_ops)]
        table.add_row(*cells)
    console.print(table)
    for row in comparison.rows:
        if row.note:
            console.print(f"  * {row.variable}: {row.note}", markup=False)
    for note in comparison.nondifferentiable:
        console.print(f"  not differentiable: {note}", markup=False)
    if comparison.symbolic_available:
        console.print("symbolic derivatives (sympy):")
        for row in comparison.rows:
            console.print(f"  d/d{row.variable} = {row.symbolic}", markup=False)
    evaluations = (
        "one more evaluation per variable"
        if comparison.numerical_method == "forward"
        else "two evaluations per variable"
    )
    times = (
        f"time: autodiff {comparison.autodiff_seconds * 1e6:.0f} us (one backward pass for all "
        f"variables), numerical {comparison.numerical_seconds * 1e6:.0f} us ({evaluations})"
    )
    if comparison.symbolic_seconds is not None:
        times += f", symbolic {comparison.symbolic_seconds * 1e6:.0f} us"
    else:
        times += "; install sympy (chainrule[explain]) for the symbolic derivative"
    console.print(times)

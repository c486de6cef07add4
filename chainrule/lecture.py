"""The notes' worked examples, computed by the engine (used by ``python -m chainrule``)."""

from __future__ import annotations

from dataclasses import dataclass

from .autodiff import Tensor, exp, sigmoid, tensor


@dataclass(frozen=True)
class Example:
    """A worked example: its formula, the point, the intermediate values and gradients."""

    title: str
    formula: str
    inputs: dict[str, float]
    values: dict[str, float]
    gradients: dict[str, float]


def add_mul_example(x: float = -2.0, y: float = 5.0, z: float = -4.0) -> Example:
    """f(x, y, z) = (x + y) z: q = x + y, f = q z; df/dx = df/dy = z, df/dz = q."""
    xt, yt, zt = (tensor(v, requires_grad=True) for v in (x, y, z))
    q = xt + yt
    f = q * zt
    f.backward()
    return Example(
        title="add and multiply",
        formula="f(x, y, z) = (x + y) z",
        inputs={"x": x, "y": y, "z": z},
        values={"q = x + y": q.item(), "f = q z": f.item()},
        gradients={"df/dx": xt.grad.item(), "df/dy": yt.grad.item(), "df/dz": zt.grad.item()},
    )


def sigmoid_neuron_example(
    w: tuple[float, float, float] = (2.0, -3.0, -3.0),
    x: tuple[float, float] = (-1.0, -2.0),
    compact: bool = True,
) -> Example:
    """f(w, x) = 1 / (1 + e^-(w0 x0 + w1 x1 + w2)), as one sigmoid gate (compact) or as
    the elementary gates negate, exp, add 1, reciprocal; both give the same gradient."""
    ws = [tensor(v, requires_grad=True) for v in w]
    xs = [tensor(v, requires_grad=True) for v in x]
    dot = ws[0] * xs[0] + ws[1] * xs[1] + ws[2]
    f: Tensor = sigmoid(dot) if compact else 1.0 / (1.0 + exp(-dot))
    f.backward()
    names = ["w0", "w1", "w2", "x0", "x1"]
    leaves = [*ws, *xs]
    return Example(
        title="sigmoid neuron" + (" (one sigmoid gate)" if compact else " (elementary gates)"),
        formula="f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))",
        inputs=dict(zip(names, [*w, *x], strict=True)),
        values={"w0 x0 + w1 x1 + w2": dot.item(), "f": f.item()},
        gradients={f"df/d{n}": t.grad.item() for n, t in zip(names, leaves, strict=True)},
    )


def print_examples() -> None:
    """Print the notes' worked examples: (x + y) z, and the sigmoid neuron both ways."""
    examples = [add_mul_example(), sigmoid_neuron_example(), sigmoid_neuron_example(compact=False)]
    print("\n\n".join(format_example(e) for e in examples))


def format_example(example: Example) -> str:
    def number(v: float) -> str:
        return f"{v:.6g}"

    lines = [f"{example.title}: {example.formula}"]
    lines.append("  at " + ", ".join(f"{k} = {number(v)}" for k, v in example.inputs.items()))
    lines += [f"  {k} = {number(v)}" for k, v in example.values.items()]
    lines += [f"  {k} = {number(v)}" for k, v in example.gradients.items()]
    return "\n".join(lines)

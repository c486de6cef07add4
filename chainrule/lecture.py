"""The notes' worked examples, computed by the engine (``chainrule examples``): (x + y) z,
the sigmoid neuron as elementary gates and as one sigmoid gate, the gate patterns (add
distributes, mul swaps, max routes, copy adds), and the 3-5-4-2 network's forward and
backward pass, each with the explain trace of every node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .autodiff import Tensor, exp, sigmoid, softmax, tensor
from .nn import MLP
from .nn import functional as F


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
    the elementary gates negate, exp, add 1, reciprocal; both give the same gradient.
    The intermediate nodes keep their gradients (``retain_grad``): elementary mode shows
    each of them, as the notes' graph does."""
    ws = [tensor(v, requires_grad=True) for v in w]
    xs = [tensor(v, requires_grad=True) for v in x]
    dot = ws[0] * xs[0] + ws[1] * xs[1] + ws[2]
    nodes: dict[str, Tensor] = {"w0 x0 + w1 x1 + w2": dot}
    if compact:
        f: Tensor = sigmoid(dot)
    else:
        negated = -dot
        exponential = exp(negated)
        denominator = 1.0 + exponential
        f = 1.0 / denominator
        nodes["-(w0 x0 + w1 x1 + w2)"] = negated
        nodes["exp(-(w0 x0 + w1 x1 + w2))"] = exponential
        nodes["1 + exp(-(w0 x0 + w1 x1 + w2))"] = denominator
    for node in nodes.values():
        node.retain_grad()
    f.backward()
    names = ["w0", "w1", "w2", "x0", "x1"]
    leaves = [*ws, *xs]
    return Example(
        title="sigmoid neuron" + (" (one sigmoid gate)" if compact else " (elementary gates)"),
        formula="f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))",
        inputs=dict(zip(names, [*w, *x], strict=True)),
        values={**{k: t.item() for k, t in nodes.items()}, "f": f.item()},
        gradients={
            **{f"df/d({k})": t.grad.item() for k, t in reversed(nodes.items())},
            **{f"df/d{n}": t.grad.item() for n, t in zip(names, leaves, strict=True)},
        },
    )


NEURON = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


@dataclass(frozen=True)
class TracedExample:
    """A worked example traced node by node by :mod:`chainrule.explain`."""

    name: str
    title: str
    expression: str
    at: dict[str, float]
    gates: str = "as-typed"
    summary: Example | None = None


def traced_examples() -> list[TracedExample]:
    """The notes' worked examples and gate patterns, in the notes' order."""
    return [
        TracedExample(
            "add-mul",
            "add and multiply: add distributes, mul swaps",
            "(x + y) * z",
            {"x": -2.0, "y": 5.0, "z": -4.0},
            summary=add_mul_example(),
        ),
        TracedExample(
            "neuron-elementary",
            "the sigmoid neuron as elementary gates: negate, exp, +1, 1/x",
            NEURON,
            NEURON_AT,
            "elementary",
            sigmoid_neuron_example(compact=False),
        ),
        TracedExample(
            "neuron-compact",
            "the sigmoid neuron with one sigmoid gate: local gradient (1 - s) s",
            NEURON,
            NEURON_AT,
            "compact",
            sigmoid_neuron_example(compact=True),
        ),
        TracedExample(
            "max",
            "max gate: gradient router (all of it to the larger input, none to the other)",
            "max(x, y) * z",
            {"x": 4.0, "y": 2.0, "z": -3.0},
        ),
        TracedExample(
            "copy",
            "copy gate: gradient adder (x is used three times: 3 + 3 + 1 = 7)",
            "x*x + x",
            {"x": 3.0},
        ),
    ]


EXAMPLE_NAMES = ("add-mul", "neuron-elementary", "neuron-compact", "max", "copy", "network")


@dataclass(frozen=True)
class NetworkPass:
    """One forward and backward pass of the notes' network: every named array (X, U1,
    b1, H1 = sigma(X U1 + b1), ..., the output y_hat, the loss) and the gradient of the
    loss with respect to each, in the order of the pass."""

    sizes: list[int]
    values: dict[str, np.ndarray]
    formulas: dict[str, str]
    gradients: dict[str, np.ndarray]
    loss: float


def network_example(
    X: Sequence[float] = (0.5, -1.0, 2.0), target: int = 1, seed: int = 0
) -> NetworkPass:
    """The notes' 3-5-4-2 network (U1 3x5, U2 5x4, U3 4x2, sigmoid hidden layers, softmax
    output, cross-entropy) on one sample X: the forward pass layer by layer, then
    backward, the hidden layers keeping their gradients (``retain_grad``)."""
    model = MLP([3, 5, 4, 2], activation="sigmoid", output="softmax", seed=seed, dtype="float64")
    x = tensor(np.asarray(X, dtype=np.float64)[None, :])
    values: dict[str, Tensor] = {"X": x}
    formulas = {"X": "one sample, x1 x2 x3"}
    h = x
    for i, layer in enumerate(model.linear_layers, start=1):
        values[f"U{i}"], values[f"b{i}"] = layer.U, layer.b
        formulas[f"U{i}"], formulas[f"b{i}"] = f"layer {i}'s weights", f"layer {i}'s biases"
        z = h @ layer.U + layer.b
        if i < len(model.sizes) - 1:
            h = sigmoid(z)
            values[f"H{i}"] = h
            formulas[f"H{i}"] = f"sigmoid(H{i - 1} U{i} + b{i})".replace("H0", "X")
        else:
            values["Z"] = z
            formulas["Z"] = f"H{i - 1} U{i} + b{i} (the logits)"
    y_hat = softmax(values["Z"])
    values["y_hat"] = y_hat
    formulas["y_hat"] = "softmax(Z): f_i = e^(z_i) / sum_k e^(z_k)"
    loss = F.cross_entropy(values["Z"], np.array([target]))
    np.testing.assert_allclose(y_hat.data, model(x.data).data, rtol=1e-12)  # the model's own
    for t in values.values():
        if not t.is_leaf:
            t.retain_grad()
    loss.backward()
    return NetworkPass(
        sizes=model.sizes,
        values={k: t.data for k, t in values.items()},
        formulas={**formulas, "loss": f"CE = -log y_hat[{target}] (target class {target})"},
        gradients={k: t.grad for k, t in values.items() if t.grad is not None},
        loss=loss.item(),
    )


def format_network(network: NetworkPass) -> str:
    def shape(a: np.ndarray) -> str:
        return "x".join(map(str, a.shape))

    def block(a: np.ndarray) -> str:
        text = np.array2string(np.atleast_2d(a), precision=4, suppress_small=True)
        return "\n".join("    " + line for line in text.splitlines())

    sizes = "-".join(map(str, network.sizes))
    lines = [f"the notes' {sizes} network: one forward and one backward pass", "forward:"]
    for name, value in network.values.items():
        lines.append(f"  {name} ({shape(value)}) = {network.formulas[name]}")
        lines.append(block(value))
    lines.append(f"  loss = {network.formulas['loss']} = {network.loss:.6f}")
    lines.append("backward (each dLoss/d(array) has the array's shape):")
    for name in reversed(network.values):
        if name in network.gradients:
            gradient = network.gradients[name]
            lines.append(f"  dLoss/d{name} ({shape(gradient)})")
            lines.append(block(gradient))
    return "\n".join(lines)


def print_examples(which: str | None = None, console=None) -> None:
    """Print the notes' worked examples (or the one named ``which``, from
    :data:`EXAMPLE_NAMES`): a summary of each, then its trace, node by node."""
    from rich.console import Console
    from rich.text import Text

    from .explain import trace
    from .explain.report import print_trace

    console = console or Console(highlight=False, soft_wrap=True)
    if which is not None and which not in EXAMPLE_NAMES:
        raise ValueError(f"unknown example '{which}'; choose one of {', '.join(EXAMPLE_NAMES)}")
    for example in traced_examples():
        if which not in (None, example.name):
            continue
        console.rule(Text(example.title, style="bold"), align="left")
        if example.summary is not None:
            console.print(format_example(example.summary), markup=False)
        print_trace(trace(example.expression, example.at, example.gates), console)
        console.print()
    if which in (None, "network"):
        console.rule(
            Text("the notes' network: X (1x3), U1 3x5, U2 5x4, U3 4x2", style="bold"), align="left"
        )
        console.print(format_network(network_example()), markup=False)


def format_example(example: Example) -> str:
    def number(v: float) -> str:
        return f"{v:.6g}"

    lines = [f"{example.title}: {example.formula}"]
    lines.append("  at " + ", ".join(f"{k} = {number(v)}" for k, v in example.inputs.items()))
    lines += [f"  {k} = {number(v)}" for k, v in example.values.items()]
    lines += [f"  {k} = {number(v)}" for k, v in example.gradients.items()]
    return "\n".join(lines)

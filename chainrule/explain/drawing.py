"""Pictures of computational graphs, drawn left to right with Graphviz as the slides draw
them: inputs on the left, a circle per gate labelled by its operation, and on every edge
the forward value (green, above) and the gradient flowing back (red, below).

Needs the ``graphviz`` Python package (extra ``chainrule[explain]``) and Graphviz's ``dot``
program to render SVG, PNG or PDF; without ``dot`` the ``.dot`` source is written and the
error says how to install Graphviz.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..autodiff import Tensor
from ..autodiff.backward import backward
from ..errors import MissingExtraError
from ..io import write_atomic
from .formulas import product_text, short
from .tracing import SYMBOLS, Step, Trace

FORMATS = ("svg", "png", "pdf", "dot")
VALUE_COLOUR = "#1a7f37"
GRADIENT_COLOUR = "#cf222e"
FORMULA_COLOUR = "#444444"
KINK_COLOUR = "#bc4c00"
DEFAULT_DPI = 180
INSTALL_HINT = (
    "install Graphviz's dot program: apt-get install graphviz (Debian, Ubuntu), "
    "brew install graphviz (macOS), or see https://graphviz.org/download/"
)


class GraphvizMissing(MissingExtraError):
    """Graphviz's dot program is not installed; the .dot source was written instead."""


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise MissingExtraError(
            "drawing needs the graphviz package: pip install 'chainrule[explain]'"
        ) from None
    return graphviz


def _number(value: float) -> str:
    return short(value)


def _cell(text: str, colour: str, size: int | None = None) -> str:
    font = f' point-size="{size}"' if size else ""
    return f'<tr><td><font color="{colour}"{font}>{escape(text)}</font></td></tr>'


def _on_edge(value: str, gradient: str | None) -> str:
    """An HTML-like label of the point an edge runs through: the value (green) above a
    rule that continues the edge, the gradient (red) below it."""
    below = _cell(gradient, GRADIENT_COLOUR) if gradient is not None else "<tr><td> </td></tr>"
    return (
        '<<table border="0" cellspacing="0" cellpadding="1">'
        f"{_cell(value, VALUE_COLOUR)}<hr/>{below}</table>>"
    )


def _edge(dot: Any, tail: str, head: str, value: str, gradient: str | None, key: str) -> None:
    """tail -> head with the value above and the gradient below the edge: the edge runs
    through a small node whose label is the two numbers either side of a rule."""
    middle = f"edge_{key}"
    dot.node(middle, _on_edge(value, gradient), shape="plain")
    dot.edge(tail, middle, arrowhead="none", headport="w")
    dot.edge(middle, head, tailport="e")


def _gate_label(step: Step, trace_: Trace) -> str:
    """The gate's symbol, what it computes, and each input's local gradient: formula =
    numbers = value; a sum received, a kink's subgradient where there is one."""
    rows = [
        f'<tr><td><font point-size="20"><b>{escape(step.symbol)}</b></font></td></tr>',
        f'<tr><td><font point-size="11">{escape(f"{step.name} = {step.formula}")}</font></td></tr>',
    ]
    copy = trace_.sums.get(step.name)
    if copy is not None:
        rows.append(_cell(f"receives {copy.text}", GRADIENT_COLOUR, 10))
    for entry in step.chain:
        parts: list[str] = []
        for part in (entry.formula, entry.substituted, short(entry.local)):
            if part is not None and part not in parts:
                parts.append(part)
        rows.append(_cell(f"d{step.name}/d{entry.input} = {' = '.join(parts)}", FORMULA_COLOUR, 10))
    if step.nondifferentiable:
        rows.append(_cell("not differentiable here: a subgradient", KINK_COLOUR, 10))
    return f'<<table border="0" cellspacing="0" cellpadding="1">{"".join(rows)}</table>>'


def _leaf_label(name: str, trace_: Trace) -> str:
    """A variable: its name, value (green) and total gradient (red), summed if copied."""
    copy = trace_.sums.get(name)
    gradient = copy.text if copy is not None else short(trace_.gradients[name])
    return (
        '<<table border="0" cellspacing="0" cellpadding="1">'
        f'<tr><td><font point-size="16"><b>{escape(name)}</b></font></td></tr>'
        f"{_cell(short(trace_.at[name]), VALUE_COLOUR)}<hr/>"
        f"{_cell(gradient, GRADIENT_COLOUR)}</table>>"
    )


def _title(trace_: Trace) -> str:
    at = ", ".join(f"{k} = {short(v)}" for k, v in trace_.at.items())
    return (
        f"<{escape(f'{trace_.output_name} = {trace_.expression}   at {at}')}<br/>"
        f'<font point-size="11"><font color="{VALUE_COLOUR}">green, above each edge: value '
        f'(forward)</font>     <font color="{GRADIENT_COLOUR}">red, below: gradient '
        f"(backward) = upstream x local</font>     "
        f'<font color="{FORMULA_COLOUR}">in each gate: its local gradients</font></font>>'
    )


def trace_graph_source(trace_: Trace) -> Any:
    """A graphviz Digraph of an expression's trace: the inputs top to bottom in the order
    the expression names them, each with its value and total gradient; a box per gate
    with its local gradients; on every edge the value above and the gradient below."""
    graphviz = _graphviz()
    dot = graphviz.Digraph(
        "chainrule",
        graph_attr={
            "rankdir": "LR",
            "label": _title(trace_),
            "labelloc": "t",
            "fontname": "Helvetica",
            "fontsize": "16",
            "nodesep": "0.3",
            "ranksep": "0.25",
        },
    )
    dot.attr("node", fontname="Helvetica", fontsize="12")
    dot.attr("edge", fontname="Helvetica", fontsize="12", arrowsize="0.7")
    names = {step.name for step in trace_.steps}
    values = {name: value for name, value in trace_.at.items()}
    values.update({step.name: step.value for step in trace_.steps})
    with dot.subgraph(name="inputs", graph_attr={"rank": "same"}) as inputs:
        previous = None
        for name in trace_.at:
            inputs.node(f"in_{name}", _leaf_label(name, trace_), shape="box", style="rounded")
            if previous is not None:  # keeps them top to bottom in the expression's order
                inputs.edge(previous, f"in_{name}", style="invis")
            previous = f"in_{name}"
    for step in trace_.steps:
        dot.node(f"gate_{step.name}", _gate_label(step, trace_), shape="box", style="rounded")
    constants: dict[str, str] = {}
    for step in trace_.steps:
        for position, source in enumerate(step.inputs):
            if source in trace_.at:
                tail = f"in_{source}"
            elif source in names:
                tail = f"gate_{source}"
            elif step.symbol != SYMBOLS.get(step.gate, step.gate):
                continue  # the gate's label shows this constant already: +1, *2, 1/x
            else:  # a constant
                tail = constants.setdefault(source, f"const_{len(constants)}")
                dot.node(tail, source, shape="plaintext", fontcolor="gray40")
            value = values[source] if source in values else float(source)
            received = step.downstream[position] if position < len(step.downstream) else None
            gradient = None if received is None else _product(step, position)
            _edge(dot, tail, f"gate_{step.name}", short(value), gradient, f"{step.name}_{position}")
    last = trace_.steps[-1]
    dot.node("out", f"<<b>{escape(last.name)}</b>>", shape="plaintext", fontsize="16")
    _edge(dot, f"gate_{last.name}", "out", short(last.value), short(1.0), "out")
    return dot


def _product(step: Step, position: int) -> str:
    """upstream x local = downstream for the input at ``position``."""
    local = step.local[position]
    received = step.downstream[position]
    if local is None or received is None:
        return short(received)
    return product_text(step.upstream, local, received)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _summary(array: Any) -> str:
    """A few numbers in full (at most 6), else the range of the values: min .. max."""
    array = np.asarray(array, dtype=np.float64)
    if array.size == 1:
        return short(float(array.reshape(())))
    if array.size <= 6:
        return "[" + ", ".join(short(float(v)) for v in array.reshape(-1)) + "]"
    return f"{short(float(array.min()))} .. {short(float(array.max()))}"


# Where a fused loss keeps its target in what its forward saved (the trace reads the
# gates' saved values too): y, drawn beside the loss.
_TARGET_SAVED = {"softmax_cross_entropy": 2, "sigmoid_binary_cross_entropy": 1}


def _target_of(loss: Tensor) -> Any | None:
    if loss.gate is None or loss._saved is None:
        return None
    if loss.gate.name in _TARGET_SAVED:
        return loss._saved[_TARGET_SAVED[loss.gate.name]]
    if loss.gate.name == "squared_error":  # saved the error y_hat - y
        return loss.parents[0].data - loss._saved[0]
    return None


def _structure_names(nodes: list[Tensor]) -> dict[int, str]:
    """The notes' names read off the graph: the k-th layer's gate (a linear gate, from the
    input side) has weights U_k and bias b_k, and the first one's input is X."""
    layers = sorted((t for t in nodes if t.gate and t.gate.name.startswith("linear")), key=_seq)
    names: dict[int, str] = {}
    for k, layer in enumerate(layers, start=1):
        for parent, letter in zip(layer.parents[1:], ("U", "b"), strict=False):
            if parent.gate is None:
                names[id(parent)] = f"{letter}{k}"
        data = layer.parents[0]
        if k == 1 and data.gate is None:
            names[id(data)] = "X"
    return names


def _seq(t: Tensor) -> int:
    return getattr(t, "_seq", 0)


def _module_names(names: Any) -> dict[str, Tensor]:
    """``names`` as name -> tensor: a dict as given, a module's parameters renamed as in
    the notes (layers.0.U -> U1, layers.0.b -> b1: the k-th layer holding parameters)."""
    if names is None:
        return {}
    if isinstance(names, dict):
        return dict(names)
    named = list(names.named_parameters())
    layers: list[str] = []
    result = {}
    for path, parameter in named:
        prefix, _, attribute = path.rpartition(".")
        if prefix and prefix not in layers:
            layers.append(prefix)
        result[f"{attribute}{layers.index(prefix) + 1}" if prefix else attribute] = parameter
    return result


def _value_and_gradient(title: str, value: str, gradient: str | None) -> str:
    below = _cell(gradient, GRADIENT_COLOUR, 10) if gradient is not None else ""
    rule = "<hr/>" if below else ""
    return (
        '<<table border="0" cellspacing="0" cellpadding="1">'
        f"<tr><td><b>{escape(title)}</b></td></tr>{_cell(value, VALUE_COLOUR, 10)}{rule}{below}"
        "</table>>"
    )


def tensor_graph_source(output: Tensor, names: Any = None) -> Any:
    """A graphviz Digraph of any graph the engine recorded (before ``backward`` frees it):
    each node shows its gate, shape and value (green) and the gradient that reaches it
    (red); leaves are named from ``names`` (a dict name -> tensor, or a module, whose
    parameters are named as in the notes: U1, b1, ...) or else from the graph's structure
    (U_k, b_k of the k-th layer, X its input), the target y is drawn beside the loss."""
    graphviz = _graphviz()
    if output.gate is None:
        raise ValueError("this tensor was not produced by a gate: there is no graph to draw")
    grads: dict[tuple[int, int], Any] = {}
    received: dict[int, Any] = {}

    def hook(node, upstream, downstream):
        received[id(node)] = np.array(upstream, dtype=np.float64)
        for parent, g in zip(node.parents, downstream, strict=True):
            if g is not None:
                grads[(id(parent), id(node))] = g
                total = received.get(id(parent))
                if parent.gate is None:  # a leaf: the sum of what it receives
                    received[id(parent)] = g if total is None else total + g

    saved = {}
    nodes: list[Tensor] = []
    seen: set[int] = set()
    stack = [output]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        nodes.append(t)
        if t.is_leaf and t.requires_grad:
            saved[id(t)] = t.grad
        stack.extend(t.parents)
    gradient = np.ones_like(output.data) if output.data.size != 1 else None
    with np.errstate(all="ignore"):
        backward(output, gradient, retain_graph=True, hook=hook)
    for t in nodes:  # leave the leaves' gradients as they were
        if id(t) in saved:
            t.grad = saved[id(t)]
    leaf_names = _structure_names(nodes)
    leaf_names.update({id(t): name for name, t in _module_names(names).items()})
    dot = graphviz.Digraph(
        "chainrule",
        graph_attr={
            "rankdir": "LR",
            "labelloc": "t",
            "fontname": "Helvetica",
            "label": (
                f'<<font color="{VALUE_COLOUR}">green: value (forward)</font>     '
                f'<font color="{GRADIENT_COLOUR}">red: gradient (backward)</font>>'
            ),
        },
    )
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    for t in nodes:
        g = received.get(id(t))
        grad_text = None if g is None else f"grad {_summary(g)}"
        if t.gate is None:
            name = leaf_names.get(id(t), "constant" if not t.requires_grad else "leaf")
            title = f"{name} ({_shape_text(t.shape)})"
            label = _value_and_gradient(title, _summary(t.data), grad_text)
            dot.node(str(id(t)), label, shape="box", style="rounded")
        else:
            title = f"{t.gate.name} ({_shape_text(t.shape)})"
            dot.node(str(id(t)), _value_and_gradient(title, _summary(t.data), grad_text))
        for parent in t.parents:
            g = grads.get((id(parent), id(t)))
            label = (
                ""
                if g is None
                else f'<<font color="{GRADIENT_COLOUR}">grad {_shape_text(np.shape(g))}</font>>'
            )
            dot.edge(str(id(parent)), str(id(t)), label=label)
    target = _target_of(output)
    if target is not None:
        title = f"y ({_shape_text(np.shape(target))}), the target"
        dot.node("target", _value_and_gradient(title, _summary(target), None), shape="box")
        dot.edge("target", str(id(output)), style="dashed")
    dot.node("loss", f"<<b>loss = {short(float(output.data.sum()))}</b>>", shape="plaintext")
    dot.edge(str(id(output)), "loss", label=_on_edge(short(float(output.data.sum())), "1"))
    return dot


def render(dot: Any, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write ``dot`` to ``path`` in the format its suffix names (.svg .png .pdf .dot); a
    PNG at ``dpi`` dots per inch (default ``DEFAULT_DPI``, readable when projected)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to '{path.name}': use a .svg, .png, .pdf or .dot file")
    if fmt == "dot":
        write_atomic(path, dot.source.encode())
        return path
    graphviz = _graphviz()
    if fmt == "png":
        dot = dot.copy()
        dot.graph_attr["dpi"] = str(dpi or DEFAULT_DPI)
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        fallback = path.with_suffix(".dot")
        write_atomic(fallback, dot.source.encode())
        raise GraphvizMissing(
            f"Graphviz's dot program is not installed, so {path.name} was not drawn; "
            f"wrote {fallback} instead. To draw it, {INSTALL_HINT}"
        ) from None
    write_atomic(path, data)
    return path


def draw(
    output: Tensor,
    path: str | os.PathLike,
    names: Any = None,
    dpi: int | None = None,
) -> Path:
    """Draw the graph that produced ``output`` (call it before ``backward``) to ``path``;
    ``names``: a dict name -> tensor, or the model (its parameters named U1, b1, ...)."""
    return render(tensor_graph_source(output, names), path, dpi)

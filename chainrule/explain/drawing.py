"""Pictures of computational graphs, drawn left to right with Graphviz as the slides draw
them: inputs on the left, a circle per gate labelled by its operation, and on every edge
the forward value (green, above) and the gradient flowing back (red, below).

Needs the ``graphviz`` Python package (extra ``chainrule[explain]``) and Graphviz's ``dot``
program to render SVG, PNG or PDF; without ``dot`` the ``.dot`` source is written and the
error says how to install Graphviz.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..autodiff import Tensor
from ..autodiff.backward import backward
from ..errors import MissingExtraError
from ..io import write_atomic
from .tracing import SYMBOLS, Trace

FORMATS = ("svg", "png", "pdf", "dot")
VALUE_COLOUR = "#1a7f37"
GRADIENT_COLOUR = "#cf222e"
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
    return f"{value:.4g}"


def _edge_label(value: str, gradient: str | None) -> str:
    """An HTML-like label: the value in green above, the gradient in red below."""
    below = (
        f'<br/><font color="{GRADIENT_COLOUR}">{gradient}</font>' if gradient is not None else ""
    )
    return f'<<font color="{VALUE_COLOUR}">{value}</font>{below}>'


def trace_graph_source(trace_: Trace) -> Any:
    """A graphviz Digraph of an expression's trace."""
    graphviz = _graphviz()
    dot = graphviz.Digraph(
        "chainrule", graph_attr={"rankdir": "LR", "label": f"{trace_.expression}", "labelloc": "t"}
    )
    dot.attr("node", fontname="Helvetica")
    dot.attr("edge", fontname="Helvetica", fontsize="10")
    values = {name: value for name, value in trace_.at.items()}
    values.update({step.name: step.value for step in trace_.steps})
    with dot.subgraph(name="inputs", graph_attr={"rank": "source"}) as inputs:
        for name in trace_.at:
            inputs.node(f"in_{name}", name, shape="plaintext", fontsize="14")
    for step in trace_.steps:
        dot.node(f"gate_{step.name}", step.symbol, shape="circle", width="0.5", fixedsize="false")
    constants: dict[str, str] = {}
    for step in trace_.steps:
        for position, source in enumerate(step.inputs):
            gradient = step.downstream[position] if position < len(step.downstream) else None
            if source in trace_.at:
                tail = f"in_{source}"
                value = values[source]
            elif any(s.name == source for s in trace_.steps):
                tail = f"gate_{source}"
                value = values[source]
            elif step.symbol != SYMBOLS.get(step.gate, step.gate):
                continue  # the gate's label shows this constant already: +1, *2, 1/x
            else:  # a constant
                tail = constants.setdefault(source, f"const_{len(constants)}")
                dot.node(tail, source, shape="plaintext", fontcolor="gray40")
                value = float(source)
            label = _edge_label(_number(value), None if gradient is None else _number(gradient))
            dot.edge(tail, f"gate_{step.name}", label=label)
    last = trace_.steps[-1]
    dot.node("out", last.name, shape="plaintext", fontsize="14")
    dot.edge(f"gate_{last.name}", "out", label=_edge_label(_number(last.value), _number(1.0)))
    return dot


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def tensor_graph_source(output: Tensor, names: dict[str, Tensor] | None = None) -> Any:
    """A graphviz Digraph of any graph the engine recorded (before ``backward`` frees it):
    each node shows its gate and shape, leaves their name (from ``names``) and shape, and
    each edge the shape of the gradient it carries back."""
    graphviz = _graphviz()
    if output.gate is None:
        raise ValueError("this tensor was not produced by a gate: there is no graph to draw")
    leaf_names = {id(t): name for name, t in (names or {}).items()}
    grads: dict[tuple[int, int], Any] = {}

    def hook(node, upstream, downstream):
        for parent, g in zip(node.parents, downstream, strict=True):
            if g is not None:
                grads[(id(parent), id(node))] = g

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
    backward(output, gradient, retain_graph=True, hook=hook)
    for t in nodes:  # leave the leaves' gradients as they were
        if id(t) in saved:
            t.grad = saved[id(t)]
    dot = graphviz.Digraph("chainrule", graph_attr={"rankdir": "LR"})
    dot.attr("node", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    for t in nodes:
        shape = _shape_text(t.shape)
        if t.gate is None:
            label = (
                f"{leaf_names.get(id(t), 'constant' if not t.requires_grad else 'leaf')}\\n{shape}"
            )
            dot.node(str(id(t)), label, shape="box", style="rounded")
        else:
            dot.node(str(id(t)), f"{t.gate.name}\\n{shape}", shape="ellipse")
        for parent in t.parents:
            g = grads.get((id(parent), id(t)))
            label = (
                ""
                if g is None
                else f'<<font color="{GRADIENT_COLOUR}">grad {_shape_text(np.shape(g))}</font>>'
            )
            dot.edge(str(id(parent)), str(id(t)), label=label)
    return dot


def render(dot: Any, path: str | os.PathLike) -> Path:
    """Write ``dot`` to ``path`` in the format its suffix names (.svg .png .pdf .dot)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to '{path.name}': use a .svg, .png, .pdf or .dot file")
    if fmt == "dot":
        write_atomic(path, dot.source.encode())
        return path
    graphviz = _graphviz()
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


def draw(output: Tensor, path: str | os.PathLike, names: dict[str, Tensor] | None = None) -> Path:
    """Draw the graph that produced ``output`` (call it before ``backward``) to ``path``."""
    return render(tensor_graph_source(output, names), path)

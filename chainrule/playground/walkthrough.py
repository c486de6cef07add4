"""Step-by-step backprop for the page, from chainrule's own trace.

* :func:`trace_message`: an expression's trace (``explain.trace(...).to_dict()``, the
  very data ``chainrule explain --json`` prints) and where to draw each node of its graph.
* :func:`network_walk`: one training sample through the live network: forward layer by
  layer (z = a U + b, a = f(z), f'(z)), backward neuron by neuron (dL/dz = dL/da x f'(z),
  dL/dU = input x upstream), then the update theta <- theta - eps g of plain SGD; every
  number from the engine (a recorded graph, ``retain_grad`` on each layer's values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autodiff as ad
from ..explain import parse, trace
from ..nn import get_loss

MISSING_VALUE = 1.0  # a variable the page has no value for yet


def trace_message(expression: str, at: dict[str, float], gates: str = "as-typed") -> dict:
    """The trace of ``expression`` at ``at`` (a variable without a value there gets
    MISSING_VALUE) and its graph's layout: a column per depth, inputs on the left."""
    parsed = parse(expression)  # the whitelist parser: ExpressionError for anything else
    point = {name: float(at.get(name, MISSING_VALUE)) for name in parsed.variables}
    result = trace(parsed, point, gates)
    return {"type": "trace", "trace": result.to_dict(), **layout(result.to_dict())}


def layout(trace_dict: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Nodes (variables, constants, gates) with a column (``depth``) and a ``row``, and the
    edges between them: each gate's input i comes from a variable, a gate, or a constant
    of its own (a constant used twice is drawn twice)."""
    steps = trace_dict["steps"]
    gate_names = {step["name"] for step in steps}
    depth: dict[str, int] = {name: 0 for name in trace_dict["at"]}
    nodes: list[dict[str, Any]] = [
        {"id": name, "kind": "input", "label": name, "value": value, "depth": 0}
        for name, value in trace_dict["at"].items()
    ]
    edges = []
    for index, step in enumerate(steps):
        sources = []
        for slot, source in enumerate(step["inputs"]):
            if source in gate_names or source in depth:
                sources.append(source)
                continue
            constant = f"{step['name']}.{slot}"  # a number written in the expression
            nodes.append(
                {
                    "id": constant,
                    "kind": "constant",
                    "label": source,
                    "value": float(source),
                    "depth": None,
                    "feeds": step["name"],
                }
            )
            sources.append(constant)
        depth[step["name"]] = 1 + max((depth.get(s, 0) for s in sources), default=0)
        nodes.append(
            {
                "id": step["name"],
                "kind": "gate",
                "label": step["symbol"],
                "step": index,
                "depth": depth[step["name"]],
            }
        )
        edges += [
            {"from": s, "to": step["name"], "slot": slot, "step": index}
            for slot, s in enumerate(sources)
        ]
    for node in nodes:
        if node["depth"] is None:  # a constant sits just left of its gate
            node["depth"] = depth[node["feeds"]] - 1
    rows: dict[int, int] = {}
    for node in nodes:
        node["row"] = rows.get(node["depth"], 0)
        rows[node["depth"]] = node["row"] + 1
    return {"nodes": nodes, "edges": edges}


def _n(value: float) -> str:
    """A number as the page shows it: four significant digits, negatives in brackets
    when they are a factor."""
    return f"{float(value):.4g}"


def _f(value: float) -> str:
    text = _n(value)
    return f"({text})" if text.startswith("-") else text


def network_walk(session: Any, index: int) -> dict[str, Any]:
    """Training sample ``index`` of ``session`` through its network as it is now, by the
    engine: the forward pass layer by layer (z = a U + b, a = f(z)), the loss, the
    backward pass neuron by neuron (dL/da_j = sum_k U_jk dL/dz_k, dL/dz_j = dL/da_j x
    f'(z_j), dL/dU_ij = a_i x dL/dz_j, dL/db_j = dL/dz_j), then the plain SGD update
    theta - eps g with this one sample's gradient (shown, not applied).

    The values come from a graph recorded on copies of the weights (``retain_grad`` on
    every z and a), so the live training's gradients are untouched; f'(z) is the
    activation gate's local gradient, from backpropagating 1 through it alone."""
    n_train = len(session.inputs_train)
    if not 0 <= index < n_train:
        raise ValueError(f"sample {index} does not exist: the training set has {n_train} points")
    model, config = session.model, session.config
    x_row = session.inputs_train[index : index + 1]
    target = session.train_set.y[index : index + 1]
    classify = session.points.task == "classify"
    layers = model.linear_layers
    U = [ad.tensor(layer.U.data.copy(), requires_grad=True) for layer in layers]
    b = [ad.tensor(layer.b.data.copy(), requires_grad=True) for layer in layers]
    activations = [*model.activations, None]  # the output layer's is the loss's
    a = ad.tensor(x_row)
    inputs, zs, outs = [a], [], []
    for l, layer_U in enumerate(U):
        z = a @ layer_U + b[l]
        z.retain_grad()
        zs.append(z)
        if activations[l] is not None:
            a = _activation(activations[l])(z)
            a.retain_grad()
            outs.append(a)
            inputs.append(a)
    base = get_loss("cross_entropy" if classify else "mse")
    loss = base(zs[-1], target)
    loss.backward()
    derivatives = [
        _derivative(name, z.data)
        for name, z in zip(activations, zs, strict=False)
        if name is not None
    ]

    features = list(config.features)
    x_text = ", ".join(f"{name} = {_n(v)}" for name, v in zip(features, x_row[0], strict=True))
    y_text = session.points.classes[int(target[0])] if classify else _n(target[0, 0])
    stages = [
        {
            "title": f"sample {index}: inputs and target",
            "lines": [
                f"point ({_n(session.train_set.X[index, 0])}, "
                f"{_n(session.train_set.X[index, 1])}); {x_text}",
                f"target: {'class ' if classify else ''}{y_text}",
            ],
        }
    ]
    neurons: list[list[str]] = []
    sizes = model.sizes
    for l in range(len(U)):
        a_in = inputs[l].data[0]
        lines = []
        for j in range(sizes[l + 1]):
            terms = " + ".join(f"{_f(a_in[i])} x {_f(U[l].data[i, j])}" for i in range(sizes[l]))
            z = zs[l].data[0, j]
            line = f"z{j + 1} = {terms} + {_f(b[l].data[j])} = {_n(z)}"
            if activations[l] is not None:
                line += f";  a{j + 1} = {activations[l]}(z{j + 1}) = {_n(outs[l].data[0, j])}"
            lines.append(line)
        what = f"hidden layer {l + 1}" if activations[l] is not None else "output layer"
        stages.append(
            {"title": f"forward, {what}: z = a U{l + 1} + b{l + 1}, a = f(z)", "lines": lines}
        )
        if activations[l] is not None:
            neurons.append(
                [
                    f"z = {_n(zs[l].data[0, j])}, a = {_n(outs[l].data[0, j])}, "
                    f"f'(z) = {_n(derivatives[l][0, j])}"
                    for j in range(sizes[l + 1])
                ]
            )
    logits = zs[-1].data[0]
    if classify:
        p = ad.softmax(ad.tensor(logits)).data  # the engine's softmax of its logits
        k = int(target[0])
        stages.append(
            {
                "title": "loss: cross-entropy of the softmax",
                "lines": [
                    f"p = softmax(z) = ({', '.join(_n(v) for v in p)})",
                    f"L = -log p[{y_text}] = -log {_n(p[k])} = {_n(loss.item())}",
                ],
            }
        )
        neurons.append([f"z = {_n(logits[j])}, p = {_n(p[j])}" for j in range(len(logits))])
    else:
        stages.append(
            {
                "title": "loss: squared error",
                "lines": [
                    f"L = (z - y)^2 = ({_n(logits[0])} - {_f(target[0, 0])})^2 = {_n(loss.item())}"
                ],
            }
        )
        neurons.append([f"z = {_n(logits[0])} (the prediction)"])
    # backward: output neurons first, then each hidden layer, neuron by neuron
    rule = "p - onehot(y)" if classify else "2 (z - y)"
    stages.append(
        {
            "title": f"backward, output layer: dL/dz = {rule}",
            "lines": [f"dL/dz{j + 1} = {_n(zs[-1].grad[0, j])}" for j in range(len(logits))],
        }
    )
    weights: list[list[list[str]]] = [[] for _ in U]
    for l in range(len(U) - 1, -1, -1):
        g = zs[l].grad[0]
        a_in = inputs[l].data[0]
        weights[l] = [
            [f"{_f(a_in[i])} x {_f(g[j])} = {_n(U[l].grad[i, j])}" for j in range(sizes[l + 1])]
            for i in range(sizes[l])
        ]
        if l == 0:
            continue
        upstream = zs[l].grad[0]
        for j in range(sizes[l]):
            terms = " + ".join(
                f"{_f(U[l].data[j, k])} x {_f(upstream[k])}" for k in range(sizes[l + 1])
            )
            da, fz = outs[l - 1].grad[0, j], derivatives[l - 1][0, j]
            lines = [
                f"dL/da{j + 1} = sum_k U{l + 1}[{j + 1},k] dL/dz_k = {terms} = {_n(da)}",
                f"dL/dz{j + 1} = dL/da{j + 1} x f'(z{j + 1}) = {_f(da)} x {_f(fz)} "
                f"= {_n(zs[l - 1].grad[0, j])}",
            ]
            stages.append(
                {
                    "title": f"backward, hidden layer {l}, neuron {j + 1} "
                    f"(upstream x local = downstream)",
                    "lines": lines,
                }
            )
    for l in range(len(U)):
        lines = [
            f"dL/dU{l + 1}[{i + 1},{j + 1}] = input x upstream = {weights[l][i][j]}"
            for i in range(sizes[l])
            for j in range(sizes[l + 1])
        ]
        lines += [f"dL/db{l + 1}[{j + 1}] = {_n(b[l].grad[j])}" for j in range(sizes[l + 1])]
        stages.append({"title": f"gradients of U{l + 1} and b{l + 1}", "lines": lines})
    eps = config.lr
    for l in range(len(U)):
        lines = [
            f"U{l + 1}[{i + 1},{j + 1}] <- {_n(U[l].data[i, j])} - {_n(eps)} x "
            f"{_f(U[l].grad[i, j])} = {_n(U[l].data[i, j] - eps * U[l].grad[i, j])}"
            for i in range(sizes[l])
            for j in range(sizes[l + 1])
        ]
        stages.append(
            {
                "title": f"update theta <- theta - eps g (eps = {_n(eps)}), U{l + 1} "
                "(plain SGD on this sample; shown, not applied)",
                "lines": lines,
            }
        )
    return {
        "type": "walk",
        "index": index,
        "stages": stages,
        "neurons": neurons,
        "weights": weights,
    }


def _activation(name: str):
    from ..nn import make_activation

    return make_activation(name)


def _derivative(name: str, z: np.ndarray) -> np.ndarray:
    """f'(z) elementwise: 1 backpropagated through the activation gate alone."""
    leaf = ad.tensor(z.copy(), requires_grad=True)
    _activation(name)(leaf).backward(np.ones_like(z))
    return np.asarray(leaf.grad)

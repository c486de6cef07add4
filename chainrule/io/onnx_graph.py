"""The ONNX graph of an exported model, node by node (see :mod:`chainrule.io.onnx_export`
for what it computes and why the standardisation is in float64).

Each function adds nodes to a :class:`GraphBuilder` and returns the name of the value it
made; the builder holds the nodes and the constants (initializers) they read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn import ELU, GELU, MLP, Dropout, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh

_SIMPLE = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid", Softplus: "Softplus"}


class GraphBuilder:
    def __init__(self, helper: Any, numpy_helper: Any, tensor_proto: Any) -> None:
        self.helper, self.numpy_helper, self.tensor_proto = helper, numpy_helper, tensor_proto
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, array: Any, dtype: Any) -> str:
        name = self.name(stem)
        values = np.asarray(array, dtype=dtype)
        self.initializers.append(self.numpy_helper.from_array(values, name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attributes) -> str:
        out = output or self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def cast(self, x: str, dtype: Any, output: str | None = None) -> str:
        to = self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.node("Cast", [x], output, to=to)

    def gelu(self, x: str, dtype: Any) -> str:
        """x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), from elementary operators."""
        cube = self.node("Mul", [self.node("Mul", [x, x]), x])
        inner = self.node("Add", [x, self.node("Mul", [cube, self.constant("c", 0.044715, dtype)])])
        scaled = self.node("Mul", [inner, self.constant("k", 0.7978845608028654, dtype)])
        one_plus = self.node("Add", [self.node("Tanh", [scaled]), self.constant("one", 1.0, dtype)])
        return self.node(
            "Mul", [self.node("Mul", [x, one_plus]), self.constant("half", 0.5, dtype)]
        )


def standardise(
    builder: GraphBuilder, x: str, mean: np.ndarray, scale: np.ndarray, dtype: Any
) -> str:
    """(x - mean) / scale in float64 on float64 input, as chainrule computes it, then cast
    to the network's dtype: the network sees the very numbers it sees in chainrule."""
    x = builder.node("Sub", [x, builder.constant("input_mean", mean, np.float64)])
    x = builder.node("Div", [x, builder.constant("input_scale", scale, np.float64)])
    return builder.cast(x, dtype) if np.dtype(dtype) != np.float64 else x


def network(builder: GraphBuilder, mlp: MLP, x: str, dtype: Any) -> str:
    """The MLP's layers, its output layer included: Gemm(x, U, b) then the activation."""
    for layer in mlp.layers:
        if isinstance(layer, Linear):
            bias = layer.b.data if layer.b is not None else np.zeros(layer.out_features)
            weights = builder.constant("U", layer.U.data, dtype)
            x = builder.node("Gemm", [x, weights, builder.constant("b", bias, dtype)])
        else:
            x = _activation(builder, layer, x, dtype)
    if mlp.output == "softmax":
        x = builder.node("Softmax", [x], axis=1)  # 2-D input: one row per sample
    elif mlp.output == "sigmoid":
        x = builder.node("Sigmoid", [x])
    return x


def _activation(builder: GraphBuilder, layer: Any, x: str, dtype: Any) -> str:
    if isinstance(layer, (Identity, Dropout)):
        return x
    for cls, op in _SIMPLE.items():
        if type(layer) is cls:
            return builder.node(op, [x])
    if isinstance(layer, LeakyReLU):
        return builder.node("LeakyRelu", [x], alpha=float(layer.negative_slope))
    if isinstance(layer, ELU):
        return builder.node("Elu", [x], alpha=float(layer.alpha))
    if isinstance(layer, GELU):
        return builder.gelu(x, dtype)
    raise ValueError(f"cannot export layer {type(layer).__name__} to ONNX")


def unscale_targets(builder: GraphBuilder, x: str, mean: float, scale: float, output: str) -> str:
    """y * scale + mean in float64, as chainrule undoes the target scaling."""
    x = builder.cast(x, np.float64)
    x = builder.node("Mul", [x, builder.constant("target_scale", scale, np.float64)])
    return builder.node("Add", [x, builder.constant("target_mean", mean, np.float64)], output)


def label(
    builder: GraphBuilder, x: str, head: str, classes: list[Any], dtype: Any, output: str
) -> str:
    """The predicted class: the largest output (the first on a tie), or for a sigmoid head
    the second class when its probability is above 1/2; looked up in the class labels."""
    if head == "sigmoid":
        above = builder.node("Greater", [x, builder.constant("half", [0.5], dtype)])
        flat = builder.constant("shape", [-1], np.int64)
        index = builder.node("Reshape", [builder.cast(above, np.int64), flat])
    else:
        index = builder.node("ArgMax", [x], axis=1, keepdims=0)
    labels = builder.constant("classes", *label_values(classes))
    return builder.node("Gather", [labels, index], output, axis=0)


def label_values(classes: list[Any]) -> tuple[np.ndarray, Any]:
    """The labels as a tensor keeping their type: int64, float64, or else text."""
    if all(isinstance(c, int) and -(2**63) <= c < 2**63 for c in classes):
        return np.array(classes, dtype=np.int64), np.int64
    if all(isinstance(c, (int, float)) for c in classes):
        return np.array(classes, dtype=np.float64), np.float64
    return np.array([str(c) for c in classes], dtype=object), object

"""ONNX export of an MLP (and of a table model's input standardisation and target
scaling), so the network runs anywhere ONNX Runtime does.  Needs the optional extra
``chainrule[onnx]``.

The graph: [Sub mean, Div scale] -> (Gemm U b -> activation)* -> output layer
-> [Mul scale, Add mean], with a dynamic batch dimension named "batch".
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import MissingExtraError
from ..nn import ELU, GELU, Dropout, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh
from .files import write_atomic

_SIMPLE = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid", Softplus: "Softplus"}


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MissingExtraError(
            "ONNX export needs the onnx package: pip install 'chainrule[onnx]'"
        ) from None
    return onnx, TensorProto, helper, numpy_helper


class _GraphBuilder:
    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(
            self.numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)
        )
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def gelu(self, x: str) -> str:
        """x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), from opset-17 operators."""
        cube = self.node("Mul", [self.node("Mul", [x, x]), x])
        inner = self.node(
            "Add", [x, self.node("Mul", [cube, self.constant("c", np.array(0.044715))])]
        )
        t = self.node(
            "Tanh", [self.node("Mul", [inner, self.constant("k", np.array(0.7978845608028654))])]
        )
        one_plus = self.node("Add", [t, self.constant("one", np.array(1.0))])
        return self.node(
            "Mul", [self.node("Mul", [x, one_plus]), self.constant("half", np.array(0.5))]
        )


def _activation(builder: _GraphBuilder, layer: Any, x: str) -> str:
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
        return builder.gelu(x)
    raise ValueError(f"cannot export layer {type(layer).__name__} to ONNX")


def export_onnx(model: Any, path: str | os.PathLike, opset: int = 17) -> None:
    """Write ``model`` — an MLP, or a table model (with ``network``, ``input_mean``,
    ``input_scale``, ``target_mean``, ``target_scale``) — as an ONNX file, checked with
    ``onnx.checker.check_model(full_check=True)``, atomically."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    network = getattr(model, "network", model)
    builder = _GraphBuilder(helper, numpy_helper)
    x = "input"
    mean, scale = getattr(model, "input_mean", None), getattr(model, "input_scale", None)
    if mean is not None:
        x = builder.node("Sub", [x, builder.constant("input_mean", mean)])
        x = builder.node("Div", [x, builder.constant("input_scale", scale)])
    for layer in network.layers:
        if isinstance(layer, Linear):
            bias = layer.b.data if layer.b is not None else np.zeros(layer.out_features)
            x = builder.node(
                "Gemm", [x, builder.constant("U", layer.U.data), builder.constant("b", bias)]
            )
        else:
            x = _activation(builder, layer, x)
    if network.output == "softmax":
        x = builder.node("Softmax", [x], axis=-1)
    elif network.output == "sigmoid":
        x = builder.node("Sigmoid", [x])
    target_scale = float(getattr(model, "target_scale", 1.0))
    target_mean = float(getattr(model, "target_mean", 0.0))
    if getattr(model, "task", None) == "regress" and (target_scale != 1.0 or target_mean != 0.0):
        x = builder.node("Mul", [x, builder.constant("target_scale", np.array(target_scale))])
        x = builder.node("Add", [x, builder.constant("target_mean", np.array(target_mean))])
    builder.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))
    graph = helper.make_graph(
        builder.nodes,
        "chainrule_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", network.sizes[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", network.sizes[-1]])],
        builder.initializers,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="chainrule"
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by current onnxruntime releases
    onnx.checker.check_model(proto, full_check=True)
    write_atomic(path, proto.SerializeToString())

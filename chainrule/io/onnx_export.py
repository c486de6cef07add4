"""ONNX export of an MLP, with the input standardisation and target scaling a model may
carry around it, so the network runs anywhere ONNX Runtime does.  Needs the optional
extra ``chainrule[onnx]``.

The graph: [Sub mean, Div scale] -> (Gemm U b -> activation)* -> output layer
-> [Mul scale, Add mean], with a dynamic batch dimension named "batch".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MissingExtraError
from ..nn import (
    ELU,
    GELU,
    MLP,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
)
from .files import write_atomic

_SIMPLE = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid", Softplus: "Softplus"}


@dataclass(frozen=True)
class ExportSpec:
    """What to export: a network and the affine maps around it, the function

        x -> g((x - input_mean) / input_scale) * target_scale + target_mean

    with g the network, its output layer included.  Without ``input_mean`` the inputs go
    in as they are; with ``target_scale`` 1 and ``target_mean`` 0 the outputs come out as
    the network gives them."""

    network: MLP
    input_mean: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    target_mean: float = 0.0
    target_scale: float = 1.0

    def __post_init__(self) -> None:
        if (self.input_mean is None) != (self.input_scale is None):
            raise ValueError("give the input mean and the input scale together, or neither")

    @property
    def scales_targets(self) -> bool:
        return self.target_scale != 1.0 or self.target_mean != 0.0


@runtime_checkable
class Exportable(Protocol):
    """A model that says how it exports: its network and the scaling around it."""

    def export_spec(self) -> ExportSpec: ...


def _spec(model: MLP | ExportSpec | Exportable) -> ExportSpec:
    if isinstance(model, ExportSpec):
        return model
    if isinstance(model, MLP):
        return ExportSpec(model)
    if isinstance(model, Exportable):
        return model.export_spec()
    raise TypeError(
        f"cannot export a {type(model).__name__} to ONNX: give an MLP, an ExportSpec "
        "or a model with an export_spec() method"
    )


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


def export_onnx(
    model: MLP | ExportSpec | Exportable, path: str | os.PathLike, opset: int = 17
) -> None:
    """Write ``model`` — an MLP, an :class:`ExportSpec`, or a model with ``export_spec()``
    such as a table model — as an ONNX file, checked with
    ``onnx.checker.check_model(full_check=True)``, atomically."""
    spec = _spec(model)
    onnx, TensorProto, helper, numpy_helper = _onnx()
    network = spec.network
    builder = _GraphBuilder(helper, numpy_helper)
    x = "input"
    if spec.input_mean is not None:
        x = builder.node("Sub", [x, builder.constant("input_mean", spec.input_mean)])
        x = builder.node("Div", [x, builder.constant("input_scale", spec.input_scale)])
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
    if spec.scales_targets:
        scale, mean = np.array(float(spec.target_scale)), np.array(float(spec.target_mean))
        x = builder.node("Mul", [x, builder.constant("target_scale", scale)])
        x = builder.node("Add", [x, builder.constant("target_mean", mean)])
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

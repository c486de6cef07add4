"""ONNX export of an MLP, with the input standardisation and target scaling a model may
carry around it, so the network runs anywhere ONNX Runtime does.  Needs the optional
extra ``chainrule[onnx]``.

The graph computes what chainrule computes, in the same dtypes:

    features -> [(x - mean) / scale in float64, cast to the network's dtype]
             -> (Gemm U b -> activation)* -> output layer -> outputs

The input ``features`` (batch, F) is float64 whenever the model standardises its inputs
or is a table model (chainrule reads a table's features as float64 and standardises them
in float64: a feature like a timestamp, 1.7e9 +- 1000, cannot even be held in float32,
whose spacing there is 128); otherwise it has the network's dtype.  The outputs:

- a classifier (``task`` classify): ``label`` (batch,), the predicted class as an int64,
  float64 or string tensor (the labels' own type), and the network's output layer,
  named for what it holds: ``probabilities`` (batch, classes) for a softmax head;
  ``probability`` (batch, 1), the second class's, for a sigmoid head (the first class's
  is 1 minus it); ``logits`` (batch, classes), raw scores before any softmax, for an
  identity head;
- a regression (``task`` regress): ``prediction`` (batch, 1) in float64, in the target's
  own units (the target scaling undone in float64);
- a bare network: ``output``, its output layer's values (scaled back if the spec says so).

The model's ``metadata_props`` hold the task, the class labels and the feature names as
JSON lists (so a label keeps its type), the target name, the output kind and the
chainrule version; its ``doc_string`` says the same in words.  Opsets from 7 (the first in
which Gemm, Add, Sub, Mul, Div and Greater broadcast without a ``broadcast`` attribute)
to the newest the installed onnx package knows are accepted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._version import __version__
from ..errors import MissingExtraError
from ..nn import MLP
from . import onnx_graph
from .files import write_atomic

#: The first opset whose version of an operator does what the graph needs; 1 otherwise.
FIRST_OPSET = {
    "Gemm": (7, "broadcasts the bias over the batch"),
    "Add": (7, "broadcasts without a 'broadcast' attribute"),
    "Sub": (7, "broadcasts without a 'broadcast' attribute"),
    "Mul": (7, "broadcasts without a 'broadcast' attribute"),
    "Div": (7, "broadcasts without a 'broadcast' attribute"),
    "Greater": (7, "broadcasts without a 'broadcast' attribute"),
    "Cast": (6, "takes its target type as a number"),
    "Reshape": (5, "takes the shape as an input"),
}


class OpsetError(ValueError):
    """The requested opset cannot express the model (too old) or is unknown (too new);
    the message begins "opset N"."""


@dataclass(frozen=True)
class ExportSpec:
    """What to export: a network and the affine maps around it, the function

        x -> g((x - input_mean) / input_scale) * target_scale + target_mean

    with g the network, its output layer included.  Without ``input_mean`` the inputs go
    in as they are; with ``target_scale`` 1 and ``target_mean`` 0 the outputs come out as
    the network gives them.  ``task``, ``feature_names``, ``classes`` and
    ``target_name`` describe a table model: they name the outputs, add a classifier's
    ``label`` output, and go into the file's metadata."""

    network: MLP
    input_mean: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    target_mean: float = 0.0
    target_scale: float = 1.0
    task: str | None = None
    feature_names: Sequence[str] | None = None
    classes: Sequence[Any] | None = None
    target_name: str | None = None

    def __post_init__(self) -> None:
        if (self.input_mean is None) != (self.input_scale is None):
            raise ValueError("give the input mean and the input scale together, or neither")
        if self.task not in (None, "classify", "regress"):
            raise ValueError(f"unknown task {self.task!r}; choose classify or regress")
        width = self.network.sizes[-1]
        if self.task == "classify":
            if self.network.output == "sigmoid" and width != 1:
                raise ValueError(
                    f"a sigmoid classifier has one output (the second class's probability), "
                    f"not {width}"
                )
            expected = 2 if self.network.output == "sigmoid" else width
            if self.classes is None or len(self.classes) != expected:
                raise ValueError(f"a classifier with {width} outputs needs {expected} classes")
            plain = [c.item() if isinstance(c, np.generic) else c for c in self.classes]
            object.__setattr__(self, "classes", plain)  # labels as Python's str, int, float
        if self.feature_names is not None and len(self.feature_names) != self.network.sizes[0]:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.network.sizes[0]} inputs"
            )

    @property
    def scales_targets(self) -> bool:
        return self.target_scale != 1.0 or self.target_mean != 0.0

    @property
    def network_dtype(self) -> np.dtype:
        return np.dtype(self.network.parameters()[0].data.dtype)

    @property
    def input_dtype(self) -> np.dtype:
        """float64 where chainrule standardises in float64 or reads a table as float64."""
        table = self.input_mean is not None or self.task is not None
        return np.dtype(np.float64) if table else self.network_dtype

    @property
    def output_kind(self) -> str:
        """The name of the output that holds the network's output layer (scaled back)."""
        head = self.network.output
        if self.task == "classify":
            return {"softmax": "probabilities", "sigmoid": "probability"}.get(head, "logits")
        return "prediction" if self.task == "regress" else "output"


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


def newest_opset() -> int:
    """The newest opset the installed onnx package knows (and can check a model against)."""
    return int(_onnx()[0].defs.onnx_opset_version())


def check_opset(opset: int, ops: Sequence[str]) -> None:
    """Refuse an opset older than one of ``ops`` needs, or newer than onnx knows."""
    newest = newest_opset()
    needs = [(first, op, why) for op, (first, why) in FIRST_OPSET.items() if op in ops]
    oldest, needed, why = max(needs, key=lambda need: need[0], default=(1, "", ""))
    choose = f"choose an opset from {oldest} to {newest}"
    if not isinstance(opset, (int, np.integer)) or isinstance(opset, bool):
        raise OpsetError(f"opset {opset!r} is not a whole number; {choose}")
    if opset < oldest:
        raise OpsetError(
            f"opset {opset} cannot express this model: {needed} needs opset {oldest} or "
            f"later (where it {why}); {choose}"
        )
    if opset > newest:
        onnx_version = _onnx()[0].__version__
        raise OpsetError(
            f"opset {opset} is newer than the installed onnx {onnx_version} knows; {choose}"
        )


Output = tuple[str, Any, list[Any], str]  # name, dtype, shape, what it holds


def export_onnx(
    model: MLP | ExportSpec | Exportable, path: str | os.PathLike, opset: int = 17
) -> None:
    """Write ``model`` — an MLP, an :class:`ExportSpec`, or a model with ``export_spec()``
    such as a table model — as an ONNX file (inputs, outputs and metadata as the module
    docstring says), checked with ``onnx.checker.check_model(full_check=True)`` before a
    byte is written, atomically.  An :class:`OpsetError` (a ValueError) refuses an
    ``opset`` that cannot express the model."""
    spec = _spec(model)
    onnx, TensorProto, helper, numpy_helper = _onnx()
    builder = onnx_graph.GraphBuilder(helper, numpy_helper, TensorProto)
    outputs = _build(builder, spec)
    check_opset(opset, sorted({node.op_type for node in builder.nodes}))
    graph = helper.make_graph(
        builder.nodes,
        "chainrule_mlp",
        [_value_info(helper, "features", spec.input_dtype, ["batch", spec.network.sizes[0]])],
        [_value_info(helper, name, dtype, shape, doc) for name, dtype, shape, doc in outputs],
        builder.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="chainrule",
        producer_version=__version__,
        doc_string=_describe(spec, outputs),
    )
    proto.ir_version = max(4, helper.find_min_ir_version_for(list(proto.opset_import)))
    helper.set_model_props(proto, _metadata(spec, [name for name, *_ in outputs]))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(
            f"cannot write {path}: the ONNX graph fails onnx's check: {reason}"
        ) from error
    write_atomic(path, proto.SerializeToString())


def _build(builder: onnx_graph.GraphBuilder, spec: ExportSpec) -> list[Output]:
    """The graph's nodes; returns its outputs."""
    dtype, head, width = spec.network_dtype, spec.network.output, spec.network.sizes[-1]
    x = "features"
    if spec.input_mean is not None:
        x = onnx_graph.standardise(builder, x, spec.input_mean, spec.input_scale, dtype)
    elif spec.input_dtype != dtype:
        x = builder.cast(x, dtype)
    x = onnx_graph.network(builder, spec.network, x, dtype)
    kind = spec.output_kind
    if spec.scales_targets:
        onnx_graph.unscale_targets(builder, x, spec.target_mean, spec.target_scale, kind)
        dtype = np.dtype(np.float64)
    else:
        builder.node("Identity", [x], kind)
    outputs = [(kind, dtype, ["batch", width], _OUTPUT_DOCS[kind].format(head=head))]
    if spec.task == "classify":
        classes = list(spec.classes or [])
        onnx_graph.label(builder, x, head, classes, spec.network_dtype, "label")
        label_dtype = onnx_graph.label_values(classes)[1]
        outputs.insert(0, ("label", label_dtype, ["batch"], _OUTPUT_DOCS["label"]))
    return outputs


_OUTPUT_DOCS = {
    "label": "the predicted class, one of the metadata's 'classes' in their own type",
    "probabilities": "one probability per class, in the order of the metadata's 'classes'",
    "probability": "the probability of the second class in 'classes' (the first's is 1 - p)",
    "logits": "raw scores of the identity head, before softmax: not probabilities",
    "prediction": "the predicted target value, in the target's own units",
    "output": "the network's {head} output layer (scaled back if the model scales targets)",
}


def _value_info(helper, name: str, dtype: Any, shape: list[Any], doc: str = ""):
    element = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return helper.make_tensor_value_info(name, element, shape, doc_string=doc)


def _metadata(spec: ExportSpec, outputs: list[str]) -> dict[str, str]:
    """metadata_props: every value text; lists as JSON, so a label keeps its type."""
    props = {
        "chainrule_version": __version__,
        "task": spec.task,
        "feature_names": None if spec.feature_names is None else json.dumps(spec.feature_names),
        "target_name": spec.target_name,
        "classes": None if spec.classes is None else json.dumps(list(spec.classes)),
        "output_layer": spec.network.output,
        "output_kind": spec.output_kind,
        "outputs": json.dumps(outputs),
        "input_standardised": json.dumps(spec.input_mean is not None),
    }
    return {key: value for key, value in props.items() if value is not None}


def _describe(spec: ExportSpec, outputs: list[Output]) -> str:
    tasks = {"classify": "a chainrule classifier", "regress": "a chainrule regression"}
    what = tasks.get(spec.task or "", "a chainrule network")
    features = spec.network.sizes[0]
    names = f": {', '.join(spec.feature_names)}" if spec.feature_names else ""
    lines = [
        f"{what}, sizes {spec.network.sizes}, {spec.network.output} output layer.",
        f"Input 'features' ({spec.input_dtype.name}, batch x {features}), raw values{names}"
        + ("; standardised inside the graph in float64." if spec.input_mean is not None else "."),
    ]
    for name, dtype, _, doc in outputs:
        element = "string" if np.dtype(dtype) == object else np.dtype(dtype).name
        lines.append(f"Output '{name}' ({element}): {doc}.")
    return "\n".join(lines)

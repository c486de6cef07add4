"""Model files: safetensors for the weights, a JSON document in the header metadata for
the rest.  Loading never executes code: no pickle, no import of a name read from the
file; only known architectures and activation names are accepted, and every tensor's
name, shape and dtype is checked against the architecture before any value is used.

Header metadata key ``chainrule`` holds::

    {"format_version": 1,
     "architecture": {"type": "MLP", "sizes": [...], "activation": [...],
                      "output": "softmax", "dropout": 0.0, "dtype": "float32"},
     "info": {...}}           # free-form: task, labels, feature names, training summary
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save as save_safetensors

from ..errors import ModelFileError
from ..nn import ACTIVATIONS, MLP, Module
from ..nn.mlp import OUTPUTS, parameter_shapes
from .files import write_atomic
from .safetensors_reader import MAX_HEADER_BYTES, Layout, parse_json, read_safetensors, short

FORMAT_VERSION = 1
METADATA_KEY = "chainrule"
MAX_LAYERS = 1000  # weight matrices; a header may not declare more
MAX_WIDTH = 2**31 - 1  # units in one layer
_DTYPES = {"float32", "float64"}
PREPROCESSING_PREFIX = "preprocessing."
PREPROCESSING = ("input_mean", "input_scale")
_OPTIONAL = {PREPROCESSING_PREFIX + name for name in PREPROCESSING}

__all__ = [
    "MAX_HEADER_BYTES",
    "ModelFileError",
    "load",
    "load_weights",
    "load_weights_into",
    "read_file",
    "save",
    "save_weights",
]


def save(
    model: Module,
    path: str | os.PathLike,
    info: dict[str, Any] | None = None,
    preprocessing: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``model`` (an MLP), ``info`` (JSON-serialisable: task, labels, feature names,
    training summary...) and ``preprocessing`` arrays (input_mean, input_scale: one
    float64 value per input feature) to ``path``, atomically."""
    if not isinstance(model, MLP):
        raise TypeError(
            f"save() stores MLP networks, got {type(model).__name__}; "
            "use save_weights() for the weights of any module"
        )
    extra = {}
    for name, array in (preprocessing or {}).items():
        if name not in PREPROCESSING:
            known = ", ".join(PREPROCESSING)
            raise ValueError(f"unknown preprocessing array '{name}'; known: {known}")
        extra[PREPROCESSING_PREFIX + name] = np.asarray(array, dtype=np.float64)
    document = {
        "format_version": FORMAT_VERSION,
        "architecture": {"type": "MLP", **model.config()},
        "info": info or {},
    }
    save_weights(model, path, document, extra)


def save_weights(
    model: Module,
    path: str | os.PathLike,
    document: dict[str, Any] | None = None,
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a module's parameters (and an optional JSON document and extra named arrays)
    to a safetensors file, atomically."""
    tensors = {name: np.ascontiguousarray(p.data) for name, p in model.named_parameters()}
    tensors.update({k: np.ascontiguousarray(v) for k, v in (extra_tensors or {}).items()})
    metadata = {METADATA_KEY: json.dumps(document or {"format_version": FORMAT_VERSION})}
    write_atomic(path, save_safetensors(tensors, metadata=metadata))


def read_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors and the JSON document of a chainrule safetensors file, validated."""
    return _read(Path(path))


def _read(
    path: Path, check: Callable[[Layout, dict[str, Any]], None] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`read_file`, with ``check(layout, document)`` run before the tensors are read."""
    found: dict[str, Any] = {}

    def check_header(layout: Layout, metadata: dict[str, str]) -> None:
        found["document"] = _document(metadata, path)
        if check is not None:
            check(layout, found["document"])

    tensors, _ = read_safetensors(path, check_header)
    return tensors, found["document"]


def _document(metadata: dict[str, str], path: Path) -> dict[str, Any]:
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{path}: no chainrule metadata; not a chainrule model file")
    document = parse_json(
        metadata[METADATA_KEY], "chainrule metadata", path, constants=True, strings=True
    )
    version = document.get("format_version") if isinstance(document, dict) else None
    if not isinstance(document, dict) or type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model format version {short(version, 20)} "
            f"(this chainrule reads version {FORMAT_VERSION})"
        )
    return document


def _architecture(document: dict[str, Any], path: Path) -> dict[str, Any]:
    """The declared MLP, each field checked for its type before its value."""
    arch = document.get("architecture")
    if not isinstance(arch, dict) or arch.get("type") != "MLP":
        kind = arch.get("type") if isinstance(arch, dict) else arch
        raise ModelFileError(f"{path}: unknown architecture {short(kind)}")
    sizes, activations = arch.get("sizes"), arch.get("activation")
    if not (
        isinstance(sizes, list)
        and 2 <= len(sizes) <= MAX_LAYERS + 1
        and all(type(s) is int and 0 < s <= MAX_WIDTH for s in sizes)
    ):
        count = f" ({len(sizes)} of them)" if isinstance(sizes, list) and len(sizes) > 8 else ""
        raise ModelFileError(
            f"{path}: invalid layer sizes {short(sizes)}{count}: 2 to {MAX_LAYERS + 1} "
            f"whole numbers from 1 to {MAX_WIDTH}"
        )
    if not (isinstance(activations, list) and len(activations) == len(sizes) - 2):
        raise ModelFileError(
            f"{path}: invalid activation list {short(activations)}: "
            f"one name for each of the {len(sizes) - 2} hidden layers"
        )
    for name in activations:
        if not (isinstance(name, str) and name in ACTIVATIONS):
            raise ModelFileError(f"{path}: unknown activation {short(name)}")
    output, dtype, dropout = arch.get("output"), arch.get("dtype"), arch.get("dropout", 0.0)
    if not (isinstance(output, str) and output in OUTPUTS):
        raise ModelFileError(f"{path}: unknown output layer {short(output)}")
    if not (isinstance(dtype, str) and dtype in _DTYPES):
        raise ModelFileError(f"{path}: unsupported dtype {short(dtype)}")
    if not (type(dropout) in (int, float) and 0 <= dropout < 1):
        raise ModelFileError(f"{path}: invalid dropout {short(dropout)}")
    return arch


def _check_layout(layout: Layout, arch: dict[str, Any], path: Path) -> None:
    """The tensors the header declares are exactly those of the declared MLP (name, shape,
    dtype) and the preprocessing arrays: checked before anything is allocated, so declared
    sizes are paid for by the file's own bytes."""
    expected = parameter_shapes(arch["sizes"], arch.get("dropout", 0.0))
    dtype = np.dtype(arch["dtype"])
    for key in PREPROCESSING:
        expected[PREPROCESSING_PREFIX + key] = (arch["sizes"][0],)
    declared = set(layout)
    missing = sorted(set(expected) - declared - _OPTIONAL)
    unexpected = sorted(declared - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: tensors do not match the architecture {short(arch['sizes'])} "
            f"(missing {short(missing)}, unexpected {short(unexpected)})"
        )
    for name, spec in layout.items():
        wanted = np.dtype(np.float64) if name in _OPTIONAL else dtype
        if spec.shape != expected[name] or spec.dtype != wanted:
            raise ModelFileError(
                f"{path}: tensor '{name}' is {spec.dtype.name}{list(spec.shape)}, "
                f"the architecture needs {wanted.name}{list(expected[name])}"
            )


def load(path: str | os.PathLike) -> MLP:
    """Read a model written by :func:`save`; the ``info`` document is on ``model.info``,
    the preprocessing arrays on ``model.preprocessing``.  The declared architecture is
    checked against the file's tensors before the network is built."""
    path = Path(path)
    tensors, document = _read(
        path, lambda layout, doc: _check_layout(layout, _architecture(doc, path), path)
    )
    arch = _architecture(document, path)
    info = document.get("info", {})
    if not isinstance(info, dict):
        raise ModelFileError(f"{path}: the info section must be a JSON object")
    preprocessing = _preprocessing(tensors, path)
    _check_finite(tensors, path)
    _check_magnitudes(tensors, arch, path)
    try:
        model = MLP(
            arch["sizes"], arch["activation"], arch["output"], arch.get("dropout", 0.0),
            dtype=arch["dtype"],
        )  # fmt: skip
        load_weights_into(model, tensors, path)
    except MemoryError:
        count = sum(math.prod(shape) for shape in parameter_shapes(arch["sizes"]).values())
        raise ModelFileError(
            f"{path}: its network of {count} parameters does not fit in memory"
        ) from None
    model.info = info
    model.preprocessing = preprocessing
    return model


def _preprocessing(tensors: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """Take the preprocessing arrays (their shapes already checked) out of ``tensors``."""
    found = {}
    for name in PREPROCESSING:
        array = tensors.pop(PREPROCESSING_PREFIX + name, None)
        if array is None:
            continue
        if not np.all(np.isfinite(array)) or (name == "input_scale" and np.any(array <= 0)):
            raise ModelFileError(
                f"{path}: tensor '{PREPROCESSING_PREFIX}{name}' holds invalid values"
            )
        found[name] = array.copy()
    return found


def _check_finite(tensors: dict[str, np.ndarray], path: Path) -> None:
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: tensor '{name}' holds NaN or inf")


def _check_magnitudes(tensors: dict[str, np.ndarray], arch: dict[str, Any], path: Path) -> None:
    """Refuse a layer that overflows on an input of magnitude at most 1.

    Unit j of a layer computes z_j = sum_i x_i U_ij + b_j.  Over inputs with every |x_i| <= 1
    (standardised features within one standard deviation; tanh or sigmoid activations) the
    largest |z_j| is m_j = sum_i |U_ij| + |b_j|, reached at x_i = sign(U_ij).  If some m_j
    exceeds the dtype's largest finite number, such an ordinary input makes the layer inf
    and the outputs NaN: no training produces that, so the file is refused rather than
    predicting NaN for every row.  (Weights within the bound can still overflow on huge
    inputs; that is the prediction's to detect.)"""
    largest = np.finfo(np.dtype(arch["dtype"])).max
    for name, shape in parameter_shapes(arch["sizes"], arch.get("dropout", 0.0)).items():
        if len(shape) != 2:
            continue
        reach = np.abs(tensors[name[: -len("U")] + "b"].astype(np.float64))
        weights = tensors[name]
        rows = max(1, 2**22 // max(1, shape[1]))  # a few MB at a time, not a copy of U
        with np.errstate(over="ignore"):
            for start in range(0, shape[0], rows):
                reach += np.abs(weights[start : start + rows]).sum(axis=0, dtype=np.float64)
        if np.any(reach > largest):
            unit = int(np.argmax(reach))
            raise ModelFileError(
                f"{path}: tensor '{name}' holds weights too large for {arch['dtype']}: "
                f"unit {unit} reaches {reach[unit]:.3g} on an input of magnitude 1 "
                f"(largest finite {largest:.3g})"
            )


def load_weights_into(
    model: Module, tensors: dict[str, np.ndarray], path: str | os.PathLike
) -> None:
    """Check names, shapes and dtypes of ``tensors`` against ``model``, then copy them in."""
    own = dict(model.named_parameters())
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: tensors do not match the architecture "
            f"(missing {short(missing)}, unexpected {short(unexpected)})"
        )
    for name, p in own.items():
        array = tensors[name]
        if array.shape != p.shape or array.dtype != p.dtype:
            raise ModelFileError(
                f"{path}: tensor '{name}' is {array.dtype}{list(array.shape)}, "
                f"the architecture needs {p.dtype}{list(p.shape)}"
            )
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: tensor '{name}' holds NaN or inf")
    model.load_state_dict(tensors)


def load_weights(model: Module, path: str | os.PathLike) -> None:
    """Load the parameters saved by :func:`save_weights` into ``model``; the file's tensors
    are checked against the module's before they are read."""
    path = Path(path)
    own = {name: (p.shape, p.dtype) for name, p in model.named_parameters()}

    def check(layout: Layout, document: dict[str, Any]) -> None:
        declared = {name: (spec.shape, spec.dtype) for name, spec in layout.items()}
        for name in sorted(set(declared) | set(own)):
            if declared.get(name) != own.get(name):
                got, needed = declared.get(name), own.get(name)
                raise ModelFileError(
                    f"{path}: tensor '{name}' is "
                    f"{f'{got[1]}{list(got[0])}' if got else 'missing'}, the module needs "
                    f"{f'{needed[1]}{list(needed[0])}' if needed else 'no such tensor'}"
                )

    tensors, _ = _read(path, check)
    load_weights_into(model, tensors, path)

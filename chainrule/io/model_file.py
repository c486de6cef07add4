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
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from ..nn import ACTIVATIONS, MLP, Module
from ..nn.mlp import OUTPUTS
from .files import write_atomic

FORMAT_VERSION = 1
METADATA_KEY = "chainrule"
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPES = {"float32", "float64"}
PREPROCESSING_PREFIX = "preprocessing."
PREPROCESSING = ("input_mean", "input_scale")


class ModelFileError(ValueError):
    """A model file is missing, corrupt, truncated, tampered with or of an unknown kind."""


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
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    if len(raw) < 8:
        raise ModelFileError(f"{path}: too short to be a safetensors file ({len(raw)} bytes)")
    (header_size,) = struct.unpack("<Q", raw[:8])
    if header_size > MAX_HEADER_BYTES or 8 + header_size > len(raw):
        _refuse_foreign_formats(raw, path)
    if header_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: header of {header_size} bytes is larger than the {MAX_HEADER_BYTES} allowed"
        )
    if 8 + header_size > len(raw):
        raise ModelFileError(
            f"{path}: truncated (the header says {header_size} bytes, the file has {len(raw) - 8})"
        )
    try:
        header = json.loads(raw[8 : 8 + header_size])
        tensors = load_safetensors(raw)
    except (SafetensorError, ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path}: not a valid safetensors file ({error})") from None
    try:
        document = json.loads(header.get("__metadata__", {})[METADATA_KEY])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: no chainrule metadata; not a chainrule model file") from None
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model format version "
            f"{document.get('format_version') if isinstance(document, dict) else '?'} "
            f"(this chainrule reads version {FORMAT_VERSION})"
        )
    return tensors, document


def _refuse_foreign_formats(raw: bytes, path: Path) -> None:
    """Name the formats people mistake for model files, never opening them."""
    if raw[0] == 0x80 and raw[1] in (2, 3, 4, 5):
        raise ModelFileError(
            f"{path}: this is a Python pickle; chainrule never unpickles (unpickling can run code)"
        )
    if raw[:4] == b"PK\x03\x04":
        raise ModelFileError(
            f"{path}: this is a zip archive (such as a PyTorch .pt file, which holds pickles); "
            "chainrule reads only safetensors files"
        )


def _architecture(document: dict[str, Any], path: Path) -> dict[str, Any]:
    arch = document.get("architecture")
    if not isinstance(arch, dict) or arch.get("type") != "MLP":
        raise ModelFileError(
            f"{path}: unknown architecture {arch.get('type') if isinstance(arch, dict) else arch!r}"
        )
    sizes, activations = arch.get("sizes"), arch.get("activation")
    if not (
        isinstance(sizes, list) and len(sizes) >= 2 and all(type(s) is int and s > 0 for s in sizes)
    ):
        raise ModelFileError(f"{path}: invalid layer sizes {sizes!r}")
    if not (isinstance(activations, list) and len(activations) == len(sizes) - 2):
        raise ModelFileError(f"{path}: invalid activation list {activations!r}")
    for name in activations:
        if name not in ACTIVATIONS:
            raise ModelFileError(f"{path}: unknown activation {name!r}")
    if arch.get("output") not in OUTPUTS:
        raise ModelFileError(f"{path}: unknown output layer {arch.get('output')!r}")
    if arch.get("dtype") not in _DTYPES:
        raise ModelFileError(f"{path}: unsupported dtype {arch.get('dtype')!r}")
    dropout = arch.get("dropout", 0.0)
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ModelFileError(f"{path}: invalid dropout {dropout!r}")
    return arch


def load(path: str | os.PathLike) -> MLP:
    """Read a model written by :func:`save`; the ``info`` document is on ``model.info``."""
    path = Path(path)
    tensors, document = read_file(path)
    arch = _architecture(document, path)
    model = MLP(
        arch["sizes"],
        arch["activation"],
        arch["output"],
        arch.get("dropout", 0.0),
        dtype=arch["dtype"],
    )
    preprocessing = _preprocessing(tensors, arch["sizes"][0], path)
    load_weights_into(model, tensors, path)
    info = document.get("info", {})
    if not isinstance(info, dict):
        raise ModelFileError(f"{path}: the info section must be a JSON object")
    model.info = info
    model.preprocessing = preprocessing
    return model


def _preprocessing(
    tensors: dict[str, np.ndarray], n_features: int, path: Path
) -> dict[str, np.ndarray]:
    """Take the preprocessing arrays out of ``tensors``, checking name, shape, values."""
    found = {}
    for key in [k for k in tensors if k.startswith(PREPROCESSING_PREFIX)]:
        name = key[len(PREPROCESSING_PREFIX) :]
        array = tensors.pop(key)
        if name not in PREPROCESSING:
            raise ModelFileError(f"{path}: unknown preprocessing tensor '{key}'")
        if array.shape != (n_features,) or array.dtype != np.float64:
            raise ModelFileError(
                f"{path}: tensor '{key}' is {array.dtype}{list(array.shape)}, "
                f"expected float64[{n_features}]"
            )
        if not np.all(np.isfinite(array)) or (name == "input_scale" and np.any(array <= 0)):
            raise ModelFileError(f"{path}: tensor '{key}' holds invalid values")
        found[name] = array
    return found


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
            f"(missing {missing}, unexpected {unexpected})"
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
    """Load the parameters saved by :func:`save_weights` into ``model``."""
    tensors, _ = read_file(path)
    load_weights_into(model, tensors, path)

"""A corpus of hostile model files (issue 16, section 3), generated rather than committed.

Each case starts from a model file chainrule itself writes (a small table model) and breaks
one thing: the file (special files, truncation, sparse giants), the safetensors header
(length, JSON, tensor entries and offsets) or chainrule's metadata (architecture, info,
numbers).  Every case must be refused by ``cr.load``, ``TabularModel.load`` and the commands
``inspect``, ``predict`` and ``export`` with one line naming the file; ``says`` is a regular
expression the message must match, so each case shows which check refused it.

Run as a script to write the corpus into a folder::

    python -m tests.trust.hostile_models FOLDER
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.nn import MLP
from chainrule.tabular import TabularModel

DTYPE_NAMES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


@dataclass(frozen=True)
class Case:
    """One hostile file: ``make(path)`` creates it; the refusal must match ``says``.
    ``huge`` cases declare more than memory holds (a sparse file): run them only under a
    memory limit."""

    name: str
    make: Callable[[Path], None]
    says: str
    huge: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.safetensors"


# A model to break -------------------------------------------------------------------------
def table_model(task: str = "classify") -> TabularModel:
    """A small table model as ``chainrule train`` would write it (weights from a seed)."""
    width = 3 if task == "classify" else 1
    output = "softmax" if task == "classify" else "identity"
    network = MLP([4, 8, width], activation="tanh", output=output, seed=0)
    return TabularModel(
        network=network,
        task=task,
        feature_names=["f0", "f1", "f2", "f3"],
        classes=["a", "b", "c"] if task == "classify" else None,
        target_name="y",
        input_mean=np.array([0.5, -1.0, 2.0, 0.0]),
        input_scale=np.array([1.0, 2.0, 0.5, 3.0]),
        target_mean=0.0 if task == "classify" else 1.5,
        target_scale=1.0 if task == "classify" else 2.0,
        summary={"epochs_run": 3, "final": {"loss": 0.5}},
    )


def model_parts(task: str = "classify") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors and the JSON document of the file chainrule writes for ``table_model``,
    read back with a plain parser (this module trusts nothing of chainrule's reader)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        table_model(task).save(path)
        raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    data = raw[8 + size :]
    document = json.loads(header.pop("__metadata__")["chainrule"])
    names = {"F32": np.float32, "F64": np.float64}
    tensors = {
        name: np.frombuffer(
            data[entry["data_offsets"][0] : entry["data_offsets"][1]], names[entry["dtype"]]
        ).reshape(entry["shape"])
        for name, entry in header.items()
    }
    return tensors, document


def encode(
    tensors: dict[str, np.ndarray], document_text: str | None
) -> tuple[dict[str, Any], bytes]:
    """A safetensors header (as a dict) and data section for ``tensors``, in name order,
    with ``document_text`` as the chainrule metadata (none if None)."""
    header: dict[str, Any] = {}
    if document_text is not None:
        header["__metadata__"] = {"chainrule": document_text}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": DTYPE_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    return header, b"".join(chunks)


def pack(header_text: str | bytes, data: bytes) -> bytes:
    """A file: the header's length, the header, the data."""
    raw = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(raw)) + raw + data


def build(
    document: Callable[[dict[str, Any]], Any] | None = None,
    tensors: Callable[[dict[str, np.ndarray]], None] | None = None,
    header: Callable[[dict[str, Any]], None] | None = None,
    document_text: Callable[[str], str] | None = None,
    header_text: Callable[[str], str | bytes] | None = None,
    task: str = "classify",
) -> bytes:
    """The model file with one thing changed, at the level each argument names: the parsed
    document, the tensors, the parsed header, the document's or the header's JSON text."""
    found, doc = model_parts(task)
    arrays = {name: np.array(value) for name, value in found.items()}
    if tensors:
        tensors(arrays)
    if document:
        doc = document(doc) or doc
    text = json.dumps(doc)
    if document_text:
        text = document_text(text)
    entries, data = encode(arrays, text)
    if header:
        header(entries)
    raw: str | bytes = json.dumps(entries)
    if header_text:
        raw = header_text(raw)
    return pack(raw, data)


# Kinds of case ----------------------------------------------------------------------------
def file_bytes(make_bytes: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(make_bytes())


def arch(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["architecture"].update(changes)


def info(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["info"].update(changes)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def special(kind: str) -> Callable[[Path], None]:
    """Files that are not regular files.  Devices are made privately here (as root), never
    the machine's own /dev nodes."""

    def make(path: Path) -> None:
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "folder":
            path.mkdir()
        elif kind == "symlink_to_fifo":
            target = path.with_name(path.name + ".fifo")
            os.mkfifo(target)
            path.symlink_to(target.name)
        else:
            minor = {"null": 3, "zero": 5}[kind]
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))

    return make


def sparse_giant(path: Path) -> None:
    """A consistent header for sizes [4, 100000, 100000, 3] (float32: 40 GB of tensors) over
    a sparse file of that length: every declared byte exists, none is on disk."""
    sizes = [4, 100_000, 100_000, 3]
    _, doc = model_parts()
    doc["architecture"].update(sizes=sizes, activation=["tanh", "tanh"])
    doc["info"]["classes"] = ["a", "b", "c"]
    entries: dict[str, Any] = {"__metadata__": {"chainrule": json.dumps(doc)}}
    offset = 0
    shapes = {"preprocessing.input_mean": (4,), "preprocessing.input_scale": (4,)}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        shapes[f"layers.{2 * i}.U"] = (n_in, n_out)
        shapes[f"layers.{2 * i}.b"] = (n_out,)
    for name, shape in shapes.items():
        dtype = "F64" if name.startswith("preprocessing") else "F32"
        size = int(np.prod(shape)) * (8 if dtype == "F64" else 4)
        entries[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = pack(json.dumps(entries), b"")
    with path.open("wb") as handle:
        handle.write(raw)
        handle.truncate(len(raw) + offset)


def _set_weight(value: float, dtype: str = "float32") -> Callable[[dict[str, np.ndarray]], None]:
    def mutate(tensors: dict[str, np.ndarray]) -> None:
        tensors["layers.0.U"] = np.full_like(tensors["layers.0.U"], value, dtype=dtype)

    return mutate


def _float64_model(tensors: dict[str, np.ndarray]) -> None:
    for name in [n for n in tensors if n.startswith("layers")]:
        tensors[name] = tensors[name].astype(np.float64)


def _huge_float64_weights(tensors: dict[str, np.ndarray]) -> None:
    _float64_model(tensors)
    tensors["layers.0.U"] = np.full_like(tensors["layers.0.U"], 1e308)


def _entry(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda header: header[name].update(changes)


def _many_tensors(header: dict[str, Any]) -> None:
    end = max(entry["data_offsets"][1] for k, entry in header.items() if k != "__metadata__")
    for i in range(5000):
        header[f"empty.{i}"] = {"dtype": "F32", "shape": [0], "data_offsets": [end, end]}


def _duplicate_tensor(text: str) -> str:
    entry = '"layers.0.b": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}'
    return text[:-1] + ", " + entry + "}"


def _set_scaling(value: Any) -> Callable[[dict[str, Any]], None]:
    return info(target_scaling=value)


def _number_literal(key: str, literal: str) -> Callable[[str], str]:
    """The document with ``"key": 12345`` replaced by a raw literal (json.dumps cannot
    write 10**400 as JSON that parses back as the same int, nor NaN as a bare token)."""
    return lambda text: text.replace(f'"{key}": 12345', f'"{key}": {literal}')


def _marked_scaling(field: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["info"]["target_scaling"][field] = 12345

    return mutate


def _marked_info(doc: dict[str, Any]) -> None:
    doc["info"]["training"]["samples"] = 12345


def _doc_and_text(
    mutate: Callable[[dict[str, Any]], None], text: Callable[[str], str], task: str = "classify"
) -> Callable[[Path], None]:
    return file_bytes(lambda: build(document=mutate, document_text=text, task=task))


def _truncated(cut: int) -> Callable[[], bytes]:
    return lambda: build()[:cut]


def _header_length(length: int) -> Callable[[], bytes]:
    def make() -> bytes:
        good = build()
        return struct.pack("<Q", length) + good[8:]

    return make


CASES: list[Case] = [
    # The file itself.
    Case("empty", file_bytes(lambda: b""), "too short"),
    Case("five_bytes", file_bytes(lambda: b"\x05\x00\x00\x00\x00"), "too short"),
    Case("csv_text", file_bytes(lambda: b"a,b,c,y\n1,2,3,x\n"), "not a chainrule model file.*text"),
    Case("pickle", file_bytes(lambda: b"\x80\x04\x95" + b"\x00" * 40), "pickle"),
    Case("zip", file_bytes(lambda: b"PK\x03\x04" + b"\x00" * 40), "zip archive"),
    Case("fifo", special("fifo"), "FIFO"),
    Case("symlink_to_fifo", special("symlink_to_fifo"), "FIFO"),
    Case("zero_device", special("zero"), "character device"),
    Case("null_device", special("null"), "character device"),
    Case("folder", special("folder"), "folder"),
    Case("truncated_data", file_bytes(_truncated(-10)), "declare .* bytes of data.*truncated"),
    Case("truncated_header", file_bytes(_truncated(40)), "truncated or not a model file"),
    Case("sparse_40_gb", sparse_giant, "do not fit in memory", huge=True),
    # The header's length.
    Case("header_length_2_63", file_bytes(_header_length(2**63)), "larger than the"),
    Case("header_length_past_end", file_bytes(_header_length(10**6)), "truncated or not"),
    Case("header_length_zero", file_bytes(_header_length(0)), "not valid JSON"),
    Case("header_length_short", file_bytes(_header_length(20)), "not valid JSON"),
    # The header's JSON.
    Case("header_not_utf8", file_bytes(lambda: pack(b'{"\xff\xfe": 1}', b"")), "not UTF-8"),
    Case("header_not_json", file_bytes(lambda: pack("nope!", b"")), "not valid JSON"),
    Case("header_is_a_list", file_bytes(lambda: pack("[]", b"")), "not a JSON object"),
    Case(
        "header_nested_100000",
        file_bytes(lambda: pack('{"x": ' + deep_text(100_000) + "}", b"")),
        "nests more than 64 levels",
    ),
    Case(
        "header_duplicate_tensor",
        file_bytes(lambda: build(header_text=_duplicate_tensor)),
        "key 'layers.0.b' twice",
    ),
    Case(
        "header_nan_literal",
        file_bytes(lambda: build(header_text=lambda t: t.replace("[0, ", "[NaN, ", 1))),
        "holds NaN",
    ),
    Case(
        "metadata_not_strings",
        file_bytes(lambda: build(header=lambda h: h.update(__metadata__={"chainrule": {}}))),
        "__metadata__ is not a map of strings",
    ),
    Case(
        "metadata_missing",
        file_bytes(lambda: build(header=lambda h: h.pop("__metadata__"))),
        "no chainrule metadata",
    ),
    # Tensor entries.
    Case(
        "dtype_unknown",
        file_bytes(lambda: build(header=_entry("layers.0.b", dtype="F8_E4M3"))),
        "unknown dtype 'F8_E4M3'",
    ),
    Case(
        "dtype_a_list",
        file_bytes(lambda: build(header=_entry("layers.0.b", dtype=["F32"]))),
        r"unknown dtype \['F32'\]",
    ),
    Case(
        "dtype_int64_weights",
        file_bytes(
            lambda: build(tensors=lambda t: t.update({"layers.0.b": np.zeros(8, np.int64)}))
        ),
        r"'layers.0.b' is int64\[8\], the architecture needs float32\[8\]",
    ),
    Case(
        "shape_negative",
        file_bytes(lambda: build(header=_entry("layers.0.b", shape=[-8]))),
        "invalid shape",
    ),
    Case(
        "shape_bool",
        file_bytes(lambda: build(header=_entry("layers.0.b", shape=[True, 8]))),
        "invalid shape",
    ),
    Case(
        "shape_nine_dimensions",
        file_bytes(lambda: build(header=_entry("layers.0.b", shape=[1] * 8 + [8]))),
        "invalid shape",
    ),
    Case(
        "shape_zero",
        file_bytes(
            lambda: build(tensors=lambda t: t.update({"layers.0.b": np.zeros(0, np.float32)}))
        ),
        r"'layers.0.b' is float32\[0\], the architecture needs float32\[8\]",
    ),
    Case(
        "shape_larger_than_its_bytes",
        file_bytes(lambda: build(header=_entry("layers.0.b", shape=[9]))),
        "36 bytes, but its data_offsets span 32",
    ),
    Case(
        "offsets_overlap",
        file_bytes(lambda: build(header=_entry("layers.0.b", data_offsets=[0, 32]))),
        "overlaps",
    ),
    Case(
        "offsets_past_the_end",
        file_bytes(
            lambda: build(
                header=_entry("preprocessing.input_scale", data_offsets=[10**9, 10**9 + 32])
            )
        ),
        "leaves a gap",
    ),
    Case(
        "offsets_reversed",
        file_bytes(lambda: build(header=_entry("layers.0.b", data_offsets=[32, 0]))),
        "invalid data_offsets",
    ),
    Case(
        "offsets_negative",
        file_bytes(lambda: build(header=_entry("layers.0.b", data_offsets=[-32, 0]))),
        "invalid data_offsets",
    ),
    Case(
        "offsets_huge_numbers",
        file_bytes(lambda: build(header=_entry("layers.0.b", data_offsets=[0, 10**30]))),
        "data_offsets span",
    ),
    Case(
        "entry_with_an_extra_key",
        file_bytes(lambda: build(header=_entry("layers.0.b", evil="os.system"))),
        "not described by dtype, shape and data_offsets",
    ),
    Case(
        "tensors_5000_empty",
        file_bytes(lambda: build(header=_many_tensors)),
        r"\d+ tensors \(at most 4096\)",
    ),
    Case(
        "tensor_missing",
        file_bytes(lambda: build(tensors=lambda t: t.pop("layers.2.b"))),
        r"missing \['layers.2.b'\]",
    ),
    Case(
        "tensor_extra",
        file_bytes(lambda: build(tensors=lambda t: t.update({"payload": np.zeros(3, np.float32)}))),
        r"unexpected \['payload'\]",
    ),
    # The document's JSON.
    Case(
        "document_nested_100000",
        file_bytes(
            lambda: build(document_text=lambda t: t[:-1] + ', "x": ' + deep_text(100_000) + "}")
        ),
        "nests more than 64 levels",
    ),
    Case(
        "info_nested_900",
        file_bytes(lambda: build(document=info(notes=nested(900)))),
        "nests more than 64 levels",
    ),
    Case(
        "document_duplicate_key",
        file_bytes(lambda: build(document_text=lambda t: t[:-1] + ', "architecture": {}}')),
        "key 'architecture' twice",
    ),
    Case(
        "document_not_json",
        file_bytes(lambda: build(document_text=lambda t: "{not json")),
        "chainrule metadata is not valid JSON",
    ),
    Case("document_a_list", file_bytes(lambda: build(document=lambda d: [d])), "format version"),
    Case(
        "format_version_true",
        file_bytes(lambda: build(document=lambda d: d.update(format_version=True))),
        "format version True",
    ),
    Case(
        "format_version_2",
        file_bytes(lambda: build(document=lambda d: d.update(format_version=2))),
        "format version 2",
    ),
    Case(
        "integer_of_5000_digits",
        _doc_and_text(_marked_info, _number_literal("samples", "9" * 5000)),
        "number of 5000 characters",
    ),
    Case(
        "string_of_100000_characters",
        file_bytes(lambda: build(document=info(notes="x" * 100_000))),
        "string of 100000 bytes as written",
    ),
    # The architecture.
    Case(
        "architecture_unknown",
        file_bytes(lambda: build(document=arch(type="Transformer"))),
        "unknown architecture",
    ),
    Case(
        "architecture_a_list",
        file_bytes(lambda: build(document=lambda d: d.update(architecture=["MLP"]))),
        "unknown architecture",
    ),
    Case(
        "activation_a_list",
        file_bytes(lambda: build(document=arch(activation=[["tanh"]]))),
        "unknown activation",
    ),
    Case(
        "activation_a_dict",
        file_bytes(lambda: build(document=arch(activation=[{"a": 1}]))),
        "unknown activation",
    ),
    Case(
        "activation_code",
        file_bytes(lambda: build(document=arch(activation=["os.system"]))),
        "unknown activation",
    ),
    Case(
        "activation_missing",
        file_bytes(lambda: build(document=arch(activation=[]))),
        "invalid activation list",
    ),
    Case(
        "output_a_list",
        file_bytes(lambda: build(document=arch(output=["softmax"]))),
        "unknown output",
    ),
    Case(
        "dtype_a_dict",
        file_bytes(lambda: build(document=arch(dtype={"f": 32}))),
        "unsupported dtype",
    ),
    Case(
        "dtype_float16",
        file_bytes(lambda: build(document=arch(dtype="float16"))),
        "unsupported dtype",
    ),
    Case("dropout_true", file_bytes(lambda: build(document=arch(dropout=True))), "invalid dropout"),
    Case(
        "dropout_text", file_bytes(lambda: build(document=arch(dropout="0.1"))), "invalid dropout"
    ),
    Case("dropout_one", file_bytes(lambda: build(document=arch(dropout=1.0))), "invalid dropout"),
    Case(
        "dropout_nan",
        file_bytes(
            lambda: build(
                document=arch(dropout=12345), document_text=lambda t: t.replace("12345", "NaN")
            )
        ),
        "invalid dropout",
    ),
    Case(
        "sizes_10_30",
        file_bytes(lambda: build(document=arch(sizes=[4, 10**30, 3]))),
        "invalid layer sizes",
    ),
    Case(
        "sizes_100000_wide",
        file_bytes(
            lambda: build(
                document=arch(sizes=[4, 100_000, 100_000, 3], activation=["tanh", "tanh"])
            )
        ),
        "tensors do not match the architecture",
    ),
    Case(
        "sizes_20000_wide",
        file_bytes(
            lambda: build(document=arch(sizes=[4, 20_000, 20_000, 3], activation=["tanh", "tanh"]))
        ),
        "tensors do not match the architecture",
    ),
    Case(
        "hidden_layers_20000",
        file_bytes(
            lambda: build(
                document=arch(sizes=[4] + [8] * 20_000 + [3], activation=["tanh"] * 20_000)
            )
        ),
        r"invalid layer sizes .*\.\.\. \(20002 of them\)",
    ),
    Case(
        "hidden_layers_900",
        file_bytes(
            lambda: build(document=arch(sizes=[4] + [8] * 900 + [3], activation=["tanh"] * 900))
        ),
        "tensors do not match the architecture",
    ),
    Case(
        "sizes_bool",
        file_bytes(lambda: build(document=arch(sizes=[4, True, 3]))),
        "invalid layer sizes",
    ),
    Case(
        "sizes_float",
        file_bytes(lambda: build(document=arch(sizes=[4.0, 8, 3]))),
        "invalid layer sizes",
    ),
    Case(
        "sizes_text", file_bytes(lambda: build(document=arch(sizes="4-8-3"))), "invalid layer sizes"
    ),
    Case(
        "sizes_zero",
        file_bytes(lambda: build(document=arch(sizes=[4, 0, 3]))),
        "invalid layer sizes",
    ),
    # The weights.
    Case("weights_nan", file_bytes(lambda: build(tensors=_set_weight(np.nan))), "NaN or inf"),
    Case("weights_inf", file_bytes(lambda: build(tensors=_set_weight(-np.inf))), "NaN or inf"),
    Case(
        "weights_3e38",
        file_bytes(lambda: build(tensors=_set_weight(3e38))),
        "too large for float32",
    ),
    Case(
        "weights_1e308_float64",
        file_bytes(lambda: build(document=arch(dtype="float64"), tensors=_huge_float64_weights)),
        "too large for float64",
    ),
    Case(
        "input_scale_zero",
        file_bytes(
            lambda: build(tensors=lambda t: t.update({"preprocessing.input_scale": np.zeros(4)}))
        ),
        "input_scale' holds invalid values",
    ),
    Case(
        "input_mean_nan",
        file_bytes(
            lambda: build(
                tensors=lambda t: t.update({"preprocessing.input_mean": np.full(4, np.nan)})
            )
        ),
        "input_mean' holds invalid values",
    ),
    Case(
        "input_mean_float32",
        file_bytes(
            lambda: build(
                tensors=lambda t: t.update({"preprocessing.input_mean": np.zeros(4, np.float32)})
            )
        ),
        "needs float64",
    ),
    Case(
        "input_mean_wrong_length",
        file_bytes(
            lambda: build(tensors=lambda t: t.update({"preprocessing.input_mean": np.zeros(5)}))
        ),
        r"needs float64\[4\]",
    ),
    # The table model's info.
    Case(
        "info_a_list",
        file_bytes(lambda: build(document=lambda d: d.update(info=[1]))),
        "info section",
    ),
    Case(
        "task_a_list",
        file_bytes(lambda: build(document=info(task=["classify"]))),
        "not a table model",
    ),
    Case(
        "task_unknown",
        file_bytes(lambda: build(document=info(task="cluster"))),
        "not a table model",
    ),
    Case(
        "feature_names_too_few",
        file_bytes(lambda: build(document=info(feature_names=["a"]))),
        "feature names",
    ),
    Case(
        "feature_names_numbers",
        file_bytes(lambda: build(document=info(feature_names=[1, 2, 3, 4]))),
        "feature names",
    ),
    Case(
        "classes_too_many",
        file_bytes(lambda: build(document=info(classes=["a", "b", "c", "d"]))),
        "class labels",
    ),
    Case(
        "classes_objects",
        file_bytes(lambda: build(document=info(classes=[{}, [], "c"]))),
        "class labels",
    ),
    Case(
        "classes_bool",
        file_bytes(lambda: build(document=info(classes=[True, False, "c"]))),
        "class labels",
    ),
    Case(
        "classes_twice",
        file_bytes(lambda: build(document=info(classes=["a", "a", "b"]))),
        "appears twice",
    ),
    Case(
        "classes_infinite",
        _doc_and_text(info(classes=["a", "b", 12345]), lambda t: t.replace("12345", "Infinity")),
        "class labels",
    ),
    Case(
        "target_scaling_10_400",
        _doc_and_text(
            _marked_scaling("scale"), _number_literal("scale", "1" + "0" * 400), "regress"
        ),
        "number of 401 characters",
    ),
    Case(
        "target_scaling_1e400",
        _doc_and_text(_marked_scaling("scale"), _number_literal("scale", "1e400"), "regress"),
        "invalid target scaling",
    ),
    Case(
        "target_scaling_nan",
        _doc_and_text(_marked_scaling("mean"), _number_literal("mean", "NaN"), "regress"),
        "invalid target scaling",
    ),
    Case(
        "target_scaling_infinity",
        _doc_and_text(_marked_scaling("scale"), _number_literal("scale", "-Infinity"), "regress"),
        "invalid target scaling",
    ),
    Case(
        "target_scale_zero",
        file_bytes(
            lambda: build(document=_set_scaling({"mean": 0.0, "scale": 0.0}), task="regress")
        ),
        "invalid target scaling",
    ),
    Case(
        "target_scaling_text",
        file_bytes(
            lambda: build(document=_set_scaling({"mean": "0", "scale": "1"}), task="regress")
        ),
        "invalid target scaling",
    ),
    Case(
        "target_scaling_a_list",
        file_bytes(lambda: build(document=_set_scaling([0.0, 1.0]), task="regress")),
        "invalid target scaling",
    ),
]


def write_corpus(folder: str | os.PathLike, cases: list[Case] | None = None) -> dict[str, Path]:
    """Create each case's file in ``folder``; name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES if cases is None else cases:
        path = folder / case.filename
        case.make(path)
        paths[case.name] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.trust.hostile_models FOLDER", file=sys.stderr)
        return 2
    for name, path in write_corpus(args[0]).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Files: safe model files (safetensors + JSON, never pickle), ONNX export, and atomic
writes.  Data files (CSV, Parquet) are read by :mod:`chainrule.data`."""

from .files import check_not_an_input, check_writable, open_atomic, write_atomic
from .model_file import ModelFileError, load, load_weights, read_file, save, save_weights
from .onnx_export import Exportable, ExportSpec, export_onnx

__all__ = [
    "ExportSpec",
    "Exportable",
    "ModelFileError",
    "check_not_an_input",
    "check_writable",
    "export_onnx",
    "load",
    "load_weights",
    "open_atomic",
    "read_file",
    "save",
    "save_weights",
    "write_atomic",
]

"""Safe model files (safetensors + JSON, never pickle) and atomic writes."""

from .files import write_atomic
from .model_file import ModelFileError, load, load_weights, read_file, save, save_weights

__all__ = [
    "ModelFileError",
    "load",
    "load_weights",
    "read_file",
    "save",
    "save_weights",
    "write_atomic",
]

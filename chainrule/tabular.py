"""A network for a table of numbers: the MLP together with what it needs to be used on raw
data — the task, the class labels in their original type, the feature names, the input
standardisation and (for regression) the target scaling — saved in one model file.

This is what the command line trains, evaluates, inspects, exports and predicts with;
evaluation and prediction work on arrays or, chunk by chunk, on CSV files.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ._version import __version__
from .evaluation import EvaluationReport, classification_report, regression_report
from .io import ExportSpec, ModelFileError, open_atomic
from .io import load as load_network
from .io import save as save_network
from .io.csv_table import Chunk, iter_chunks, read_header, read_table, resolve_columns
from .io.safetensors_reader import short
from .nn import MLP
from .optim import SGD, Adam
from .training import EarlyStopping, History, fit
from .training.data import DataError

TASKS = ("classify", "regress")
OPTIMIZERS = ("sgd", "adam")  # SGD with Nesterov momentum 0.9, or Adam
MAX_CLASSES_GUESSED = 20


def encode_labels(raw: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted class labels in their natural type (int, float or str) and each row's index.
    Text that reads as whole numbers becomes ints, so "1" and "1.0" are one class."""
    values = np.asarray(raw)
    if values.dtype.kind in "iub":
        classes, index = np.unique(values, return_inverse=True)
        return [int(c) for c in classes], index
    if values.dtype.kind == "f":
        numbers = values
    else:
        try:
            numbers = values.astype(np.float64)
        except ValueError:
            classes, index = np.unique(values.astype(str), return_inverse=True)
            return [str(c) for c in classes], index
    if np.all(numbers == np.round(numbers)):
        classes, index = np.unique(numbers.astype(np.int64), return_inverse=True)
        return [int(c) for c in classes], index
    classes, index = np.unique(numbers, return_inverse=True)
    return [float(c) for c in classes], index


def guess_task(raw: np.ndarray) -> str:
    """classify for text or for few whole-number values; regress otherwise."""
    values = np.asarray(raw)
    if values.dtype.kind in "US":
        try:
            values = values.astype(np.float64)
        except ValueError:
            return "classify"
    if values.dtype.kind in "iub":
        return "classify" if len(np.unique(values)) <= MAX_CLASSES_GUESSED else "regress"
    whole = np.all(values == np.round(values))
    return "classify" if whole and len(np.unique(values)) <= MAX_CLASSES_GUESSED else "regress"


@dataclass
class TrainOptions:
    """How to train: the command line's options, with its defaults."""

    hidden: Sequence[int] = (64,)
    activation: str | Sequence[str] = "relu"
    output: str | None = None
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    epochs: int = 50
    batch_size: int = 32
    validation_split: float = 0.2
    early_stopping: bool = False
    patience: int = 10
    seed: int = 0
    standardize: bool = True
    verbose: int = 1


@dataclass
class TabularModel:
    network: MLP
    task: str
    feature_names: list[str]
    classes: list[Any] | None = None
    target_name: str | None = None
    input_mean: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    target_mean: float = 0.0
    target_scale: float = 1.0
    summary: dict[str, Any] = field(default_factory=dict)

    # Training -----------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        X: np.ndarray,
        y_raw: np.ndarray,
        feature_names: Sequence[str],
        target_name: str | None = None,
        task: str | None = None,
        options: TrainOptions | None = None,
    ) -> tuple[TabularModel, History]:
        options = options or TrainOptions()
        X = np.asarray(X, dtype=np.float64)
        task = task or guess_task(y_raw)
        if task not in TASKS:
            raise ValueError(f"unknown task '{task}'; choose classify or regress")
        model = cls(
            network=None, task=task, feature_names=list(feature_names), target_name=target_name
        )  # type: ignore[arg-type]
        if options.standardize:
            mean, scale = X.mean(axis=0), X.std(axis=0)
            model.input_mean, model.input_scale = mean, np.where(scale > 0, scale, 1.0)
        y, width, output, loss = model._targets_and_head(y_raw, options)
        sizes = [X.shape[1], *options.hidden, width]
        model.network = MLP(sizes, options.activation, output, seed=options.seed)
        params = model.network.parameters()
        if options.optimizer == "sgd":
            optimizer = SGD(params, lr=options.lr or 0.01, momentum=0.9, nesterov=True)
        elif options.optimizer == "adam":
            optimizer = Adam(params, lr=options.lr or 1e-3)
        else:
            raise ValueError(
                f"unknown optimizer '{options.optimizer}'; choose {' or '.join(OPTIMIZERS)}"
            )
        callbacks = []
        if options.early_stopping:
            if not options.validation_split:
                raise ValueError("--early-stopping needs a validation split above 0")
            callbacks.append(EarlyStopping(patience=options.patience))
        metrics = ["accuracy"] if task == "classify" else ["r2"]
        started = time.perf_counter()
        history = fit(
            model.network, loss, optimizer, model.scale_inputs(X), y,
            epochs=options.epochs, batch_size=options.batch_size,
            validation_split=options.validation_split, callbacks=callbacks,
            metrics=metrics, verbose=options.verbose, seed=options.seed,
        )  # fmt: skip
        model.summary = {
            "chainrule_version": __version__,
            "samples": len(X),
            "epochs_run": len(history.epochs),
            "seconds": round(time.perf_counter() - started, 3),
            "optimizer": options.optimizer,
            "learning_rate": optimizer.initial_lr,
            "batch_size": options.batch_size,
            "loss": loss,
            "seed": options.seed,
            "validation_split": options.validation_split,
            "stopped_early": history.stopped_early,
            "final": {k: v[-1] for k, v in history.history.items()},
        }
        return model, history

    def _targets_and_head(self, y_raw: np.ndarray, options: TrainOptions):
        """Encoded targets, output width, output layer and loss for the task."""
        if self.task == "classify":
            self.classes, y = encode_labels(y_raw)
            if len(self.classes) < 2:
                raise DataError(
                    f"the target column has a single class ({self.classes[0]!r}); "
                    "classification needs at least two"
                )
            output = options.output or "softmax"
            if output == "sigmoid":
                if len(self.classes) != 2:
                    raise ValueError(
                        f"a sigmoid output fits two classes, not {len(self.classes)}; use softmax"
                    )
                return y.astype(np.float64), 1, output, options.loss or "binary_cross_entropy"
            return y, len(self.classes), output, options.loss or "cross_entropy"
        try:
            y = np.asarray(y_raw, dtype=np.float64)
        except ValueError:
            raise DataError("regression needs a numeric target column") from None
        output = options.output or "identity"
        if output != "identity":
            raise ValueError(f"regression uses an identity output, not {output}")
        self.target_mean, self.target_scale = float(y.mean()), float(y.std() or 1.0)
        return (y - self.target_mean) / self.target_scale, 1, output, options.loss or "mse"

    # Use ----------------------------------------------------------------------------------
    def scale_inputs(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise DataError(
                f"expected {len(self.feature_names)} feature columns, got data of shape {X.shape}"
            )
        if self.input_mean is None:
            return X
        return (X - self.input_mean) / self.input_scale

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) in the order of ``classes``."""
        if self.task != "classify":
            raise ValueError("probabilities exist for classification models only")
        out = self.network.predict(self.scale_inputs(X)).astype(np.float64)
        if self.network.output == "sigmoid":
            return np.hstack([1 - out, out])
        if self.network.output == "identity":  # logits
            e = np.exp(out - out.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (original type) or regression values."""
        if self.task == "classify":
            return np.asarray(self.classes, dtype=object)[self.predict_proba(X).argmax(axis=1)]
        out = self.network.predict(self.scale_inputs(X)).astype(np.float64)[:, 0]
        return out * self.target_scale + self.target_mean

    def class_indices(self, labels: np.ndarray) -> np.ndarray:
        """Each label's index in ``classes``, labels read as in training (so "1" and "1.0"
        are class 1); a DataError names the labels the model does not know."""
        known = {str(c): i for i, c in enumerate(self.classes or [])}
        found, index = encode_labels(labels)
        row_labels = [str(found[i]) for i in index]
        unknown = sorted(set(row_labels) - set(known))
        if unknown:
            raise DataError(f"labels the model does not know: {', '.join(unknown[:10])}")
        return np.array([known[label] for label in row_labels])

    # Evaluation ---------------------------------------------------------------------------
    def evaluate(self, X: np.ndarray, y_raw: np.ndarray) -> EvaluationReport:
        """Scores against the true targets ``y_raw``: class labels (as in the training
        data) or values.  See :mod:`chainrule.evaluation`."""
        if self.task == "classify":
            truth = self.class_indices(y_raw)
            predicted = self.predict_proba(X).argmax(axis=1)
            return classification_report(self.classes or [], truth, predicted)
        return regression_report(np.asarray(y_raw, dtype=np.float64), self.predict(X))

    def evaluate_csv(
        self, path: str | os.PathLike, target: str | None = None, drop_missing: bool = False
    ) -> EvaluationReport:
        """:meth:`evaluate` on a CSV file with the model's feature columns and the target
        column (by default the one the model was trained on)."""
        target = target or self.target_name
        if not target:
            raise ValueError("name the target column: the model does not name its target")
        table = read_table(path, target, self.feature_names, drop_missing=drop_missing)
        try:
            return self.evaluate(table.features, table.target)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None

    # Prediction of CSV files --------------------------------------------------------------
    def prediction_header(self, proba: bool = False) -> list[str]:
        """The columns :meth:`write_predictions` writes: prediction [, p_<class>...]."""
        return ["prediction"] + ([f"p_{c}" for c in self.classes or []] if proba else [])

    def predict_csv(
        self,
        source: str | os.PathLike,
        destination: str | os.PathLike,
        proba: bool = False,
        skip_missing: bool = False,
    ) -> int:
        """:meth:`write_predictions` into the file ``destination``, atomically: written
        beside it and renamed, so a failure anywhere leaves no file (or the old one)."""
        self._check_prediction_source(source, proba)
        with open_atomic(destination, "w", newline="", encoding="utf-8") as stream:
            return self._write_predictions(source, stream, proba, skip_missing)

    def write_predictions(
        self,
        source: str | os.PathLike,
        stream: TextIO,
        proba: bool = False,
        skip_missing: bool = False,
    ) -> int:
        """Predict every row of the CSV file ``source`` chunk by chunk (memory stays
        bounded) and write one CSV row per data row to ``stream``: the label or value,
        with ``proba`` one probability column per class.  ``source`` needs the model's
        feature columns and may hold its target column, which is ignored.  With
        ``skip_missing`` a row with a missing value gets empty cells instead of an error.
        The columns are checked before anything is written.  Returns the rows written."""
        self._check_prediction_source(source, proba)
        return self._write_predictions(source, stream, proba, skip_missing)

    def _ignored_columns(self) -> list[str]:
        """A file may still hold the column the model predicts: it is not read."""
        return [self.target_name] if self.target_name else []

    def _check_prediction_source(self, source: str | os.PathLike, proba: bool) -> None:
        if proba and self.task != "classify":
            raise ValueError("probabilities exist for classification models only")
        header = read_header(source)
        resolve_columns(Path(source), header, None, self.feature_names, self._ignored_columns())

    def _write_predictions(
        self, source: str | os.PathLike, stream: TextIO, proba: bool, skip_missing: bool
    ) -> int:
        header = self.prediction_header(proba)
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        chunks = iter_chunks(
            source,
            None,
            self.feature_names,
            allow_missing=skip_missing,
            ignore=self._ignored_columns(),
        )
        written = 0
        for _, chunk in chunks:
            rows = self._prediction_rows(chunk, len(header), proba)
            writer.writerows(rows)
            written += len(rows)
        return written

    def _prediction_rows(self, chunk: Chunk, width: int, proba: bool) -> list[list[Any]]:
        """One row per chunk row: the label as it is, probabilities to 6 significant digits,
        values to 8; empty cells for a row with a missing value."""
        rows = [[""] * width for _ in range(len(chunk.features))]
        keep = np.flatnonzero(~chunk.missing)
        if not len(keep):
            return rows
        features = chunk.features[keep]
        if self.task == "classify":
            probabilities = self.predict_proba(features)
            labels = np.asarray(self.classes, dtype=object)[probabilities.argmax(axis=1)]
            for row, label, p in zip(keep, labels, probabilities, strict=True):
                rows[row][0] = label
                if proba:
                    rows[row][1:] = [f"{v:.6g}" for v in p]
        else:
            for row, value in zip(keep, self.predict(features), strict=True):
                rows[row][0] = f"{value:.8g}"
        return rows

    # Export -------------------------------------------------------------------------------
    def export_spec(self) -> ExportSpec:
        """The network with the input standardisation and, for regression, the target
        scaling: what :func:`chainrule.io.export_onnx` writes for this model."""
        regress = self.task == "regress"
        return ExportSpec(
            self.network,
            input_mean=self.input_mean,
            input_scale=self.input_scale,
            target_mean=self.target_mean if regress else 0.0,
            target_scale=self.target_scale if regress else 1.0,
        )

    # Files --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        info = {
            "task": self.task,
            "feature_names": self.feature_names,
            "target_name": self.target_name,
            "classes": self.classes,
            "target_scaling": {"mean": self.target_mean, "scale": self.target_scale},
            "training": self.summary,
        }
        preprocessing = {}
        if self.input_mean is not None:
            preprocessing = {"input_mean": self.input_mean, "input_scale": self.input_scale}
        save_network(self.network, path, info=info, preprocessing=preprocessing)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TabularModel:
        """Read a model written by :meth:`save` (or ``chainrule train``); a ModelFileError
        naming the file for anything that is not one."""
        return cls.from_network(load_network(path), path)

    @classmethod
    def from_network(cls, network: MLP, path: str | os.PathLike) -> TabularModel:
        """The table model of a network read from the model file ``path`` by
        :func:`chainrule.io.load`: its ``info`` and ``preprocessing`` checked against it."""
        info = network.info
        task = info.get("task")
        names = info.get("feature_names")
        if task not in TASKS:
            raise ModelFileError(f"{path}: not a table model (task {short(task)})")
        if not (
            isinstance(names, list)
            and len(names) == network.sizes[0]
            and all(isinstance(n, str) for n in names)
        ):
            raise ModelFileError(
                f"{path}: feature names do not match the network's {network.sizes[0]} inputs"
            )
        classes = info.get("classes")
        if task == "classify":
            width = network.sizes[-1]
            expected = 2 if network.output == "sigmoid" else width
            if not (
                isinstance(classes, list)
                and len(classes) == expected
                and width == (1 if network.output == "sigmoid" else expected)
            ):
                raise ModelFileError(f"{path}: class labels do not match the network's outputs")
            if not all(
                type(c) in (str, int) or (type(c) is float and np.isfinite(c)) for c in classes
            ):
                raise ModelFileError(f"{path}: class labels must be strings or finite numbers")
            if len({str(c) for c in classes}) != len(classes):
                raise ModelFileError(f"{path}: a class label appears twice")
        target_mean, target_scale = _target_scaling(info.get("target_scaling"), path)
        summary = info.get("training")
        return cls(
            network=network,
            task=task,
            feature_names=names,
            classes=classes if task == "classify" else None,
            target_name=info.get("target_name")
            if isinstance(info.get("target_name"), str)
            else None,
            input_mean=network.preprocessing.get("input_mean"),
            input_scale=network.preprocessing.get("input_scale"),
            target_mean=target_mean,
            target_scale=target_scale,
            summary=summary if isinstance(summary, dict) else {},
        )


def _target_scaling(scaling: Any, path: str | os.PathLike) -> tuple[float, float]:
    """(mean, scale) of a file's target scaling: finite numbers, the scale above 0
    (a regression prediction is the network's output * scale + mean)."""
    if scaling is None:
        return 0.0, 1.0
    if not (isinstance(scaling, dict) and set(scaling) >= {"mean", "scale"}):
        raise ModelFileError(f"{path}: invalid target scaling: needs a mean and a scale")
    mean, scale = scaling["mean"], scaling["scale"]
    if not all(type(v) in (int, float) for v in (mean, scale)):
        raise ModelFileError(f"{path}: invalid target scaling: the mean and scale must be numbers")
    try:
        mean, scale = float(mean), float(scale)
    except OverflowError:
        raise ModelFileError(f"{path}: invalid target scaling: too large for a float") from None
    if not (np.isfinite(mean) and np.isfinite(scale) and scale > 0):
        raise ModelFileError(
            f"{path}: invalid target scaling (mean {mean}, scale {scale}): "
            "both must be finite and the scale above 0"
        )
    return mean, scale

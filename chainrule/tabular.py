"""A network for a table of numbers: the MLP together with what it needs to be used on raw
data — the task, the class labels in their original type, the feature names, the input
standardisation and (for regression) the target scaling — saved in one model file.

This is what the command line trains, evaluates, inspects, exports and predicts with;
evaluation and prediction work on arrays or, chunk by chunk, on CSV and Parquet files.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa

from ._version import __version__
from .data.errors import shown
from .data.frames import feature_matrix, frame_arrays, target_values
from .data.inputs import is_dataframe
from .data.moments import column_mean_and_std, standardised
from .data.tables import (
    Chunk,
    CsvError,
    DataFileError,
    check_columns_exist,
    iter_chunks,
    numbers_of,
    read_header,
    resolve_columns,
)
from .data.writers import TableWriter, output_format
from .distributed import Communicator, SingleProcess, global_labels, global_mean_and_std
from .evaluation import EvaluationReport, classification_report, regression_report
from .io import ExportSpec, ModelFileError, check_not_an_input, open_atomic
from .io import load as load_network
from .io import save as save_network
from .io.interrupts import deferred_interrupts
from .io.safetensors_reader import short
from .nn import MLP
from .nn.blas_threads import one_blas_thread
from .optim import SGD, Adam
from .training import EarlyStopping, History, fit
from .training.data import DataError
from .training.metrics import rmse_in_units

TASKS = ("classify", "regress")
OPTIMIZERS = ("sgd", "adam")  # SGD with Nesterov momentum 0.9, or Adam
MAX_CLASSES_GUESSED = 20
PREDICTION_ROWS = 1 << 16  # rows predicted at once when predicting a file


# a number as a program writes it: no sign but "-", no leading zero, no space, no "inf"
PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def label_numbers(raw: np.ndarray) -> np.ndarray | None:
    """The labels as float64 if they are numbers, else None (they are text).

    Labels keep their identity: text is read as numbers only when every label is a
    number written plainly ("1", "2.5", "-3", "1e3"), so "01", "007", "+1", " 1" and
    "nan" keep a column of labels as text, and " a" and "a " are two classes.  Numbers
    written plainly are read as numbers, so "1" and "1.0" are one class, 1."""
    values = np.asarray(raw)
    if values.dtype.kind in "iubf":
        return values.astype(np.float64)
    texts = values.astype(object).reshape(-1)
    if not all(isinstance(t, str) and PLAIN_NUMBER.fullmatch(t) for t in texts):
        return None
    return np.array([float(t) for t in texts], dtype=np.float64)


def encode_labels(raw: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted class labels in their natural type (int, float or str) and each row's index.
    Numbers that are whole become ints, so "1" and "1.0" are one class; labels that are
    not all numbers written plainly stay text, exactly as read (see :func:`label_numbers`)."""
    values = np.asarray(raw)
    if values.dtype.kind in "iub":
        classes, index = np.unique(values, return_inverse=True)
        return [int(c) for c in classes], index
    numbers = label_numbers(values)
    if numbers is None:
        classes, index = np.unique(values.astype(object).reshape(-1), return_inverse=True)
        return [str(c) for c in classes], index.reshape(-1)
    if np.all(numbers == np.round(numbers)):
        classes, index = np.unique(numbers.astype(np.int64), return_inverse=True)
        return [int(c) for c in classes], index
    classes, index = np.unique(numbers, return_inverse=True)
    return [float(c) for c in classes], index


def _label_shown(label: Any) -> str:
    """A label for a message: its repr, a long text cut short."""
    return repr(label) if len(str(label)) <= 60 else repr(shown(label))


def guess_task(raw: np.ndarray) -> str:
    """classify for text or for few whole-number values; regress otherwise."""
    values = np.asarray(raw)
    if values.dtype.kind not in "iubf":
        values = label_numbers(values)
        if values is None:
            return "classify"
    if values.dtype.kind in "iub":
        return "classify" if len(np.unique(values)) <= MAX_CLASSES_GUESSED else "regress"
    whole = np.all(values == np.round(values))
    return "classify" if whole and len(np.unique(values)) <= MAX_CLASSES_GUESSED else "regress"


def guess_task_of_ranks(raw: np.ndarray, comm: Communicator) -> str:
    """:func:`guess_task` on every rank's targets together, the same on each: regress
    if any rank's alone say so (more values, or fractions), else the guess on the
    union of their distinct values."""
    if comm.size == 1:
        return guess_task(raw)
    local = guess_task(raw) if len(raw) else "classify"
    if "regress" in comm.allgather(local):
        return "regress"
    return guess_task(global_labels(raw, comm))


class OutputOverflow(DataError):
    """Rows of finite features for which the network's outputs are NaN or infinite: the
    values are too large for the network's arithmetic.  ``rows`` indexes them in the
    array predicted; :meth:`naming` says where they are in other terms (file lines)."""

    def __init__(
        self, rows: np.ndarray, largest: float, dtype: np.dtype, where: str | None = None
    ) -> None:
        self.rows, self.largest, self.dtype = rows, largest, dtype
        where = where or numbered("row", rows) + " (counted from 0)"
        super().__init__(
            f"{where}: the network's outputs overflow (features up to {largest:.3g}; the "
            f"model computes in {dtype}), so there is no prediction; check these values"
        )

    def naming(self, where: str) -> OutputOverflow:
        return OutputOverflow(self.rows, self.largest, self.dtype, where)


def numbered(word: str, numbers: Sequence[int], shown: int = 5) -> str:
    """ "line 4", "lines 4, 9", "lines 4, 9, 11, 12, 20 and 7 more"."""
    items = ", ".join(str(int(n)) for n in numbers[:shown])
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return f"{word}{'s' if len(numbers) > 1 else ''} {items}{more}"


def check_finite_outputs(outputs: np.ndarray, X: np.ndarray, dtype: np.dtype) -> None:
    """Raise OutputOverflow naming the rows of ``outputs`` (N, k) that hold NaN or inf
    (the features X are finite: the input checks see to that).  A sum is finite only if
    every value is, so a batch without such rows costs one pass."""
    if np.isfinite(outputs.sum()):
        return
    bad = np.flatnonzero(~np.isfinite(outputs).all(axis=1))
    if len(bad):
        raise OutputOverflow(bad, float(np.abs(np.asarray(X)[bad]).max()), dtype)


@contextlib.contextmanager
def _overflow_named_by_line(source: str | os.PathLike, chunk: Chunk) -> Iterator[None]:
    """An OutputOverflow from a chunk's rows (those without a missing value, as they
    are predicted) re-raised naming their lines (CSV) or rows (Parquet) in the file."""
    try:
        yield
    except OutputOverflow as error:
        lines = chunk.lines[~chunk.missing][error.rows]
        raise error.naming(f"{chunk.source or source}: {numbered(chunk.unit, lines)}") from None


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

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")


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
        X: Any,
        y_raw: Any,
        feature_names: Sequence[str] | None = None,
        target_name: str | None = None,
        task: str | None = None,
        options: TrainOptions | None = None,
        comm: Communicator | None = None,
        shard: bool | str = "strided",
    ) -> tuple[TabularModel, History]:
        """Train on X (an array, or a pandas or polars DataFrame) and the raw targets
        ``y_raw`` (labels or values; for a DataFrame also the target column's name).  A
        DataFrame's feature names are its columns (the target's aside), or
        ``feature_names`` picks them; an array's default to x0, x1, ...  With ``comm``
        of more than one rank, X and y_raw are this rank's rows, placed in the whole as
        ``fit``'s ``shard`` says (by default rows rank::size): the standardisation
        statistics and the classes are those of every rank's rows, and the ranks train
        as one process."""
        options = options or TrainOptions()
        comm = comm or SingleProcess()
        if is_dataframe(X):
            if isinstance(y_raw, str):
                target_name = target_name or y_raw
            X, y_raw, feature_names = frame_arrays(X, y_raw, np.float64, feature_names)
        X = np.asarray(X, dtype=np.float64)
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(X.shape[1] if X.ndim == 2 else 0)]
        task = task or guess_task_of_ranks(y_raw, comm)
        if task not in TASKS:
            raise ValueError(f"unknown task '{task}'; choose classify or regress")
        model = cls(
            network=None, task=task, feature_names=list(feature_names), target_name=target_name
        )  # type: ignore[arg-type]
        with np.errstate(over="ignore", invalid="ignore"):  # checked by _set_scaling
            if options.standardize and comm.size > 1:
                model._set_scaling(*global_mean_and_std(X, comm)[:2])
            elif options.standardize:
                model._set_scaling(*column_mean_and_std(model.checked_features(X)))
        y, width, output, loss = model._targets_and_head(y_raw, options, comm)
        sizes = [X.shape[1], *options.hidden, width]
        model.network = MLP(sizes, options.activation, output, seed=options.seed)
        optimizer, callbacks, metrics = model._training_setup(options)
        started = time.perf_counter()
        # a run that diverges ends in fit's TrainingDiverged, which says so: NumPy's
        # overflow warnings on the way there would only bury it
        with np.errstate(over="ignore", invalid="ignore"):
            history = fit(
                model.network, loss, optimizer, model.scaled_features(X), y,
                epochs=options.epochs, batch_size=options.batch_size,
                validation_split=options.validation_split, callbacks=callbacks,
                metrics=metrics, verbose=options.verbose, seed=options.seed,
                comm=comm, shard=shard,
            )  # fmt: skip
        samples = sum(comm.allgather(len(X)))
        model._summarise(history, optimizer, options, loss, samples, started)
        return model, history

    @classmethod
    def train_stream(
        cls,
        path: str | os.PathLike,
        target: str,
        task: str | None = None,
        options: TrainOptions | None = None,
        **reading: Any,
    ) -> tuple[TabularModel, History]:
        """Train on a CSV or Parquet file (or folder) without loading it: one pass for
        the statistics, then epoch by epoch through its blocks and a bounded shuffle
        buffer; see :mod:`chainrule.tabular_files` for the details and ``reading``'s
        keywords (``drop_missing``, ``na_values``, ``buffer_rows``, ...)."""
        from .tabular_files import train_stream

        options = _file_options(task, options)
        return train_stream(cls, path, target, task, options, guess_task, **reading)

    @classmethod
    def train_file(
        cls,
        path: str | os.PathLike,
        target: str,
        task: str | None = None,
        options: TrainOptions | None = None,
        **reading: Any,
    ) -> tuple[TabularModel, History, EvaluationReport | None]:
        """Train on a CSV or Parquet file (or folder) held in memory as the network's
        float32, never as a float64 table: one pass for the statistics, a second that
        standardises each block into place; then as :meth:`train`.  Returns the model,
        the history and, with ``test_split=``, the scores on the rows held out (else
        None).  See :mod:`chainrule.tabular_files` for ``reading``'s keywords
        (``drop_missing``, ``na_values``, ``test_split``, ``notify``, ...)."""
        from .tabular_files import train_file

        options = _file_options(task, options)
        return train_file(cls, path, target, task, options, guess_task, **reading)

    def _set_scaling(self, mean: np.ndarray, std: np.ndarray) -> None:
        """The input standardisation from the features' mean and standard deviation (a
        constant feature is divided by 1), or a DataError naming the features whose
        spread is beyond float64's range (a model file could not hold their scale)."""
        bad = ~(np.isfinite(mean) & np.isfinite(std))
        if bad.any():
            names = ", ".join(repr(self.feature_names[j]) for j in np.flatnonzero(bad)[:10])
            raise DataError(
                f"feature {names}: values too large to standardise (their standard "
                "deviation overflows float64); rescale them first"
            )
        self.input_mean, self.input_scale = mean, np.where(std > 0, std, 1.0)

    def _training_setup(self, options: TrainOptions) -> tuple[Any, list[Any], list[Any]]:
        """The optimizer for the network, the callbacks and the metrics ``options`` ask
        for."""
        params, lr = self.network.parameters(), options.lr
        if options.optimizer == "sgd":
            optimizer = SGD(params, lr=0.01 if lr is None else lr, momentum=0.9, nesterov=True)
        elif options.optimizer == "adam":
            optimizer = Adam(params, lr=1e-3 if lr is None else lr)
        else:
            raise ValueError(
                f"unknown optimizer '{options.optimizer}'; choose {' or '.join(OPTIMIZERS)}"
            )
        callbacks = []
        if options.early_stopping:
            if not options.validation_split:
                raise ValueError("--early-stopping needs a validation split above 0")
            callbacks.append(EarlyStopping(patience=options.patience))
        # the loss of a regression is on the standardised target; rmse is in its units
        metrics = (
            ["accuracy"] if self.task == "classify" else ["r2", rmse_in_units(self.target_scale)]
        )
        return optimizer, callbacks, metrics

    def _summarise(
        self,
        history: History,
        optimizer: Any,
        options: TrainOptions,
        loss: str,
        samples: int,
        started: float,
    ) -> None:
        self.summary = {
            "chainrule_version": __version__,
            "samples": samples,
            "epochs_run": len(history.epochs),
            "seconds": round(time.perf_counter() - started, 3),
            "optimizer": options.optimizer,
            "learning_rate": optimizer.initial_lr,
            "batch_size": options.batch_size,
            "loss": loss,
            "seed": options.seed,
            "validation_split": options.validation_split,
            "stopped_early": history.stopped_early,
            # the weights saved are those of final_epoch (the best, when early stopping
            # restored it), and "final" holds that epoch's figures
            "restored_epoch": history.restored_epoch,
            "final_epoch": history.final_epoch,
            "final": history.final(),
        }
        if self.task == "regress":
            self.summary["loss_on"] = "the standardised target; rmse is in the target's units"

    def _targets_and_head(
        self, y_raw: np.ndarray, options: TrainOptions, comm: Communicator | None = None
    ):
        """Encoded targets, output width, output layer and loss for the task (the classes
        and the target's scaling those of every rank's rows)."""
        comm = comm or SingleProcess()
        if self.task == "classify" and comm.size > 1:
            union = global_labels(y_raw, comm)  # encoded with the rank's own labels after it
            self.classes, index = encode_labels(np.concatenate([union, np.asarray(y_raw)]))
            y = index[len(union) :]
        elif self.task == "classify":
            self.classes, y = encode_labels(y_raw)
        if self.task == "classify":
            if len(self.classes) < 2:
                raise DataError(
                    f"the target column{self._target_named()} has a single class "
                    f"({_label_shown(self.classes[0])}); classification needs at least two"
                )
            output = options.output or "softmax"
            if output == "sigmoid":
                if len(self.classes) != 2:
                    raise ValueError(
                        f"a sigmoid output fits two classes, not {len(self.classes)}; use softmax"
                    )
                return y.astype(np.float64), 1, output, options.loss or "binary_cross_entropy"
            return y, len(self.classes), output, options.loss or "cross_entropy"
        y = self._numeric_target(y_raw, "regression needs a numeric target")
        output = options.output or "identity"
        if output != "identity":
            raise ValueError(f"regression uses an identity output, not {output}")
        if comm.size > 1:
            mean, std, _ = global_mean_and_std(y.reshape(-1, 1), comm)
            self.target_mean, self.target_scale = float(mean[0]), float(std[0] or 1.0)
        else:
            self.target_mean, self.target_scale = float(y.mean()), float(y.std() or 1.0)
        return (y - self.target_mean) / self.target_scale, 1, output, options.loss or "mse"

    def _target_named(self) -> str:
        return f" '{self.target_name}'" if self.target_name else ""

    def _numeric_target(self, y_raw: np.ndarray, why: str) -> np.ndarray:
        """y_raw as float64, or a DataError naming the target column and the first row
        (counted from 0) whose value is not a number."""
        try:
            return np.asarray(y_raw, dtype=np.float64)
        except (TypeError, ValueError):
            pass
        for row, value in enumerate(np.asarray(y_raw, dtype=object).reshape(-1)):
            try:
                float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"the target column{self._target_named()} holds {str(value)!r} at row "
                    f"{row}, which is not a number; {why}"
                ) from None
        raise DataError(f"the target column{self._target_named()} is not numeric; {why}")

    # Use ----------------------------------------------------------------------------------
    def features_of(self, X: Any) -> np.ndarray:
        """X's feature matrix: a DataFrame's columns named in ``feature_names``, in that
        order (a DataError lists the columns when one is missing); an array as it is."""
        if is_dataframe(X):
            return feature_matrix(X, self.feature_names, np.float64)
        return np.asarray(X, dtype=np.float64)

    def checked_features(self, X: Any) -> np.ndarray:
        """X's feature matrix (float64), or a DataError naming its shape when it does not
        have one column per feature."""
        X = self.features_of(X)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise DataError(
                f"expected {len(self.feature_names)} feature columns, got data of shape {X.shape}"
            )
        return X

    def scaled_features(self, X: Any) -> np.ndarray:
        """:meth:`scale_inputs` in the network's dtype, made block by block of rows (the
        same numbers without whole-matrix temporaries: :mod:`chainrule.data.moments`)."""
        X = self.checked_features(X)
        return standardised(X, self.input_mean, self.input_scale, self.network.dtype)

    def scale_inputs(self, X: np.ndarray) -> np.ndarray:
        X = self.checked_features(X)
        if self.input_mean is None:
            return X
        return (X - self.input_mean) / self.input_scale

    def _network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs (float64) for the rows of X; OutputOverflow names the
        rows for which they are NaN or inf (NumPy's overflow warnings on the way are
        left out: the error says it better)."""
        X = self.features_of(X)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = self.scale_inputs(X)
        return self._outputs_of_scaled(scaled, X)

    def _outputs_of_scaled(self, scaled: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The network's outputs (float64) for the standardised features ``scaled`` of
        the rows X (named in an OutputOverflow).  BLAS works in one thread here (see
        :mod:`chainrule.nn.blas_threads`): fast, and the same bytes on any machine's cores."""
        with np.errstate(over="ignore", invalid="ignore"), one_blas_thread():
            out = self.network.predict(scaled).astype(np.float64)
        check_finite_outputs(out, X, self.network.dtype)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) in the order of ``classes``."""
        if self.task != "classify":
            raise ValueError("probabilities exist for classification models only")
        return self._probabilities(self._network_outputs(X))

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        """The class probabilities of the network's outputs ``out``."""
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
        out = self._network_outputs(X)[:, 0]
        return out * self.target_scale + self.target_mean

    def class_indices(self, labels: np.ndarray) -> np.ndarray:
        """Each label's index in ``classes``, labels read as in training (so "1" and "1.0"
        are class 1); a DataError names the labels the model does not know."""
        index, unknown = self._known_classes(labels)
        _refuse_unknown(unknown)
        return index

    def _known_classes(self, labels: np.ndarray) -> tuple[np.ndarray, set[str]]:
        """Each label's index in ``classes`` (-1 for a label the model does not know),
        and the labels it does not know."""
        known = {str(c): i for i, c in enumerate(self.classes or [])}
        found, index = encode_labels(labels)
        row_labels = [str(found[i]) for i in index]
        return np.array([known.get(label, -1) for label in row_labels], dtype=np.int64), set(
            row_labels
        ) - set(known)

    # Evaluation ---------------------------------------------------------------------------
    def evaluate(self, X: np.ndarray, y_raw: np.ndarray) -> EvaluationReport:
        """Scores against the true targets ``y_raw``: class labels (as in the training
        data) or values; for a DataFrame X, ``y_raw`` may name its target column.  See
        :mod:`chainrule.evaluation`."""
        if is_dataframe(X) and isinstance(y_raw, str):
            y_raw = target_values(X, y_raw)
        if self.task == "classify":
            truth = self.class_indices(y_raw)
        else:
            truth = self._numeric_target(y_raw, "a regression model is scored on numbers")
        return self._report(self._network_outputs(X), truth)

    def _report(self, out: np.ndarray, truth: np.ndarray) -> EvaluationReport:
        """The scores of the network's outputs ``out`` against ``truth``: class indices
        into ``classes``, or the target's values."""
        if self.task == "classify":
            probabilities = self._probabilities(out)
            predicted = probabilities.argmax(axis=1)
            return classification_report(self.classes or [], truth, predicted, probabilities)
        return regression_report(truth, out[:, 0] * self.target_scale + self.target_mean)

    def evaluate_scaled(self, scaled: np.ndarray, truth: np.ndarray) -> EvaluationReport:
        """:meth:`evaluate` on rows whose features are standardised already (as the
        network takes them), against ``truth``: class indices into ``classes``, or the
        target's values.  The same scores as :meth:`evaluate` on the raw rows."""
        return self._report(self._outputs_of_scaled(scaled, scaled), truth)

    def evaluate_csv(
        self,
        path: str | os.PathLike,
        target: str | None = None,
        drop_missing: bool = False,
        na_values: Sequence[str] | None = None,
    ) -> EvaluationReport:
        """:meth:`evaluate` on a CSV or Parquet file with the model's feature columns and
        the target column (by default the one the model was trained on), read and
        predicted block by block: memory holds each row's truth and outputs, not the
        file's features."""
        target = target or self.target_name
        if not target:
            raise ValueError("name the target column: the model does not name its target")
        truths: list[np.ndarray] = []
        outputs: list[np.ndarray] = []
        unknown: set[str] = set()
        dropped = 0
        chunks = iter_chunks(path, target, self.feature_names, drop_missing,
                             PREDICTION_ROWS, na_values=na_values)  # fmt: skip
        with deferred_interrupts() as check_interrupts:  # Ctrl-C acts between chunks
            for _, chunk in chunks:
                check_interrupts()
                keep = ~chunk.missing
                dropped += int(chunk.missing.sum())
                raw, features = chunk.target[keep], chunk.features[keep]
                if self.task == "classify":
                    index, new = self._known_classes(raw)
                    truths.append(index)
                    unknown |= new
                else:
                    why = "a regression model is scored on numbers"
                    truths.append(numbers_of(raw, chunk.lines[keep], chunk.unit, path, target, why))
                with _overflow_named_by_line(path, chunk):
                    outputs.append(self._network_outputs(features))
        if not sum(len(t) for t in truths):
            what = (
                "no rows left after dropping those with missing values"
                if dropped
                else "no data rows"
            )
            raise DataFileError(f"{path}: {what}")
        try:
            _refuse_unknown(unknown)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
        return self._report(np.concatenate(outputs), np.concatenate(truths))

    # Prediction of CSV files --------------------------------------------------------------
    def prediction_header(self, proba: bool = False, keep: Sequence[str] = ()) -> list[str]:
        """The columns :meth:`write_predictions` writes: the kept columns, then prediction
        [, p_<class>...]."""
        return [
            *keep,
            "prediction",
            *([f"p_{c}" for c in self.classes or []] if proba else []),
        ]

    def predict_csv(
        self,
        source: str | os.PathLike,
        destination: str | os.PathLike,
        proba: bool = False,
        skip_missing: bool = False,
        keep: Sequence[str] = (),
        ignore: Sequence[str] = (),
        na_values: Sequence[str] | None = None,
    ) -> int:
        """:meth:`write_predictions` into the file ``destination`` (Parquet if its name
        ends in .parquet, else CSV), atomically: written beside it and renamed, so a
        failure anywhere leaves no file (or the old one).  ``destination`` must not be
        ``source`` (nor a link to it)."""
        check_not_an_input(destination, [source])
        self._check_prediction_source(source, proba, keep, ignore)
        file_format = output_format(destination)
        with open_atomic(destination, "wb") as stream:
            return self._write_predictions(
                source, stream, proba, skip_missing, keep, ignore, na_values, file_format
            )

    def write_predictions(
        self,
        source: str | os.PathLike,
        stream: IO[Any],
        proba: bool = False,
        skip_missing: bool = False,
        keep: Sequence[str] = (),
        ignore: Sequence[str] = (),
        na_values: Sequence[str] | None = None,
        file_format: str = "csv",
    ) -> int:
        """Predict every row of the CSV or Parquet file ``source`` chunk by chunk (memory
        stays bounded) and write one row per data row to ``stream`` (text or binary; CSV,
        or Parquet into a binary stream): the label or value, with ``proba`` one
        probability column per class.  ``source`` needs the model's feature columns and
        may hold its target column, which is ignored; other columns are an error unless
        named in ``ignore`` (not read) or ``keep`` (copied, as they are, into the output
        before the prediction: an id column).  With ``skip_missing`` a row with a missing
        value gets empty cells instead of an error (its kept cells are still copied).
        The columns are checked before anything is written.  Returns the rows written."""
        self._check_prediction_source(source, proba, keep, ignore)
        return self._write_predictions(
            source, stream, proba, skip_missing, keep, ignore, na_values, file_format
        )

    def _ignored_columns(self, ignore: Sequence[str] = ()) -> list[str]:
        """A file may still hold the column the model predicts: it is not read; nor are
        the columns the caller asks to ignore."""
        return ([self.target_name] if self.target_name else []) + list(ignore)

    def _check_prediction_source(
        self,
        source: str | os.PathLike,
        proba: bool,
        keep: Sequence[str] = (),
        ignore: Sequence[str] = (),
    ) -> None:
        if proba and self.task != "classify":
            raise ValueError("probabilities exist for classification models only")
        path = Path(source)
        header = read_header(source)
        check_columns_exist(path, header, keep, "to keep")
        check_columns_exist(path, header, ignore, "to ignore")
        needed = [name for name in ignore if name in self.feature_names]
        if needed:
            raise CsvError(
                f"{path}: cannot ignore {', '.join(repr(n) for n in needed)}: the model "
                "reads it as a feature"
            )
        clash = [name for name in keep if name in self.prediction_header(proba)]
        if clash:
            raise CsvError(
                f"{path}: cannot keep {', '.join(repr(n) for n in clash)}: the output "
                "has a column of that name"
            )
        allowed = {*self.feature_names, *self._ignored_columns(ignore), *keep}
        extra = [name for name in header if name not in allowed]
        if extra and all(name in header for name in self.feature_names):
            raise CsvError(
                f"{path}: columns the model was not trained on: {', '.join(extra)} (its "
                f"features are: {', '.join(self.feature_names)}); to predict anyway, ignore "
                "them (--ignore COL) or copy them into the output (--keep COL)"
            )
        resolve_columns(path, header, None, self.feature_names, list(allowed))

    def _write_predictions(
        self,
        source: str | os.PathLike,
        stream: IO[Any],
        proba: bool,
        skip_missing: bool,
        keep: Sequence[str] = (),
        ignore: Sequence[str] = (),
        na_values: Sequence[str] | None = None,
        file_format: str = "csv",
    ) -> int:
        keep = list(dict.fromkeys(keep))  # a column kept twice is written once
        chunks = iter_chunks(
            source,
            None,
            self.feature_names,
            allow_missing=skip_missing,
            chunk_rows=PREDICTION_ROWS,
            ignore=self._ignored_columns(ignore),
            keep=keep,
            na_values=na_values,
        )
        writer = TableWriter(stream, file_format)
        written, schema = 0, self._prediction_schema(proba)
        with deferred_interrupts() as check_interrupts:  # Ctrl-C acts between chunks
            for _, chunk in chunks:
                check_interrupts()
                table = self._predicted_chunk(source, chunk, proba, keep)
                schema = table.schema
                writer.write(table)
                written += table.num_rows
            if not written and keep:  # no rows: the kept columns' header still shows
                schema = pa.schema([pa.field(name, pa.string()) for name in keep] + list(schema))
            writer.close(schema)
        return written

    def _label_array(self) -> pa.Array:
        """The class labels as an Arrow array of their type (int, float or text)."""
        classes = list(self.classes or [])
        if all(isinstance(c, int) for c in classes):
            return pa.array(classes, pa.int64())
        if all(isinstance(c, (int, float)) for c in classes):
            return pa.array([float(c) for c in classes], pa.float64())
        return pa.array([str(c) for c in classes], pa.string())

    def _prediction_schema(self, proba: bool) -> pa.Schema:
        if self.task != "classify":
            return pa.schema([("prediction", pa.float64())])
        fields = [pa.field("prediction", self._label_array().type)]
        if proba:
            fields += [pa.field(f"p_{c}", pa.float32()) for c in self.classes or []]
        return pa.schema(fields)

    def _predicted_chunk(
        self, source: Any, chunk: Chunk, proba: bool, keep: Sequence[str]
    ) -> pa.Table:
        """A chunk's predictions as an Arrow table after its ``keep`` columns; outputs
        that overflow are an error naming the chunk's lines in ``source``."""
        with _overflow_named_by_line(source, chunk):
            table = self._prediction_table(chunk, proba)
        if chunk.kept is not None:
            kept = chunk.kept.select(keep)
            table = pa.Table.from_arrays(
                [*kept.columns, *table.columns], [*keep, *table.column_names]
            )
        return table

    def _prediction_table(self, chunk: Chunk, proba: bool) -> pa.Table:
        """One row per chunk row: the label (in its type) or the value, probabilities as
        the network computes them (float32); nulls (empty cells) for a row with a missing
        value."""
        missing = chunk.missing
        kept_rows = np.flatnonzero(~missing) if missing.any() else slice(None)
        features = chunk.features[kept_rows]
        schema = self._prediction_schema(proba)
        if self.task == "classify":
            probabilities = np.zeros((len(chunk), len(self.classes or [])), dtype=np.float32)
            if len(features):
                probabilities[kept_rows] = self.predict_proba(features)
            best = pa.array(probabilities.argmax(axis=1), mask=missing)
            columns = [self._label_array().take(best)]
            if proba:
                columns += [pa.array(p, mask=missing) for p in probabilities.T]
        else:
            values = np.zeros(len(chunk), dtype=np.float64)
            if len(features):
                values[kept_rows] = self.predict(features)
            columns = [pa.array(values, mask=missing)]
        return pa.Table.from_arrays(columns, schema=schema)

    # Export -------------------------------------------------------------------------------
    def export_spec(self) -> ExportSpec:
        """The network with the input standardisation, for regression the target scaling,
        and the task, feature names, class labels and target name: what
        :func:`chainrule.io.export_onnx` writes for this model."""
        regress = self.task == "regress"
        return ExportSpec(
            self.network,
            input_mean=self.input_mean,
            input_scale=self.input_scale,
            target_mean=self.target_mean if regress else 0.0,
            target_scale=self.target_scale if regress else 1.0,
            task=self.task,
            feature_names=list(self.feature_names),
            classes=list(self.classes) if self.classes is not None else None,
            target_name=self.target_name,
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


def _refuse_unknown(labels: set[str]) -> None:
    """A DataError naming (up to ten of) the labels a model does not know, if any."""
    if labels:
        listed = ", ".join(shown(label) for label in sorted(labels)[:10])
        raise DataError(f"labels the model does not know: {listed}")


def _file_options(task: str | None, options: TrainOptions | None) -> TrainOptions:
    """The options of training on a file (the defaults if None), once ``task`` (if
    given) is known to be one."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task '{task}'; choose classify or regress")
    return options or TrainOptions()


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

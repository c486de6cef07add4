"""Training a :class:`~chainrule.tabular.TabularModel` on a CSV or Parquet file, its rows
held in memory (:func:`train_file`) or streamed (:func:`train_stream`) for a file bigger
than memory.

Both start with one pass over the file's blocks (:func:`chainrule.data.blocks.statistics`):
the row count, each feature's mean and population standard deviation (Chan et al.'s
merge of the blocks' moments), the target's distinct values with their counts and, when
it is numeric, its mean and deviation.  These are the statistics the in-memory
:meth:`TabularModel.train` takes of whole arrays (equal to rounding; to the bit for a
file of one block), so the model file standardises, encodes and scales as an
array-trained one does: the same task guess, the same classes in the same order.

Then:

* :func:`train_file` reads the file a second time, block by block, each block
  standardised and cast to the network's float32 and its labels encoded as it is
  read, straight into one preallocated matrix and target vector.  Memory holds the
  float32 data once, never a float64 copy of the table: reading the whole table as
  float64 first, to take NumPy's statistics of it, was twice the float32 data before
  training began.  Then ``fit`` on the arrays, exactly as :meth:`TabularModel.train`:
  the same random validation split and batch order from the seed (``fit`` gathers the
  batches and the validation rows from the matrix, without copies).  A test split is
  drawn first, from a pass over the targets, so the statistics are the training
  rows' alone.
* :func:`train_stream` trains epoch by epoch through
  :class:`~chainrule.data.streaming.StreamingSource`: the blocks in a new order each
  epoch, rows mixed in a bounded shuffle buffer, all from ``options.seed``, each block
  standardised and its labels encoded as it is read.  The validation rows are those
  the row rule of :mod:`chainrule.data.rows` picks (seeded by ``options.seed``), about
  ``validation_split`` of them, held out without loading anything: not the random draw
  of in-memory training.  The training metrics are running sums over the epoch's
  batches (:mod:`chainrule.training.running_metrics`).  Memory holds the shuffle
  buffer, a block or two and (up to a buffer's worth) the validation rows, whatever
  the size of the file.  A file of one block with a buffer of at least its rows and no
  validation split trains the very weights the in-memory path does.  The next block
  is read while the rows before it train (``streaming.read_ahead``), and the blocks
  read in the first epoch are kept on disk as the arrays training reads, for the
  epochs after it (:mod:`chainrule.data.block_cache`).

A file is read twice or more, so it must be a file (or a folder of Parquet files), not
a pipe: :class:`~chainrule.data.tables.Source` says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.block_cache import BlockCache, cache_bytes, default_folder, free_bytes
from .data.blocks import (
    BLOCK_BYTES,
    MAX_LABELS,
    Statistics,
    first_not_a_number,
    open_block_reader,
    statistics,
)
from .data.errors import DataFileError, shown
from .data.streaming import DEFAULT_BUFFER_ROWS, StreamingSource
from .data.tables import TABLE_BLOCK_BYTES
from .evaluation import EvaluationReport
from .holdout import held_out_rows
from .io.interrupts import deferred_interrupts
from .nn import MLP
from .training import History, fit
from .training.data import DataError

Encoder = Callable[[np.ndarray], np.ndarray]
Notify = Callable[[str], None]
#: free disk space a block cache leaves beside itself
CACHE_SPARE_BYTES = 256 << 20
#: NumPy's overflow warnings silenced: the checks (finite features, TrainingDiverged) say it
QUIET = {"over": "ignore", "invalid": "ignore"}


@dataclass
class _Setup:
    """What both ways of training take from the statistics pass: the reader, the
    statistics, the model (network built, standardisation and classes or target scaling
    set), ``encode`` (raw target values to the training targets), ``numbers`` (raw
    values to floats: a regression's target before its scaling) and what ``fit`` is
    given besides the data."""

    reader: Any
    stats: Statistics
    model: Any
    encode: Encoder
    numbers: Encoder | None
    loss: str
    optimizer: Any
    callbacks: list[Any]
    metrics: list[Any]


def _statistics(
    reader: Any, path: Any, notify: Notify | None, streamed: bool, wanted: Any = None
) -> Statistics:
    """The statistics pass (of the rows ``wanted`` marks, if given), and its lines."""
    started = time.perf_counter()
    # Ctrl-C acts between blocks; values too large for the arithmetic end in the checks'
    # messages, not in NumPy's warnings on the way
    with deferred_interrupts() as check_interrupts, np.errstate(**QUIET):
        stats = statistics(reader, check_interrupts, wanted)
    if notify is not None:
        if stats.dropped:
            notify(f"dropped {stats.dropped} rows with missing values")
        if streamed:
            seconds = time.perf_counter() - started
            notify(
                f"statistics of {path}: {stats.rows} rows, {len(reader.feature_names)} "
                f"features in {reader.n_blocks} blocks ({seconds:.1f}s, "
                f"{stats.rows / seconds:,.0f} rows/s)"
            )
    return stats


def _setup(
    cls: Any,
    reader: Any,
    stats: Statistics,
    path: str | os.PathLike,
    target: str,
    task: str | None,
    options: Any,
    guess_task: Callable[[np.ndarray], str],
) -> _Setup:
    """The model the statistics make (see :class:`_Setup`)."""
    keys = _distinct_values(stats)
    if task is None:
        if keys is None and stats.target_mean is None:
            raise DataFileError(_too_many_labels(path, target))
        task = "regress" if keys is None else guess_task(keys)
    model = cls(network=None, task=task, feature_names=reader.feature_names, target_name=target)
    if options.standardize:
        try:
            model._set_scaling(stats.mean, stats.std)
        except DataError as error:
            raise DataFileError(f"{path}: {error}") from None
    numbers = None
    if task == "classify":
        if keys is None:
            raise DataFileError(_too_many_labels(path, target))
        encode, width, output, loss = _classes(model, keys, options, path)
    else:
        numbers, width, output, loss = _regression(model, stats, reader, options, path)
        mean, scale = model.target_mean, model.target_scale

        def encode(raw: np.ndarray) -> np.ndarray:
            return (numbers(raw) - mean) / scale

    sizes = [len(reader.feature_names), *options.hidden, width]
    model.network = MLP(sizes, options.activation, output, seed=options.seed)
    optimizer, callbacks, metrics = model._training_setup(options)
    return _Setup(reader, stats, model, encode, numbers, loss, optimizer, callbacks, metrics)


def train_file(
    cls: Any,
    path: str | os.PathLike,
    target: str,
    task: str | None,
    options: Any,
    guess_task: Callable[[np.ndarray], str],
    *,
    feature_names: list[str] | None = None,
    drop_missing: bool = False,
    na_values: Any = None,
    test_split: float = 0.0,
    block_bytes: int = TABLE_BLOCK_BYTES,
    notify: Notify | None = None,
) -> tuple[Any, History, EvaluationReport | None]:
    """``TabularModel.train_file``: (model, history, test report) trained on the file at
    ``path`` held in memory (see the module's docstring).

    With ``test_split``, that fraction of the rows is held out first and scored after
    training (the report; None without it), as :func:`chainrule.holdout.held_out_rows`
    draws them from every row's target (stratified by class for classification), before
    anything is learnt from the data: the standardisation, classes and target scaling
    are those of the training rows alone.  That takes a pass more: one for the targets,
    then the statistics of the training rows, then the rows.  ``notify`` is given a line
    about the rows before training."""
    reader = open_block_reader(path, target, feature_names, drop_missing, na_values, block_bytes)
    wanted, test_rows = None, 0
    if test_split:
        wanted, task, test_rows = _training_rows(reader, test_split, options.seed, task, guess_task)
    stats = _statistics(reader, path, notify, streamed=False, wanted=wanted)
    setup = _setup(cls, reader, stats, path, target, task, options, guess_task)
    model = setup.model
    # a regression's targets unscaled: the test rows are scored on them
    with np.errstate(**QUIET):
        X, y, X_test, truth = _held_rows(setup, wanted, test_rows)
    if model.task == "regress":  # the training targets: standardised in place
        np.subtract(y, model.target_mean, out=y)
        np.divide(y, model.target_scale, out=y)
    if notify is not None:
        notify(f"training on {path}: {len(X)} samples, {X.shape[1]} features")
    started = time.perf_counter()
    history = _fitted(setup, options, X, y, validation_split=options.validation_split)
    model._summarise(history, setup.optimizer, options, setup.loss, len(X), started)
    del X, y  # the training rows go before the test rows are scored
    report = None
    if X_test is not None and not history.interrupted:
        if model.task == "classify":  # class indices (a sigmoid's targets are 0.0 and 1.0)
            truth = truth.astype(np.int64)
        report = model.evaluate_scaled(X_test, truth)
    return model, history, report


def _fitted(setup: _Setup, options: Any, X: Any, y: Any, **more: Any) -> History:
    """``fit`` of the setup's network on X, y (arrays, or a source and None) as
    ``options`` say; a run that diverges ends in fit's TrainingDiverged, which says so:
    NumPy's overflow warnings on the way would only bury it."""
    with np.errstate(**QUIET):
        return fit(
            setup.model.network, setup.loss, setup.optimizer, X, y, epochs=options.epochs,
            batch_size=options.batch_size, callbacks=setup.callbacks, metrics=setup.metrics,
            verbose=options.verbose, seed=options.seed, **more,
        )  # fmt: skip


def _training_rows(
    reader: Any, fraction: float, seed: int, task: str | None, guess_task: Callable
) -> tuple[np.ndarray, str, int]:
    """A pass over the targets for the test split: which rows train (booleans by row
    index; rows dropped for a missing value and test rows False), the task (guessed
    from every row's target when not given) and the number of test rows."""
    targets, rows = [], []
    with deferred_interrupts() as check_interrupts:
        for _, target, indices in reader.in_order():
            check_interrupts()
            targets.append(target)
            rows.append(indices)
    if not any(len(t) for t in targets):
        statistics(reader)  # raises the error of a file without rows
    y = np.concatenate(targets)
    task = task or guess_task(y)
    if task == "regress":  # a value that is not a number is named by its line
        for i, block in enumerate(targets):
            try:
                np.asarray(block, dtype=np.float64)
            except (TypeError, ValueError):
                k = first_not_a_number(block)
                raise _not_a_number(reader, i, k, np.asarray(block).reshape(-1)[k]) from None
    try:
        train, test = held_out_rows(y, fraction, seed, task == "classify")
    except DataError as error:
        raise DataFileError(f"{reader.source.path}: {error}") from None
    index = np.concatenate(rows)
    wanted = np.zeros(int(index.max()) + 1, dtype=bool)
    wanted[index[train]] = True
    return wanted, task, len(test)


def _held_rows(
    setup: _Setup, wanted: np.ndarray | None, test_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The rows' pass: every block standardised into one float matrix in the network's
    dtype, and its targets (classification: the encoded classes; regression: the
    values, unscaled) into one vector, in the file's row order: (X, y) the training
    rows (those ``wanted`` marks, or all), (X_test, truth) the others (or None)."""
    reader, stats, model = setup.reader, setup.stats, setup.model
    width = len(reader.feature_names)
    to_targets = setup.encode if setup.numbers is None else setup.numbers
    train = _Rows(stats.rows, width, model.network.dtype, reader.source.path)
    test = _Rows(test_rows, width, model.network.dtype, reader.source.path)
    with deferred_interrupts() as check_interrupts:
        for features, raw, rows in reader.in_order():
            check_interrupts()
            if wanted is None:
                train.add(model.scale_inputs(features), to_targets(raw))
                continue
            mask = wanted[rows]
            train.add(model.scale_inputs(features[mask]), to_targets(raw[mask]))
            test.add(model.scale_inputs(features[~mask]), to_targets(raw[~mask]))
    X, y = train.filled()
    if wanted is None:
        return X, y, None, None
    return (X, y, *test.filled())


class _Rows:
    """A matrix of ``rows`` x ``width`` and its targets, filled block by block."""

    def __init__(self, rows: int, width: int, dtype: Any, path: Any) -> None:
        self.X = np.empty((rows, width), dtype=dtype)
        self.y: np.ndarray | None = None
        self.count, self.path = 0, path

    def add(self, features: np.ndarray, targets: np.ndarray) -> None:
        n = len(features)
        if self.count + n > len(self.X):
            raise DataFileError(f"{self.path}: the file grew while it was read")
        if self.y is None:
            self.y = np.empty(len(self.X), dtype=targets.dtype)
        self.X[self.count : self.count + n] = features  # cast to the network's dtype
        self.y[self.count : self.count + n] = targets
        self.count += n

    def filled(self) -> tuple[np.ndarray, np.ndarray]:
        if self.count != len(self.X) or self.y is None:
            raise DataFileError(f"{self.path}: the file shrank while it was read")
        return self.X, self.y


def train_stream(
    cls: Any,
    path: str | os.PathLike,
    target: str,
    task: str | None,
    options: Any,
    guess_task: Callable[[np.ndarray], str],
    *,
    feature_names: list[str] | None = None,
    drop_missing: bool = False,
    na_values: Any = None,
    buffer_rows: int = DEFAULT_BUFFER_ROWS,
    block_bytes: int = BLOCK_BYTES,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    notify: Notify | None = None,
) -> tuple[Any, History]:
    """``TabularModel.train_stream``: (model, history) trained on the file at ``path``
    (see the module's docstring).  ``notify`` is given a line once the statistics pass
    is done; ``guess_task`` is the in-memory path's guess from the target's values.

    Trained on for more than one epoch, the file's blocks are kept on disk in the first
    epoch as the arrays training reads (standardised float32 features, encoded targets:
    :class:`~chainrule.data.block_cache.BlockCache`, in ``cache_dir``, by default the
    system's temporary folder unless it lives in memory:
    :func:`~chainrule.data.block_cache.default_folder`) and read from there
    afterwards, unless ``cache`` is
    False or the disk lacks the room: parsing CSV text (and, less so, decoding Parquet
    and encoding labels) is slower than training on the rows.  The numbers are the
    same either way."""
    reader = open_block_reader(path, target, feature_names, drop_missing, na_values, block_bytes)
    stats = _statistics(reader, path, notify, streamed=True)
    setup = _setup(cls, reader, stats, path, target, task, options, guess_task)
    model, encode = setup.model, setup.encode

    def transform(features: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = features if model.input_mean is None else model.scale_inputs(features)
        return scaled, encode(raw)

    dtype = model.network.dtype
    cached = None
    compressed = getattr(getattr(reader, "layout", None), "compressed", False)
    if cache and (options.epochs > 1 or compressed):
        cached = _block_cache(reader, transform, dtype, stats.rows, cache_dir, compressed, notify)
    try:
        source = StreamingSource(
            cached or reader, options.batch_size, buffer_rows, shuffle=True,
            seed=options.seed, transform=None if cached else transform,
            validation_split=options.validation_split, split_seed=options.seed, dtype=dtype,
        )  # fmt: skip
        started = time.perf_counter()
        history = _fitted(setup, options, source, None)
    finally:
        if cached is not None:
            cached.close()
    model._summarise(history, setup.optimizer, options, setup.loss, setup.stats.rows, started)
    model.summary["streamed"] = {
        "blocks": reader.n_blocks,
        "buffer_rows": buffer_rows,
        "validation": "rows whose seeded hash of their index is below the split",
    }
    return model, history


def _block_cache(
    reader: Any,
    transform: Any,
    dtype: Any,
    rows: int,
    folder: Any,
    compressed: bool,
    notify: Notify | None,
) -> BlockCache | None:
    """A cache of the file's blocks for the epochs after the first (a compressed file's
    filled at once, in one pass), or None when the disk where it would go lacks the
    room (with a line saying so)."""
    need = cache_bytes(rows, len(reader.feature_names), dtype)
    need_mb = f"{need / 2**20:,.0f} MB, deleted at the end"
    where = folder or default_folder(reader.source.path)
    if where is None:
        if notify is not None:
            notify(
                "not caching the parsed rows: the temporary folder is in memory and the "
                "data's folder cannot be written (--cache-dir): every epoch reads the file"
            )
        return None
    free = free_bytes(where)
    if free < need + CACHE_SPARE_BYTES:
        if notify is not None:
            notify(
                f"not caching the parsed rows ({need / 2**20:,.0f} MB, {free / 2**20:,.0f} MB "
                f"free in {where}; --cache-dir): every epoch reads the file again"
            )
        return None
    cache = BlockCache(reader, transform, dtype, where)
    if compressed:
        # a .csv.gz block is reached by decompressing from the start: read in the
        # shuffled order of epoch 1, the blocks would cost a pass each
        if notify is not None:
            notify(f"reading the compressed file once, in order, into {where} ({need_mb})")
        try:
            with deferred_interrupts() as check_interrupts, np.errstate(**QUIET):
                cache.fill(check_interrupts)
        except BaseException:
            cache.close()
            raise
    elif notify is not None:
        notify(f"epoch 1 keeps the parsed rows in {where} ({need_mb}) for the epochs after it")
    return cache


def _distinct_values(stats: Statistics) -> np.ndarray | None:
    """The target's distinct values as read (text as an object array), or None if there
    are too many to count."""
    if stats.labels is None:
        return None
    keys = list(stats.labels)
    if any(isinstance(k, str) for k in keys):
        return np.array(keys, dtype=object)
    return np.array(keys)


def _too_many_labels(path: str | os.PathLike, target: str) -> str:
    return (
        f"{path}: the target column '{target}' has more than {MAX_LABELS:,} distinct values, "
        "not all numbers: too many to be classes"
    )


def _classes(model: Any, keys: np.ndarray, options: Any, path: str | os.PathLike):
    """The encoder of raw labels to the classes' indices (or 0/1 for a sigmoid output),
    width, output and loss; the classes are those ``encode_labels`` finds in the distinct
    values, which are those it finds in the whole column."""
    encoded, width, output, loss = model._targets_and_head(keys, options)
    index = dict(zip(keys.tolist(), encoded.tolist(), strict=True))
    dtype = encoded.dtype

    def encode(raw: np.ndarray) -> np.ndarray:
        try:
            return np.fromiter((index[v] for v in raw.tolist()), dtype, len(raw))
        except KeyError as error:
            raise DataFileError(
                f"{path}: the target column '{model.target_name}' holds "
                f"'{shown(error.args[0])}', which the statistics pass did not see (did the "
                "file change during training?)"
            ) from None

    return encode, width, output, loss


def _regression(model: Any, stats: Statistics, reader: Any, options: Any, path: Any):
    """The reader of raw values as numbers, width, output and loss; the model's target
    scaling set from the statistics."""
    if stats.target_mean is None:
        assert stats.not_a_number is not None
        block, k, _, value = stats.not_a_number
        raise _not_a_number(reader, block, k, value)
    output = options.output or "identity"
    if output != "identity":
        raise ValueError(f"regression uses an identity output, not {output}")
    model.target_mean, model.target_scale = stats.target_mean, stats.target_std or 1.0

    def numbers(raw: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{path}: the target changed during training") from None

    return numbers, 1, output, options.loss or "mse"


def _not_a_number(reader: Any, block: int, k: int, value: Any) -> DataFileError:
    """The error of a regression target ``value`` that is not a number, at row ``k`` of
    block ``block`` as the reader gives it: named by its file, column and line."""
    file, line = reader.where(block, k)
    column = reader.columns.header[reader.columns.target]
    return DataFileError(
        f"{file}: column '{column}' holds '{shown(value)}' at {line}, which is not a number; "
        "regression needs a numeric target"
    )

"""Training a :class:`~chainrule.tabular.TabularModel` on a file bigger than memory.

1. One pass over the file's blocks (:func:`chainrule.data.blocks.statistics`): the row
   count, each feature's mean and population standard deviation (Chan et al.'s merge of
   the blocks' moments), the target's distinct values with their counts and, when it is
   numeric, its mean and deviation.  These are the statistics the in-memory
   :meth:`TabularModel.train` takes of the whole arrays (equal to rounding; to the bit
   for a file of one block), so the model file standardises, encodes and scales as an
   in-memory-trained one does: the same task guess, the same classes in the same order.
2. Epochs through :class:`~chainrule.data.streaming.StreamingSource`: the blocks in a new
   order each epoch, rows mixed in a bounded shuffle buffer, all from ``options.seed``;
   each block standardised and its labels encoded as it is read.  The validation rows
   are those the row rule of :mod:`chainrule.data.rows` picks (seeded by
   ``options.seed``), about ``validation_split`` of them, held out without loading
   anything: not the random draw of in-memory training.  The training metrics are
   running sums over the epoch's batches (:mod:`chainrule.training.running_metrics`):
   the same figures as in memory, over the outputs of the batches as they were trained
   on.

Memory holds the shuffle buffer, a block or two and (up to a buffer's worth) the
validation rows, whatever the size of the file.  A file of one block with a buffer of at
least its rows and no validation split trains the very weights the in-memory path does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .data.blocks import BLOCK_BYTES, MAX_LABELS, Statistics, open_block_reader, statistics
from .data.errors import DataFileError, shown
from .data.streaming import DEFAULT_BUFFER_ROWS, StreamingSource
from .io.interrupts import deferred_interrupts
from .nn import MLP
from .training import History, fit
from .training.data import DataError

Encoder = Callable[[np.ndarray], np.ndarray]


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
    notify: Callable[[str], None] | None = None,
) -> tuple[Any, History]:
    """``TabularModel.train_stream``: (model, history) trained on the file at ``path``
    (see the module's docstring).  ``notify`` is given a line once the statistics pass
    is done; ``guess_task`` is the in-memory path's guess from the target's values."""
    reader = open_block_reader(path, target, feature_names, drop_missing, na_values, block_bytes)
    started = time.perf_counter()
    with deferred_interrupts() as check_interrupts:  # Ctrl-C acts between blocks
        stats = statistics(reader, check_interrupts)
    if notify is not None:
        seconds = time.perf_counter() - started
        notify(
            f"statistics of {path}: {stats.rows} rows, {len(reader.feature_names)} features "
            f"in {reader.n_blocks} blocks ({seconds:.1f}s, {stats.rows / seconds:,.0f} rows/s)"
        )
    keys = _distinct_values(stats)
    if task is None:
        if keys is None and stats.target_mean is None:
            raise DataFileError(_too_many_labels(path, target))
        task = "regress" if keys is None else guess_task(keys)
    model = cls(network=None, task=task, feature_names=reader.feature_names, target_name=target)
    if options.standardize:
        model.input_mean = stats.mean
        model.input_scale = np.where(stats.std > 0, stats.std, 1.0)
    if task == "classify":
        if keys is None:
            raise DataFileError(_too_many_labels(path, target))
        encode, width, output, loss = _classes(model, keys, options, path)
    else:
        encode, width, output, loss = _regression(model, stats, reader, options, path)
    sizes = [len(reader.feature_names), *options.hidden, width]
    model.network = MLP(sizes, options.activation, output, seed=options.seed)
    optimizer, callbacks, metrics = model._training_setup(options)

    def transform(features: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = features if model.input_mean is None else model.scale_inputs(features)
        return scaled, encode(raw)

    source = StreamingSource(
        reader, options.batch_size, buffer_rows, shuffle=True, seed=options.seed,
        transform=transform, validation_split=options.validation_split,
        split_seed=options.seed, dtype=model.network.dtype,
    )  # fmt: skip
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            model.network, loss, optimizer, source, None, epochs=options.epochs,
            batch_size=options.batch_size, callbacks=callbacks, metrics=metrics,
            verbose=options.verbose, seed=options.seed,
        )  # fmt: skip
    model._summarise(history, optimizer, options, loss, stats.rows, started)
    model.summary["streamed"] = {
        "blocks": reader.n_blocks,
        "buffer_rows": buffer_rows,
        "validation": "rows whose seeded hash of their index is below the split",
    }
    return model, history


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
    """The encoder of raw values to the standardised target, width, output and loss."""
    if stats.target_mean is None:
        assert stats.not_a_number is not None
        block, k, _, value = stats.not_a_number
        file, line = reader.where(block, k)
        raise DataFileError(
            f"{file}: column '{model.target_name}' holds '{shown(value)}' at {line}, which "
            "is not a number; regression needs a numeric target"
        )
    output = options.output or "identity"
    if output != "identity":
        raise ValueError(f"regression uses an identity output, not {output}")
    model.target_mean, model.target_scale = stats.target_mean, stats.target_std or 1.0
    mean, scale = model.target_mean, model.target_scale

    def encode(raw: np.ndarray) -> np.ndarray:
        try:
            values = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{path}: the target changed during training") from None
        return (values - mean) / scale

    return encode, 1, output, options.loss or "mse"

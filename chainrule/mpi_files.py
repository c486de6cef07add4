"""``train``, ``evaluate`` and ``predict`` on a data file under ``mpirun -n N``: each
rank reads only its share of the file (:mod:`chainrule.data.shares`).

* train: each rank keeps the rows of its share (contiguous, in rank order, so the
  ranks' rows end to end are the file's rows in its order); the standardisation
  statistics, the target's scaling and the classes are those of every rank's rows
  (:meth:`TabularModel.train` with the communicator), and the sample order is the
  file's order, so the model is the one a single process trains on the file.
* evaluate: each rank predicts the rows of its share; the predictions and the true
  targets (not the features) are gathered, in rank order, and the report is computed
  from them as one process computes it from the whole file (counts exactly; figures to
  the rounding of outputs that BLAS may round differently in another batch).
* predict: each rank predicts whole chunks of those one process predicts (the same
  blocks, cut alike: a row's output can depend on the rows it is predicted with) into
  a temporary file of its own (Arrow IPC, on its local disk), then hands it to rank 0
  piece by piece (a broadcast from that rank); rank 0 writes the one output, in the
  file's order, atomically as one process does: the same bytes.  Memory stays bounded
  by a chunk on every rank.

A bad value on one rank stops every rank with its message (``raise_together``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
import pyarrow as pa

from .data.csv_blocks import BLOCK_BYTES
from .data.errors import DataFileError
from .data.shares import SharedFile, read_share
from .data.tables import Source, Table
from .data.writers import TableWriter, output_format
from .distributed import Communicator
from .evaluation import EvaluationReport, classification_report, regression_report
from .io import check_not_an_input, open_atomic
from .io.interrupts import deferred_interrupts
from .tabular import (
    PREDICTION_ROWS,
    OutputOverflow,
    TabularModel,
    numbered,
)
from .training.data import DataError
from .training.parallel import raise_together

PIECE_BYTES = 4 << 20  # a rank's predictions travel to rank 0 in pieces of this size


def read_rank_table(
    comm: Communicator,
    path: str | os.PathLike,
    target: str | None,
    feature_names: Sequence[str] | None = None,
    drop_missing: bool = False,
    na_values: Sequence[str] | None = None,
) -> tuple[Table, int, int]:
    """This rank's share of the file (see :func:`chainrule.data.shares.read_share`), the
    number of rows kept on every rank together and the number dropped (missing values).
    An error on any rank stops every rank with it."""
    with raise_together(comm):
        table, _ = read_share(
            path, target, comm.rank, comm.size, feature_names, drop_missing, na_values
        )
    counts = np.array(comm.allgather([len(table.features), len(table.dropped_lines)]))
    kept, dropped = (int(v) for v in counts.sum(axis=0))
    if kept == 0:
        what = (
            "no rows left after dropping those with missing values" if dropped else "no data rows"
        )
        raise DataFileError(f"{Source(path).path}: {what}")
    return table, kept, dropped


def held_out_share(
    comm: Communicator, y: np.ndarray, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``chainrule.holdout.held_out_rows`` on every rank's rows end to end (the labels
    are gathered when the split is stratified; otherwise only the row counts count):
    this rank's (train, test) row indices among its own rows."""
    from .holdout import held_out_rows

    counts = comm.allgather(len(y))
    offset = sum(counts[: comm.rank])
    if stratify:
        labels = np.asarray(y)
        labels = labels.astype(str) if labels.dtype.kind == "O" else labels
        everything = gathered(comm, labels)
    else:
        everything = np.zeros(sum(counts))
    train, test = held_out_rows(everything, fraction, seed, stratify)
    mine = slice(offset, offset + len(y))
    return (
        train[(train >= mine.start) & (train < mine.stop)] - offset,
        test[(test >= mine.start) & (test < mine.stop)] - offset,
    )


def gathered(comm: Communicator, array: np.ndarray) -> np.ndarray:
    """Every rank's ``array``, end to end in rank order, on every rank."""
    return np.concatenate(comm.allgather(np.ascontiguousarray(array)))


def _scored(model: TabularModel, X: np.ndarray, y_raw: np.ndarray) -> tuple[np.ndarray, ...]:
    """This rank's true targets and outputs (probabilities, or values), as
    :meth:`TabularModel.evaluate` computes them."""
    if model.task == "classify":
        if not len(X):
            return np.empty(0, np.int64), np.empty((0, len(model.classes or [])), np.float64)
        return model.class_indices(y_raw).astype(np.int64), model.predict_proba(X)
    truth = model._numeric_target(y_raw, "a regression model is scored on numbers")
    return truth, model.predict(X) if len(X) else np.empty(0, np.float64)


def _report(comm: Communicator, model: TabularModel, truth, outputs) -> EvaluationReport:
    """The report on every rank's rows, end to end in rank order."""
    truth, outputs = gathered(comm, truth), gathered(comm, outputs)
    if model.task == "classify":
        return classification_report(model.classes or [], truth, outputs.argmax(axis=1), outputs)
    return regression_report(truth, outputs)


def evaluate_rows(
    comm: Communicator, model: TabularModel, X: np.ndarray, y_raw: np.ndarray
) -> EvaluationReport:
    """:meth:`TabularModel.evaluate` over every rank's rows (X, y_raw are this rank's):
    the report one process gives on all the rows end to end in rank order."""
    with raise_together(comm):
        truth, outputs = _scored(model, X, y_raw)
    return _report(comm, model, truth, outputs)


def evaluate_file(
    comm: Communicator,
    model: TabularModel,
    path: str | os.PathLike,
    target: str,
    drop_missing: bool = False,
    na_values: Sequence[str] | None = None,
) -> EvaluationReport:
    """:meth:`TabularModel.evaluate_csv` with each rank reading and predicting its share."""
    table, _, _ = read_rank_table(comm, path, target, model.feature_names, drop_missing, na_values)
    with raise_together(comm):
        y_raw = table.target
        if model.task == "regress":
            y_raw = table.numeric_target(path, "a regression model is scored on numbers")
        try:
            truth, outputs = _scored(model, table.features, y_raw)
        except OutputOverflow as error:
            where = numbered(table.unit, table.lines[error.rows])
            raise error.naming(f"{path}: {where}") from None
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
    return _report(comm, model, truth, outputs)


def predict_file(
    comm: Communicator,
    model: TabularModel,
    source: str | os.PathLike,
    destination: str | os.PathLike | None,
    proba: bool = False,
    skip_missing: bool = False,
    keep: Sequence[str] = (),
    ignore: Sequence[str] = (),
    na_values: Sequence[str] | None = None,
) -> int:
    """:meth:`TabularModel.predict_csv` (or ``write_predictions`` to standard output when
    ``destination`` is None) with each rank predicting its blocks; rank 0 writes the one
    output.  Returns the rows written."""
    keep = list(dict.fromkeys(keep))
    with contextlib.ExitStack() as files:
        with raise_together(comm):
            if destination is not None:
                check_not_an_input(destination, [source])
            model._check_prediction_source(source, proba, keep, ignore)
            # removed when closed, or by the system when the process ends
            part = files.enter_context(tempfile.TemporaryFile())
            rows = _predict_share(
                comm, model, source, part, proba, skip_missing, keep, ignore, na_values
            )
        return _gather_output(comm, model, files, part, destination, proba, keep, rows)


def _predict_share(comm, model, source, part, proba, skip_missing, keep, ignore, na_values) -> int:
    """This rank's rows' predictions as an Arrow IPC stream into ``part``, one batch per
    chunk predicted."""
    opened = Source(source)
    columns = opened.columns(
        None, model.feature_names, model._ignored_columns(ignore), keep, na_values, skip_missing
    )
    # whole chunks of those one process predicts (the same blocks, cut alike): a row's
    # outputs can depend on the rows predicted with it (BLAS kernels treat a batch's
    # last rows apart), so only the same chunks give the same bytes
    shared = SharedFile(opened, columns, comm.size, block_bytes=BLOCK_BYTES)
    writer, written = None, 0
    with deferred_interrupts() as check_interrupts:
        for chunk in shared.block_chunks(comm.rank, comm.size, PREDICTION_ROWS):
            check_interrupts()
            table = model._predicted_chunk(source, chunk, proba, keep)
            if writer is None:
                writer = pa.ipc.new_stream(part, table.schema)
            writer.write_table(table)
            written += table.num_rows
    if writer is not None:
        writer.close()
    part.flush()
    return written


def _gather_output(comm, model, files, part, destination, proba, keep, rows) -> int:
    """Rank 0 receives every rank's part (all of them before writing, so no rank waits
    in a collective while rank 0 fails), then writes them, in rank order, as one output."""
    counts = comm.allgather(rows)
    sizes = comm.allgather(part.tell())
    parts = [part]
    for rank in range(1, comm.size):
        into = None
        if comm.rank == 0:
            into = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            parts.append(into)
        _send_part(comm, part if rank == comm.rank else None, rank, sizes[rank], into)
    with raise_together(comm):
        if comm.rank == 0:
            file_format = output_format(destination)
            if destination is None:
                _write_parts(model, parts, sys.stdout, file_format, proba, keep)
            else:
                with open_atomic(destination, "wb") as stream:
                    _write_parts(model, parts, stream, file_format, proba, keep)
    return sum(counts)


def _send_part(comm, part, root: int, size: int, into) -> None:
    """Rank ``root``'s part, ``size`` bytes, broadcast from it in pieces; rank 0 keeps
    them in ``into``, the other ranks drop them."""
    if part is not None:
        part.seek(0)
    for start in range(0, size, PIECE_BYTES):
        piece = np.empty(min(PIECE_BYTES, size - start), dtype=np.uint8)
        if part is not None:
            piece[:] = np.frombuffer(part.read(len(piece)), dtype=np.uint8)
        comm.broadcast(piece, root=root)
        if into is not None:
            into.write(piece.data)


def _write_parts(model, parts, stream: IO[Any], file_format: str, proba: bool, keep) -> None:
    """The parts' tables one after the other, as :meth:`TabularModel.write_predictions`
    writes its chunks."""
    writer = TableWriter(stream, file_format)
    schema, written = model._prediction_schema(proba), False
    with deferred_interrupts() as check_interrupts:
        for part in parts:
            if part.tell() == 0:  # a rank without rows
                continue
            part.seek(0)
            for batch in pa.ipc.open_stream(part):
                check_interrupts()
                table = pa.Table.from_batches([batch])
                schema, written = table.schema, True
                writer.write(table)
    if not written and keep:  # no rows: the kept columns' header still shows
        schema = pa.schema([pa.field(name, pa.string()) for name in keep] + list(schema))
    writer.close(schema)

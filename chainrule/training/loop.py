"""The training loop: mini-batch gradient descent with the engine's gradients.

For each epoch and each batch: forward, loss and backward (``value_and_grad``, which
backpropagates a plain chain of gates without recording a graph), ``optimizer.step()``.
Then the validation loss and the metrics, the callbacks, and the progress display.

The training metrics are those of the epoch's batches as they were trained on: each
batch's outputs come from the forward pass its gradients needed (with the weights of
that step, dropout active), and the metric is taken over all of them at the epoch's
end, as Keras does.  So they cost no extra pass over the data, and they are of the
same kind as the training loss, a running figure over the epoch.  (They used to be
computed on a second pass over the whole training set, most of an epoch's time.)
For a batch source (streamed, possibly bigger than memory) the outputs are not kept:
each batch adds to running sums that give the same figures (``running_metrics.py``),
and the validation rows' metrics likewise.

A batch whose loss is NaN or infinite stops training with :class:`TrainingDiverged`
before its gradients reach the weights (a test of one number per step); at each
epoch's end the parameters are checked too, since one can be infinite while the loss
stays finite (a ReLU unit whose bias went to -inf contributes 0).

When the step is the notes' theta -= c g (plain SGD) and nothing but the optimizer
reads the gradients, backpropagation is seeded with c instead of 1, so the gradients
arrive as c g and the update is a subtraction: one pass through every gradient fewer
per step, for the same result up to rounding.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from math import isfinite
from typing import Any

import numpy as np

from ..data.frames import frame_arrays
from ..data.inputs import batch_source, is_batch_input, is_dataframe
from ..data.rows import check_fraction
from ..data.sources import BatchSource, RowsOf
from ..distributed import resolve
from ..errors import TrainingDiverged
from ..nn import Loss, Module, get_loss, objective, value_and_grad
from ..nn.init import as_generator
from ..nn.losses import outputs_of_predictions
from ..optim import Optimizer
from .callbacks import Callback
from .data import DataError, DataLoader, check_features, check_targets
from .metrics import Metric, accuracy, get_metric
from .parallel import (
    GlobalBatches,
    GradientSum,
    broadcast_start,
    gather_rows,
    global_layout,
    global_sum,
    raise_together,
    shard_rows,
    split_validation,
)
from .progress import ProgressDisplay
from .running_metrics import CountedAccuracy, RunningMetrics
from .state import History, TrainingState


def _model_dtype(model: Module) -> np.dtype:
    params = model.parameters()
    if not params:
        raise ValueError("the model has no parameters to train")
    return params[0].dtype


def _prepare_targets(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return y.astype(dtype, copy=False) if y.dtype.kind == "f" else y


def _output_width(model: Module, X: np.ndarray) -> int:
    with model.inference():
        out = model(X[:1])
    return 1 if out.ndim == 1 else out.shape[-1]


def _validate_against_loss(
    loss: Loss, y: np.ndarray, width: int, dtype: np.dtype, name: str
) -> None:
    """Every target check the loss makes (label range, shape, values) on all of y, before
    training starts, so a bad label on the last row is not found an hour in."""
    try:
        loss.check_targets(y, width, dtype)
    except ValueError as error:
        raise DataError(f"{name}: {error}") from None


def _split_validation(X, y, fraction: float, rng: np.random.Generator):
    """(the training rows' indices, (X_val, y_val)): ``fraction`` of the rows drawn at
    random.  Neither is copied out of X: the source gathers each training batch, and
    X_val gathers each validation batch (``RowsOf``); y_val, small, is copied."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    n_val = round(len(X) * fraction)
    if n_val < 1 or n_val >= len(X):
        raise DataError(
            f"validation_split={fraction} leaves no training or no validation samples from {len(X)}"
        )
    order = rng.permutation(len(X))
    val, train = order[:n_val], order[n_val:]
    return train, (RowsOf(X, val), y[val])


def _checked_arrays(model, loss_fn, X, y, dtype, sample_weight):
    """X in the model's dtype, y and the sample weights checked against X and every
    target against the loss (before training, so a bad last label is not found an hour
    in); also the model's output width."""
    X = check_features(X).astype(dtype, copy=False)
    y = _prepare_targets(check_targets(y, len(X)), dtype)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(w) != len(X):
            raise DataError(f"sample_weight has {len(w)} entries but X has {len(X)} rows")
    width = _output_width(model, X)
    _validate_against_loss(loss_fn, y, width, dtype, "y")
    return X, y, w, width


def _in_memory_source(
    model, loss_fn, X, y, dtype, batch_size, shuffle, seed, sample_weight,
    validation_data, validation_split,
):  # fmt: skip
    """Arrays in memory: checked whole (every target against the loss before training),
    the validation rows split off at random from the seed, and the ArraySource whose
    per-epoch permutations come from the same generator after that split."""
    X, y, w, width = _checked_arrays(model, loss_fn, X, y, dtype, sample_weight)
    rng = as_generator(seed)
    rows = None
    if validation_data is not None:
        X_val, y_val = _validation_arrays(validation_data, dtype)
        _validate_against_loss(loss_fn, y_val, width, dtype, "y_val")
    elif validation_split:
        rows, (X_val, y_val) = _split_validation(X, y, validation_split, rng)
    else:
        X_val = y_val = None
    if X_val is not None and X_val.shape[1] != X.shape[1]:
        raise DataError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    loader = DataLoader(X, y, batch_size, shuffle=shuffle, seed=rng, sample_weight=w, rows=rows)
    return loader, X, X_val, y_val


def _parallel_source(
    communicator, model, loss_fn, X, y, dtype, batch_size, shuffle, seed, sample_weight,
    validation_data, validation_split, shard,
):  # fmt: skip
    """This rank's arrays, checked on every rank together (one rank's bad row stops
    them all, naming it), sharded as ``shard`` says, and the GlobalBatches that give
    each rank its rows of every global batch, in one process's sample order."""
    with raise_together(communicator):
        if shard not in (False, True, "strided"):
            raise ValueError(f"shard must be False, True or 'strided', got {shard!r}")
        rank, size = communicator.rank, communicator.size
        n = len(X) if np.ndim(X) == 2 else 0
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if shard is True and n >= size:
            # this rank's rows rank::size as views: the whole data is neither checked
            # nor copied by every rank (a bad value is named by its row in the whole);
            # the targets, little to check, are checked whole
            X = check_features(np.asarray(X)[rank::size], row_step=size, row_offset=rank)
            X = X.astype(dtype, copy=False)
            y = _prepare_targets(check_targets(y, n), dtype)
            width = _output_width(model, X)
            _validate_against_loss(loss_fn, y, width, dtype, "y")
            if w is not None and len(w) != n:
                raise DataError(f"sample_weight has {len(w)} entries but X has {n} rows")
            y, w = y[rank::size], None if w is None else w[rank::size]
        else:
            if np.ndim(X) == 2 and len(X) == 0 and shard is not True:
                X = np.asarray(X)  # a rank without rows: the others may have some
            else:
                X = check_features(X)
            X = X.astype(dtype, copy=False)
            y = _prepare_targets(check_targets(y, len(X)), dtype)
            if w is not None and len(w) != len(X):
                raise DataError(f"sample_weight has {len(w)} entries but X has {len(X)} rows")
            width = _output_width(model, X)
            _validate_against_loss(loss_fn, y, width, dtype, "y")
            if shard is True:  # fewer rows than ranks
                rows = shard_rows(len(X), rank, size)
                X, y, w = X[rows], y[rows], None if w is None else w[rows]
        if type(loss_fn).penalty is not Loss.penalty:
            # each rank would add the whole batch's term, scaled by its share: not the sum
            raise ValueError(
                f"data-parallel fit takes a loss without a penalty term; {loss_fn!r} has one"
            )
        rng = as_generator(seed)
        X_val = y_val = None
        if validation_data is not None:
            X_val, y_val = _validation_arrays(validation_data, dtype)
            _validate_against_loss(loss_fn, y_val, width, dtype, "y_val")
            if shard is True:
                rows = shard_rows(len(X_val), communicator.rank, communicator.size)
                X_val, y_val = X_val[rows], y_val[rows]
            if X_val.shape[1] != X.shape[1]:
                raise DataError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    # the same on every rank: the global row counts decide
    owned, total = global_layout(len(X), communicator, bool(shard))
    if total == 0:
        raise DataError("X has no samples on any rank")
    if validation_data is None and validation_split:
        (X, y, w), owned, total, (X_val, y_val, _) = split_validation(
            (X, y, w), owned, total, validation_split, rng
        )
    loader = GlobalBatches(communicator, X, y, w, owned, total, batch_size, shuffle, rng)
    return loader, X, X_val, y_val


def _validation_arrays(validation_data, dtype) -> tuple[np.ndarray, np.ndarray]:
    X_val, y_val = validation_data
    if is_dataframe(X_val):
        X_val, y_val, _ = frame_arrays(X_val, y_val, dtype)
    X_val = check_features(X_val, "X_val").astype(dtype, copy=False)
    y_val = _prepare_targets(check_targets(y_val, len(X_val), "y_val"), dtype)
    return X_val, y_val


def _source_and_validation(
    model, loss_fn, X, y, dtype, batch_size, shuffle, seed, sample_weight,
    validation_data, validation_split,
) -> tuple[BatchSource, np.ndarray | None, np.ndarray | None]:  # fmt: skip
    """A batch source (iterable of batches, block reader, Dask collection, or a source as
    given) and the validation arrays when ``validation_data`` gives them; otherwise a
    ``validation_split`` is the source's own, held out by the row rule of
    ``chainrule.data.rows`` (seeded by ``seed``)."""
    if sample_weight is not None:
        raise DataError(
            "sample_weight goes with arrays; with batches, give (X, y, sample_weight) tuples"
        )
    if validation_split:
        check_fraction(validation_split)
    rng = as_generator(seed)
    X_val = y_val = None
    if validation_data is not None:
        X_val, y_val = _validation_arrays(validation_data, dtype)
        width = _output_width(model, X_val)
        _validate_against_loss(loss_fn, y_val, width, dtype, "y_val")
        validation_split = 0.0
    split_seed = int(seed) if isinstance(seed, (int, np.integer)) else int(rng.integers(2**62))
    source = batch_source(
        X, y, batch_size=batch_size, shuffle=shuffle, seed=rng, split_seed=split_seed,
        validation_split=validation_split, dtype=dtype,
    )  # fmt: skip
    return source, X_val, y_val


@contextlib.contextmanager
def _graceful_interrupt() -> Iterator[dict[str, bool]]:
    """Ctrl-C sets a flag that the loop reads after each batch, so the model is never left
    half-updated; a second Ctrl-C interrupts at once."""
    flag = {"interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["interrupted"]:
            raise KeyboardInterrupt
        flag["interrupted"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def evaluate_loss(
    model: Module,
    compute: Any,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    keep: list[np.ndarray] | None = None,
) -> float:
    """The mean loss over (X, y), in evaluation mode, without recording a graph.
    ``keep``, a list, is given each batch's prediction as the loss took it (see
    ``objective``), so the metrics need no second pass."""
    total = 0.0
    with model.inference():
        for start in range(0, len(X), batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            total += compute(xb, yb, None, keep).item() * len(xb)
    return total / len(X)


def evaluate_batches(
    model: Module,
    compute: Any,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    keep: list[np.ndarray] | None = None,
    keep_targets: list[np.ndarray] | None = None,
    running: RunningMetrics | None = None,
) -> float:
    """The mean loss over the rows of ``batches`` (``evaluate_loss`` for a source's
    held-out rows); ``keep_targets`` is given each batch's targets.  With ``running``,
    each batch's prediction goes to its running metrics instead of being kept."""
    total, rows = 0.0, 0
    scratch: list[np.ndarray] = []
    with model.inference():
        for xb, yb in batches:
            if running is not None:
                total += compute(xb, yb, None, scratch).item() * len(xb)
                running.add(yb, scratch.pop())
            else:
                total += compute(xb, yb, None, keep).item() * len(xb)
            rows += len(xb)
            if keep_targets is not None and running is None:
                keep_targets.append(yb)
    if rows == 0:
        raise DataError("the validation split holds no rows: too few rows, or a larger split")
    return total / rows


def fit(
    model: Module,
    loss: str | Loss | Callable[..., Any],
    optimizer: Optimizer,
    X: Any,
    y: Any,
    epochs: int = 10,
    batch_size: int = 32,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str | Metric] = (),
    verbose: int = 1,
    seed: int | None = None,
    sample_weight: Any = None,
    shuffle: bool = True,
    comm: Any = None,
    shard: bool | str = False,
) -> History:
    """Train ``model`` on (X, y) by mini-batch gradient descent; return the History.

    Args:
        X, y: NumPy arrays; a pandas or polars DataFrame with ``y`` the target column's
            name or the targets (the same weights as its array); a Dask array or
            DataFrame, read one chunk or partition at a time in a shuffled order; or,
            with ``y=None``, an iterable of ``(X, y[, sample_weight])`` batches (a
            function returning one per epoch; a one-shot iterator serves one epoch),
            a block reader or any ``chainrule.data.sources.BatchSource``.  See
            ``chainrule/data/sources.py``.  Outside arrays, ``validation_split`` holds
            out the rows whose seeded hash of their index is below it
            (``chainrule.data.rows``), and each batch's targets are checked as it comes.
        loss: a loss name ("cross_entropy", "binary_cross_entropy", "mse", ...), a
            Loss, one of ``nn.functional``'s losses, or any function
            ``loss(prediction, target[, sample_weight]) -> scalar Tensor`` on the
            network's outputs.  Cross-entropy and BCE (by name, Loss or function) are
            computed on the logits before a matching softmax or sigmoid output layer
            (stable and fast).
        validation_data: (X_val, y_val), or ``validation_split``: a fraction of (X, y)
            drawn at random (from ``seed``) and held out.
        metrics: names ("accuracy", "mae", "r2") or functions f(y_true, outputs).
            On the training set, each epoch's metric is taken over the outputs of
            the epoch's batches as they were trained on (the forward passes the
            gradients needed: the weights of each step, dropout active; no extra
            pass), as Keras does: a running figure, as the training loss is.  On
            the validation set, over the outputs after the epoch, in inference mode
            (from the forward passes of the validation loss).
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        seed: makes the validation split and the batch order reproducible.
        comm: data-parallel training over MPI: an mpi4py communicator
            (``MPI.COMM_WORLD``), ``"auto"`` (MPI.COMM_WORLD when launched by mpirun
            with more than one rank), or None for this process alone.  Every rank
            calls fit with its own rows (or, with ``shard=True``, the whole data, of
            which it keeps rows rank::size), the same model, optimizer, seed and
            arguments.  The ranks train as one process would on all the rows, in the
            same sample order: a global batch is ``batch_size`` rows split over the
            ranks, the gradients are summed over them in one allreduce per step, the
            weights and optimizer state start from rank 0's; the losses, metrics and
            stop decisions are global, and only rank 0 shows progress and writes
            checkpoints.  ``validation_data`` is, like X, each rank's own rows (or
            sharded with ``shard``).
        shard: how a rank's rows sit in the whole data, which fixes the sample order
            the ranks reproduce: False, each rank's own rows, the ranks' rows end to
            end in rank order making the whole; True, the whole data on every rank, of
            which each keeps rows rank::size; "strided", each rank's own rows that are
            rows rank::size of the whole (what a reader of its rows alone gives).

    Raises:
        TrainingDiverged: a batch's loss is NaN or infinite, or a parameter is at an
            epoch's end (the message says where and hints at the learning rate).  The
            failing batch's gradients are not applied: the model keeps the weights
            that batch was computed with, which may themselves be unusable.  Unless a
            callback sets ``stops_on_divergence`` (:class:`TerminateOnNaN`): training
            then stops there and fit returns, with ``history.terminated_on_nan``.
    """
    loss_fn = get_loss(loss)
    compute = objective(model, loss_fn)
    dtype = _model_dtype(model)
    if is_dataframe(X):
        X, y, _ = frame_arrays(X, y, dtype)
    streamed = is_batch_input(X, y)
    communicator = resolve(comm)
    parallel = communicator.size > 1
    if parallel and streamed:
        raise ValueError(
            "data-parallel fit takes arrays or DataFrames (each rank its rows), not batches"
        )
    # in memory, every target is checked below, before the first batch: not again for
    # each batch; a source's batches are checked by the loss as they come
    loss_and_gradients = value_and_grad(model, loss_fn, targets_checked=not streamed)
    if parallel and seed is None:  # every rank must draw the same batches
        seed = communicator.broadcast_object(int(np.random.SeedSequence().entropy % 2**63))
    reduction = None
    if streamed:
        loader, X_val, y_val = _source_and_validation(
            model, loss_fn, X, y, dtype, batch_size, shuffle, seed, sample_weight,
            validation_data, validation_split,
        )  # fmt: skip
        X = None
    elif not parallel:
        loader, X, X_val, y_val = _in_memory_source(
            model, loss_fn, X, y, dtype, batch_size, shuffle, seed, sample_weight,
            validation_data, validation_split,
        )  # fmt: skip
    else:
        loader, X, X_val, y_val = _parallel_source(
            communicator, model, loss_fn, X, y, dtype, batch_size, shuffle, seed,
            sample_weight, validation_data, validation_split, shard,
        )  # fmt: skip
        broadcast_start(communicator, model, optimizer)
        reduction = GradientSum(communicator, optimizer)
    named_metrics = [get_metric(m) for m in metrics]
    # each batch's prediction as the loss took it, and its targets (for the metrics)
    kept: list[np.ndarray] | None = [] if named_metrics else None
    kept_targets: list[np.ndarray] = []
    to_outputs = outputs_of_predictions(model, loss_fn) if named_metrics else None
    # accuracy alone is a count: the kept outputs are counted as they come, group by group
    counted = None
    only_accuracy = all(metric is accuracy for _, metric in named_metrics)
    if to_outputs is not None and only_accuracy and not (streamed or parallel):
        counted = CountedAccuracy(to_outputs)
    # a streamed epoch may hold more rows than memory: its metrics are running sums
    running = running_val = None
    if streamed and to_outputs is not None:
        running = RunningMetrics(named_metrics, to_outputs)
        running_val = RunningMetrics(named_metrics, to_outputs)
    stops_on_divergence = any(getattr(c, "stops_on_divergence", False) for c in callbacks)

    history = History()
    has_validation = X_val is not None or (streamed and loader.has_validation)
    state = TrainingState(model, optimizer, history, has_validation=has_validation)
    state.writes_files = communicator.rank == 0
    display = ProgressDisplay(
        verbose if communicator.rank == 0 else 0,
        epochs,
        len(loader) if X is not None else loader.expected_batches,
    )
    for callback in callbacks:
        callback.on_train_begin(state)
    was_training = model.training
    model.train()
    optimizer.zero_grad()  # no gradient left over from before fit() joins the first step
    reads_gradients = [c for c in callbacks if _overrides(c, "on_backward_end")]
    interrupted = False
    try:
        with _graceful_interrupt() as interrupt:
            for epoch in range(1, epochs + 1):
                display.start_epoch(epoch)
                # whether only the optimizer sees the gradients (checked each epoch: a
                # callback may have unfrozen a parameter)
                private = not reads_gradients and _optimizes_all(optimizer, model)
                for batch_index, batch in enumerate(loader):
                    step_size = optimizer.plain_step_size() if private else None
                    if reduction is not None:
                        # this rank's share W_r/W of the global batch's loss: the
                        # ranks' gradients then sum to the global batch's
                        share = loader.shares[batch_index]
                        scale = share if step_size is None else step_size * share
                        local = 0.0
                        if len(batch[0]):
                            local = loss_and_gradients(*batch, grad_scale=scale, keep=kept)
                        value, interrupted = reduction.reduce(
                            local * share, interrupt["interrupted"]
                        )
                    elif step_size is not None:
                        # theta -= c g: backpropagation delivers c g itself (seeded with
                        # c, a free product at the loss gate), the update only subtracts
                        value = loss_and_gradients(*batch, grad_scale=step_size, keep=kept)
                    else:
                        value = loss_and_gradients(*batch, keep=kept)
                    finite = isfinite(value)
                    if not finite:  # its gradients are not applied
                        optimizer.zero_grad()
                        if not stops_on_divergence:
                            raise _diverged(
                                epoch, batch_index, value, optimizer, history,
                                batch[0] if X is None else X,
                            )  # fmt: skip
                        state.stop_training = history.terminated_on_nan = True
                    elif step_size is not None:
                        optimizer.step(release_grads=True, prescaled=True)
                    else:
                        for callback in reads_gradients:
                            callback.on_backward_end(state, batch_index)
                        # the gradients are dropped as they are used (their memory is
                        # the update's work space): nothing of this batch outlives it
                        optimizer.step(release_grads=True)
                    if running is not None and kept:
                        running.add(batch[1], kept.pop())
                    elif kept is not None:
                        kept_targets.append(batch[1])
                        if counted is not None:
                            counted.add(kept, kept_targets)
                    rows = len(batch[0]) if reduction is None else int(loader.rows[batch_index])
                    display.batch_done(rows, value)
                    for callback in callbacks:
                        callback.on_batch_end(state, batch_index, value)
                    if reduction is None:
                        interrupted = interrupt["interrupted"]
                    if interrupted or state.stop_training:
                        break
                if not history.terminated_on_nan:
                    _check_parameters(model, epoch, optimizer, history, stops_on_divergence)
                logs = {"loss": display.loss_sum / max(display.samples, 1)}
                kept_val: list[np.ndarray] | None = [] if named_metrics else None
                val_targets = [y_val]
                if X_val is not None and not parallel:
                    logs["val_loss"] = evaluate_loss(
                        model, compute, X_val, y_val, max(batch_size, 256), kept_val
                    )
                elif X_val is not None:  # the mean over every rank's validation rows
                    local = 0.0
                    if len(X_val):
                        local = evaluate_loss(
                            model, compute, X_val, y_val, max(batch_size, 256), kept_val
                        )
                    loss_sum, count = global_sum(communicator, local * len(X_val), len(X_val))
                    logs["val_loss"] = loss_sum / count
                elif has_validation:
                    val_targets = []
                    logs["val_loss"] = evaluate_batches(
                        model, compute, loader.validation_batches(max(batch_size, 256)),
                        kept_val, val_targets, running_val,
                    )  # fmt: skip
                if running is not None and running_val is not None:
                    logs.update(running.logs())
                    if X_val is not None:  # arrays given as validation_data: in memory
                        val_logs = _metric_logs(named_metrics, to_outputs, kept_val, val_targets)
                    else:
                        val_logs = running_val.logs()
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                elif kept is not None:
                    targets, val_kept = kept_targets, kept_val
                    if parallel:  # the metrics over every rank's outputs
                        kept[:] = gather_rows(communicator, kept)
                        targets = gather_rows(communicator, kept_targets)
                        if X_val is not None:
                            val_kept = gather_rows(communicator, kept_val)
                            val_targets = gather_rows(communicator, [y_val])
                    if counted is not None:
                        figure = counted.value(kept, targets)
                        if figure is not None:
                            logs.update({name: figure for name, _ in named_metrics})
                    else:
                        logs.update(_metric_logs(named_metrics, to_outputs, kept, targets))
                    if has_validation:
                        val_logs = _metric_logs(named_metrics, to_outputs, val_kept, val_targets)
                        logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    kept.clear()
                    kept_targets.clear()
                logs["lr"] = optimizer.lr
                history.record(epoch, logs)
                display.end_epoch(epoch, logs)
                if interrupted if parallel else interrupt["interrupted"]:
                    history.interrupted = True
                    display.note("interrupted: training stopped after the current batch")
                    break
                for callback in callbacks:
                    callback.on_epoch_end(state, epoch, logs)
                if state.stop_training:
                    break
    finally:
        display.close()
        model.train(was_training)
    for callback in callbacks:
        callback.on_train_end(state)
    return history


def _optimizes_all(optimizer: Optimizer, model: Module) -> bool:
    """Whether every parameter of the model that requires a gradient is the optimizer's
    (so no gradient outlives a step, where its scale could be seen)."""
    own = {id(p) for p in optimizer.params}
    return all(id(p) in own for p in model.parameters() if p.requires_grad)


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether the callback defines ``hook`` itself (the base class's does nothing)."""
    defined = getattr(type(callback), hook, None)
    return defined is not None and defined is not getattr(Callback, hook)


def _metric_logs(
    named_metrics: list[tuple[str, Any]],
    to_outputs: Callable[[np.ndarray], np.ndarray],
    predictions: list[np.ndarray],
    targets: list[np.ndarray],
) -> dict[str, float]:
    """Each metric over the outputs of an epoch's batches (``predictions``, as the loss
    took them) against their ``targets``.  For a mean over samples (accuracy, MAE) this
    is the batch-size-weighted mean of the batches' own figures."""
    if not predictions:
        return {}
    if all(metric is accuracy for _, metric in named_metrics):  # counted group by group
        figure = CountedAccuracy(to_outputs).value(list(predictions), list(targets))
        return {name: figure for name, _ in named_metrics if figure is not None}
    outputs = to_outputs(np.concatenate(predictions))
    y = np.concatenate(targets)
    return {name: metric(y, outputs) for name, metric in named_metrics}


def _check_parameters(
    model: Module, epoch: int, optimizer: Optimizer, history: History, tolerated: bool
) -> None:
    """Raise TrainingDiverged if a parameter holds NaN or inf (or, when a callback
    ``stops_on_divergence``, mark the history so the loop stops).  A sum is finite only
    if every value is: one pass per parameter, once per epoch."""
    for name, p in model.named_parameters():
        if isfinite(p.data.sum()) or np.isfinite(p.data).all():  # the sum may overflow
            continue
        if tolerated:
            history.terminated_on_nan = True
            return
        what = "nan" if np.isnan(p.data).any() else "inf"
        raise TrainingDiverged(
            f"training diverged in epoch {epoch}: parameter '{name}' holds {what} while "
            f"the loss stayed finite; lower the learning rate (it is {optimizer.lr:g})",
            epoch,
            None,
            history,
        )


def _diverged(
    epoch: int, batch: int, loss: float, optimizer: Optimizer, history: History, X: np.ndarray
) -> TrainingDiverged:
    """The error for a batch whose loss is not finite.  Before any update the weights
    are the initial ones, so the data, not the step size, are too large."""
    where = f"training diverged at epoch {epoch}, batch {batch + 1}: the loss is {loss}"
    if epoch == 1 and batch == 0:
        largest = float(np.abs(X).max())
        size = f"up to {largest:.3g}" if isfinite(largest) else "beyond its range"
        hint = (
            f"before any update, so the data overflow the network's {X.dtype} "
            f"(features {size}); scale them"
        )
    else:
        hint = f"lower the learning rate (it is {optimizer.lr:g})"
    return TrainingDiverged(f"{where}; {hint}", epoch, batch + 1, history)

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
from collections.abc import Callable, Iterator, Sequence
from math import isfinite
from typing import Any

import numpy as np

from ..errors import TrainingDiverged
from ..nn import Loss, Module, get_loss, objective, value_and_grad
from ..nn.init import as_generator
from ..nn.losses import outputs_of_predictions
from ..optim import Optimizer
from .callbacks import Callback
from .data import DataError, DataLoader, check_features, check_targets
from .metrics import Metric, get_metric
from .progress import ProgressDisplay
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


def _split_validation(X, y, w, fraction: float, rng: np.random.Generator):
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    n_val = round(len(X) * fraction)
    if n_val < 1 or n_val >= len(X):
        raise DataError(
            f"validation_split={fraction} leaves no training or no validation samples from {len(X)}"
        )
    order = rng.permutation(len(X))
    val, train = order[:n_val], order[n_val:]
    w_train = None if w is None else w[train]
    return X[train], y[train], w_train, (X[val], y[val])


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
) -> History:
    """Train ``model`` on (X, y) by mini-batch gradient descent; return the History.

    Args:
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
    # every target is checked below, before the first batch: not again for each batch
    loss_and_gradients = value_and_grad(model, loss_fn, targets_checked=True)
    dtype = _model_dtype(model)
    X = check_features(X).astype(dtype, copy=False)
    y = _prepare_targets(check_targets(y, len(X)), dtype)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(w) != len(X):
            raise DataError(f"sample_weight has {len(w)} entries but X has {len(X)} rows")
    width = _output_width(model, X)
    _validate_against_loss(loss_fn, y, width, dtype, "y")
    rng = as_generator(seed)
    if validation_data is not None:
        X_val = check_features(validation_data[0], "X_val").astype(dtype, copy=False)
        y_val = _prepare_targets(check_targets(validation_data[1], len(X_val), "y_val"), dtype)
        _validate_against_loss(loss_fn, y_val, width, dtype, "y_val")
    elif validation_split:
        X, y, w, (X_val, y_val) = _split_validation(X, y, w, validation_split, rng)
    else:
        X_val = y_val = None
    if X_val is not None and X_val.shape[1] != X.shape[1]:
        raise DataError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    named_metrics = [get_metric(m) for m in metrics]
    # each batch's prediction as the loss took it, and its targets (for the metrics)
    kept: list[np.ndarray] | None = [] if named_metrics else None
    kept_targets: list[np.ndarray] = []
    to_outputs = outputs_of_predictions(model, loss_fn) if named_metrics else None
    stops_on_divergence = any(getattr(c, "stops_on_divergence", False) for c in callbacks)

    loader = DataLoader(X, y, batch_size, shuffle=shuffle, seed=rng, sample_weight=w)
    history = History()
    state = TrainingState(model, optimizer, history, has_validation=X_val is not None)
    display = ProgressDisplay(verbose, epochs, len(loader))
    for callback in callbacks:
        callback.on_train_begin(state)
    was_training = model.training
    model.train()
    optimizer.zero_grad()  # no gradient left over from before fit() joins the first step
    reads_gradients = [c for c in callbacks if _overrides(c, "on_backward_end")]
    try:
        with _graceful_interrupt() as interrupt:
            for epoch in range(1, epochs + 1):
                display.start_epoch(epoch)
                # whether only the optimizer sees the gradients (checked each epoch: a
                # callback may have unfrozen a parameter)
                private = not reads_gradients and _optimizes_all(optimizer, model)
                for batch_index, batch in enumerate(loader):
                    step_size = optimizer.plain_step_size() if private else None
                    if step_size is not None:
                        # theta -= c g: backpropagation delivers c g itself (seeded with
                        # c, a free product at the loss gate), the update only subtracts
                        value = loss_and_gradients(*batch, grad_scale=step_size, keep=kept)
                    else:
                        value = loss_and_gradients(*batch, keep=kept)
                    finite = isfinite(value)
                    if not finite:  # its gradients are not applied
                        optimizer.zero_grad()
                        if not stops_on_divergence:
                            raise _diverged(epoch, batch_index, value, optimizer, history, X)
                        state.stop_training = history.terminated_on_nan = True
                    elif step_size is not None:
                        optimizer.step(release_grads=True, prescaled=True)
                    else:
                        for callback in reads_gradients:
                            callback.on_backward_end(state, batch_index)
                        # the gradients are dropped as they are used (their memory is
                        # the update's work space): nothing of this batch outlives it
                        optimizer.step(release_grads=True)
                    if kept is not None:
                        kept_targets.append(batch[1])
                    display.batch_done(len(batch[0]), value)
                    for callback in callbacks:
                        callback.on_batch_end(state, batch_index, value)
                    if interrupt["interrupted"] or state.stop_training:
                        break
                if not history.terminated_on_nan:
                    _check_parameters(model, epoch, optimizer, history, stops_on_divergence)
                logs = {"loss": display.loss_sum / max(display.samples, 1)}
                kept_val: list[np.ndarray] | None = [] if named_metrics else None
                if X_val is not None:
                    logs["val_loss"] = evaluate_loss(
                        model, compute, X_val, y_val, max(batch_size, 256), kept_val
                    )
                if kept is not None:
                    logs.update(_metric_logs(named_metrics, to_outputs, kept, kept_targets))
                    if X_val is not None:
                        val_logs = _metric_logs(named_metrics, to_outputs, kept_val, [y_val])
                        logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    kept.clear()
                    kept_targets.clear()
                logs["lr"] = optimizer.lr
                history.record(epoch, logs)
                display.end_epoch(epoch, logs)
                if interrupt["interrupted"]:
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

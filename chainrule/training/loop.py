"""The training loop: mini-batch gradient descent with the engine's gradients.

For each epoch and each batch: forward, loss and backward (``value_and_grad``, which
backpropagates a plain chain of gates without recording a graph), ``optimizer.step()``.
Then the validation loss and the metrics, the callbacks, and the progress display.

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
from typing import Any

import numpy as np

from ..nn import Loss, Module, get_loss, objective, value_and_grad
from ..nn.init import as_generator
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
    model: Module, compute: Any, X: np.ndarray, y: np.ndarray, batch_size: int
) -> float:
    """The mean loss over (X, y), in evaluation mode, without recording a graph."""
    total = 0.0
    with model.inference():
        for start in range(0, len(X), batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            total += compute(xb, yb).item() * len(xb)
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
        metrics: names ("accuracy", "mae", "r2") or functions f(y_true, outputs),
            computed on the whole training and validation sets after each epoch.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        seed: makes the validation split and the batch order reproducible.
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
                        value = loss_and_gradients(*batch, grad_scale=step_size)
                        optimizer.step(release_grads=True, prescaled=True)
                    else:
                        value = loss_and_gradients(*batch)
                        for callback in reads_gradients:
                            callback.on_backward_end(state, batch_index)
                        # the gradients are dropped as they are used (their memory is
                        # the update's work space): nothing of this batch outlives it
                        optimizer.step(release_grads=True)
                    display.batch_done(len(batch[0]), value)
                    for callback in callbacks:
                        callback.on_batch_end(state, batch_index, value)
                    if interrupt["interrupted"] or state.stop_training:
                        break
                logs = {"loss": display.loss_sum / max(display.samples, 1)}
                if X_val is not None:
                    logs["val_loss"] = evaluate_loss(
                        model, compute, X_val, y_val, max(batch_size, 256)
                    )
                if named_metrics:
                    logs.update(_metric_logs(model, named_metrics, X, y, X_val, y_val))
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


def _metric_logs(model, named_metrics, X, y, X_val, y_val) -> dict[str, float]:
    logs = {}
    outputs = model.predict(X)
    for name, metric in named_metrics:
        logs[name] = metric(y, outputs)
    if X_val is not None:
        val_outputs = model.predict(X_val)
        for name, metric in named_metrics:
            logs[f"val_{name}"] = metric(y_val, val_outputs)
    return logs

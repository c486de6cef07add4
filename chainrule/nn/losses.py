"""Loss modules, and how a loss meets a network's final layer.

A loss that has a fused, stable form on logits (cross-entropy with softmax, BCE with
sigmoid) is computed on the network's logits when the network ends in that layer:
``objective(model, loss)`` wires this up and refuses pairs that do not fit.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autodiff import Tensor, no_grad
from ..autodiff.chain import AnyLink, value_and_grad_of_chain
from ..autodiff.mode import state
from . import functional as F
from .functional import LossInputError
from .layers import make_activation


class Loss:
    """A loss: ``loss(prediction, target, sample_weight=None) -> scalar Tensor``.

    ``fuses`` names the output layer whose values this loss takes as logits (None for
    losses on the network's outputs as they are); ``needs_output`` names the output
    layer the loss requires, if any.
    """

    name = "loss"
    fuses: str | None = None
    needs_output: str | None = None
    # link(shape, dtype, target, sample_weight, checked) -> a link: the loss as one gate on
    # an (N, D) prediction of that shape and dtype, the last of a chain of gates (see
    # value_and_grad), targets already checked by check_targets when ``checked``; None
    # for a loss that is not one gate
    link: Callable[..., AnyLink] | None = None

    def __call__(self, prediction: Any, target: Any, sample_weight: Any = None) -> Tensor:
        raise NotImplementedError

    def penalty(self, n_samples: int, sample_weight: Any = None) -> Tensor | None:
        """A term of this loss that depends on the parameters alone (a weight penalty,
        for one), for a batch of ``n_samples`` (``sample_weight``): ``value_and_grad``
        backpropagates it beside the chain, before it, as the graph would.  None here."""
        return None

    def check_targets(self, target: Any, n_outputs: int, dtype: Any) -> None:
        """Raise LossInputError unless ``target`` fits this loss on an output of
        ``n_outputs`` columns, so that bad labels are found before training.  This
        fallback evaluates the loss on a stand-in output; the built-in losses override it
        with checks that allocate nothing of the output's size."""
        stand_in = np.broadcast_to(np.asarray(0.5, dtype=dtype), (len(target), n_outputs))
        with no_grad():
            self(stand_in, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits (fused with a softmax output layer)."""

    name = "cross_entropy"
    fuses = "softmax"

    def __call__(self, prediction, target, sample_weight=None):
        return F.cross_entropy(prediction, target, sample_weight)

    link = staticmethod(F.cross_entropy_link)  # a function: no method call per batch

    def check_targets(self, target, n_outputs, dtype):
        F.class_targets(target, len(target), n_outputs, self.name)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits (fused with a sigmoid output layer)."""

    name = "binary_cross_entropy"
    fuses = "sigmoid"

    def __call__(self, prediction, target, sample_weight=None):
        return F.binary_cross_entropy_with_logits(prediction, target, sample_weight)

    link = staticmethod(F.binary_cross_entropy_with_logits_link)

    def check_targets(self, target, n_outputs, dtype):
        F.check_binary_targets(target, n_outputs, dtype, self.name)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities, as the notes write it (clipped)."""

    name = "binary_cross_entropy_on_probabilities"
    needs_output = "sigmoid"

    def __call__(self, prediction, target, sample_weight=None):
        return F.binary_cross_entropy(prediction, target, sample_weight)

    def check_targets(self, target, n_outputs, dtype):
        F.check_binary_targets(target, n_outputs, dtype, self.name)


class MSELoss(Loss):
    """Mean squared error (1/N) sum ||y - y_hat||^2; ``half=True`` for half of it."""

    name = "mse"

    def __init__(self, half: bool = False) -> None:
        self.half = half

    def __call__(self, prediction, target, sample_weight=None):
        return F.mse(prediction, target, half=self.half, sample_weight=sample_weight)

    def link(self, shape, dtype, target, sample_weight=None, checked=False):
        return F.mse_link(shape, dtype, target, self.half, sample_weight, checked)

    def check_targets(self, target, n_outputs, dtype):
        F.check_value_targets(target, n_outputs, dtype, self.name)

    def __repr__(self) -> str:
        return f"MSELoss(half={self.half})"


class NLLLoss(Loss):
    """Negative log-likelihood on log-probabilities."""

    name = "nll"

    def __call__(self, prediction, target, sample_weight=None):
        return F.nll(prediction, target, sample_weight)

    def check_targets(self, target, n_outputs, dtype):
        F.class_targets(target, len(target), n_outputs, self.name)


LOSSES: dict[str, Callable[[], Loss]] = {
    "cross_entropy": CrossEntropyLoss,
    "ce": CrossEntropyLoss,
    "binary_cross_entropy": BCEWithLogitsLoss,
    "bce": BCEWithLogitsLoss,
    "mse": MSELoss,
    "half_mse": lambda: MSELoss(half=True),
    "nll": NLLLoss,
}


class FunctionLoss(Loss):
    """A loss given as a function ``fn(prediction, target[, sample_weight]) -> scalar
    Tensor`` on the network's outputs (after its output layer), differentiated through
    the graph the function records."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)
        self.takes_weights = _takes_a_third_argument(fn)

    def __call__(self, prediction, target, sample_weight=None):
        if sample_weight is None:
            value = self.fn(prediction, target)
        elif self.takes_weights:
            value = self.fn(prediction, target, sample_weight)
        else:
            raise TypeError(
                f"loss {self.name}(prediction, target) takes no sample_weight: give it a "
                "third parameter, loss(prediction, target, sample_weight)"
            )
        if not isinstance(value, Tensor) or value.size != 1:
            got = f"shape {value.shape}" if isinstance(value, Tensor) else type(value).__name__
            raise LossInputError(
                f"loss {self.name} must return a one-element Tensor (its mean over the "
                f"batch, say), got {got}"
            )
        return value.reshape(())

    def check_targets(self, target: Any, n_outputs: int, dtype: Any) -> None:
        """Nothing to check ahead: what the function accepts is its own business, and
        it sees the targets batch by batch (the first batch fails at once)."""

    def __repr__(self) -> str:
        return f"FunctionLoss({self.name})"


def _takes_a_third_argument(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    return sum(p.kind in positional for p in parameters) >= 3


# the library's functional losses, taken with their fused, stable form (on logits)
_FUNCTIONAL_LOSSES: tuple[tuple[Callable[..., Tensor], Callable[[], Loss]], ...] = (
    (F.cross_entropy, CrossEntropyLoss),
    (F.binary_cross_entropy_with_logits, BCEWithLogitsLoss),
    (F.binary_cross_entropy, BCELoss),
    (F.mse, MSELoss),
    (F.nll, NLLLoss),
)


def get_loss(loss: str | Loss | Callable[..., Tensor]) -> Loss:
    """The Loss for ``loss``: a Loss as it is; a name from ``LOSSES``; one of the
    library's functional losses (``F.cross_entropy``, ...) as its Loss, with the fused
    form; any other callable ``loss(prediction, target[, sample_weight])`` as a
    :class:`FunctionLoss` on the network's outputs."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        try:
            return LOSSES[loss]()
        except KeyError:
            known = ", ".join(sorted(LOSSES))
            raise ValueError(f"unknown loss '{loss}'; known: {known}") from None
    if callable(loss):
        for function, library_loss in _FUNCTIONAL_LOSSES:
            if loss is function:
                return library_loss()
        return FunctionLoss(loss)
    raise TypeError(
        "loss must be a name, a Loss, or a function loss(prediction, target"
        f"[, sample_weight]); got {type(loss).__name__}"
    )


def final_layer(model: Any) -> str | None:
    """The name of the model's output layer, when it is known (MLP, or a Sequential
    ending in an activation)."""
    output = getattr(model, "output", None)
    if isinstance(output, str):
        return output
    layers = getattr(model, "layers", None)
    if layers:
        return getattr(layers[-1], "name", None)
    return None


def _logits_function(model: Any) -> Callable[[Any], Tensor]:
    if hasattr(model, "logits"):
        return model.logits
    layers = model.layers[:-1]

    def logits(x):
        for layer in layers:
            x = layer(x)
        return x

    return logits


def objective(model: Any, loss: str | Loss | Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``f(x, y, sample_weight=None, keep=None) -> loss`` for ``model``: fused losses
    read the logits before a matching output layer; an identity output is taken as
    logits.  ``keep``, a list, is given the prediction the loss took, as an array (see
    :func:`outputs_of_predictions`)."""
    loss = get_loss(loss)
    forward = _logits_function(model) if _reads_logits(model, loss) else model

    def compute(x: Any, y: Any, sample_weight: Any = None, keep: list[Any] | None = None) -> Tensor:
        prediction = forward(x)
        if keep is not None:
            keep.append(prediction.data)
        return loss(prediction, y, sample_weight)

    return compute


def value_and_grad(
    model: Any, loss: str | Loss | Callable[..., Tensor], targets_checked: bool = False
) -> Callable[..., float]:
    """``f(x, y, sample_weight=None, grad_scale=1.0) -> float``: the loss of ``model``
    on a batch, with ``grad_scale`` times the gradient of every parameter added to its
    ``grad``.  It is what ``objective(model, loss)(x, y).backward(gradient=grad_scale)``
    does, returning the loss (unscaled) as a number.  A scale other than 1 lets a
    training loop have the gradients arrive multiplied by its step size (see
    ``Optimizer.plain_step_size``), at no cost: the loss gate's local gradient is
    multiplied by a number anyway (1/N).

    Which walker backpropagates is decided here, once per batch:

    * the chain walker (:func:`~chainrule.autodiff.chain.value_and_grad_of_chain`) when
      the model describes its forward as a chain of gates (``Module.chain``: an MLP,
      dropout included, on a 2-D batch), the loss is one gate (``Loss.link``:
      cross-entropy, BCE on logits, MSE), x and y are not tensors (which may want
      gradients of their own), gradients are being recorded and ``detect_anomaly()``
      is off.  The links are those the forward records, so the loss and gradients are
      the graph's to the last bit, without the graph's bookkeeping;
    * otherwise the graph walker: the forward is recorded and ``backward()`` walks it.

    ``targets_checked=True`` is for a caller that has run ``loss.check_targets`` on all
    the targets it will pass (``fit`` does, before the first batch): the chain then
    skips the per-batch pass over the targets' values.  Shapes are still checked.

    ``keep``, a list, is given the batch's prediction as the loss took it (an array):
    the model's logits when the loss reads them, else its outputs.  It comes from the
    forward pass the gradients need, at no extra cost; :func:`outputs_of_predictions`
    turns it into what the model outputs.  (A training loop computes its training
    metrics from it.)"""
    loss = get_loss(loss)
    logits = _reads_logits(model, loss)
    compute = objective(model, loss)
    link = loss.link
    # whether the loss has a penalty term to ask for (a call saved per batch if not)
    penalized = type(loss).penalty is not Loss.penalty

    def loss_and_gradients(
        x: Any,
        y: Any,
        sample_weight: Any = None,
        grad_scale: float = 1.0,
        keep: list[Any] | None = None,
    ) -> float:
        chain = None
        if (
            link is not None
            and state.grad_enabled
            and not state.detect_anomaly
            and not (isinstance(x, Tensor) or isinstance(y, Tensor))
        ):
            chain = model.chain(x, logits=logits)
        if chain is None:
            value = compute(x, y, sample_weight, keep)
            value.backward(grad_scale)
            return value.item()
        array, links, shape = chain
        # the loss's gate is made first, while the code is warm in the cache: after the
        # forward pass's matrix products, the same Python work takes longer
        last = link(shape, array.dtype, y, sample_weight, targets_checked)
        extra = loss.penalty(shape[0], sample_weight) if penalized else None
        if extra is None:
            return value_and_grad_of_chain(array, links, last, grad_scale, keep)
        # the graph of (loss + penalty) reaches the penalty first: so does this, so that
        # each parameter's gradient is summed in the same order, to the same bits
        extra.backward(grad_scale)
        value = value_and_grad_of_chain(array, links, last, grad_scale, keep)
        return float(np.asarray(value, dtype=extra.data.dtype) + extra.data)

    return loss_and_gradients


def _reads_logits(model: Any, loss: Loss) -> bool:
    """Whether ``loss`` takes the model's logits (it fuses with the model's output layer)
    rather than its outputs; a LossInputError when the two do not fit."""
    last = final_layer(model)
    if loss.fuses is not None:
        if last == loss.fuses:
            return True
        if last in (None, "identity"):
            return False
        raise LossInputError(
            f"loss '{loss.name}' pairs with a {loss.fuses} output layer (or an identity "
            f"one, read as logits); this network ends in {last}"
        )
    if loss.needs_output is not None and last not in (None, loss.needs_output):
        raise LossInputError(
            f"loss '{loss.name}' needs a {loss.needs_output} output layer; "
            f"this network ends in {last}"
        )
    return False


def outputs_of_predictions(model: Any, loss: str | Loss) -> Callable[[np.ndarray], np.ndarray]:
    """``f(predictions) -> outputs``: the model's outputs from the predictions that
    :func:`value_and_grad` keeps (``keep=``).  When the loss reads logits, the output
    layer it fuses with (softmax, sigmoid) is applied to them; otherwise the predictions
    are the outputs already."""
    loss = get_loss(loss)
    if not _reads_logits(model, loss):
        return lambda predictions: predictions
    output_layer = make_activation(loss.fuses)

    def outputs(logits: np.ndarray) -> np.ndarray:
        with no_grad():
            return output_layer(logits).data

    return outputs

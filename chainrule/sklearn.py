"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` as drop-in replacements
for scikit-learn's, trained by chainrule's engine.

Same parameters, defaults, objective and learned attributes as scikit-learn's:

* regressor: half squared error, (1/(2 N D)) sum ||y - y_hat||^2, identity output;
* classifier: log-loss with softmax for multiclass, logistic for binary and multilabel;
* both: the L2 term alpha ||W||^2 / (2 n) on the weights (n the batch size), stopping when
  the loss (or, with ``early_stopping``, the validation score) has not improved by ``tol``
  for ``n_iter_no_change`` epochs, "adaptive" learning rate dividing by 5 then.

Beyond scikit-learn: ``activation`` may be a list (one per hidden layer), ``dropout``,
``class_weight``, ``sample_weight`` in ``fit``, ``fit(X, y, X_val=..., y_val=...)``,
``validation_loss_curve_`` and ``history_``, chainrule's progress bar with ``verbose``,
``dtype="float32"`` by default for speed, ``callbacks``, and ``hidden_activations(X)``.

Needs scikit-learn (``pip install 'chainrule[sklearn]'``); chainrule's core does not.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._sklearn_params import (
    NONE,
    UNCHECKED,
    Each,
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    ParameterTable,
    Satisfies,
    validate_parameters,
)
from .autodiff import Tensor, apply
from .autodiff.fused import SUM_OF_SQUARES
from .nn import MLP, Linear, Loss, Module, get_loss, value_and_grad
from .optim import SGD, Adam, Optimizer
from .training import Callback, fit, metrics

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
_EXTRA_ACTIVATIONS = ("sigmoid", "leaky_relu", "elu", "softplus", "gelu")
_ANY_ACTIVATION = Options(*_ACTIVATIONS, *_EXTRA_ACTIVATIONS)
_POSITIVE_WHOLE = Interval(1, None, closed="left", whole=True)


def _is_float32_or_64(dtype) -> bool:
    try:
        return np.dtype(dtype) in (np.float32, np.float64)
    except TypeError:  # not a dtype at all
        return False


class _Penalized(Loss):
    """A base loss plus scikit-learn's L2 term alpha / (2 n) sum ||U||^2 over the weight
    matrices, n the batch's sample count; ``scale`` multiplies the base loss (1/D turns
    chainrule's sum over outputs into scikit-learn's mean for the squared error)."""

    def __init__(self, base: Loss, weights: list[Tensor], alpha: float, scale: float = 1.0):
        self.base, self.weights, self.alpha, self.scale = base, weights, alpha, scale
        self.fuses, self.needs_output, self.name = base.fuses, base.needs_output, base.name
        # the base loss's one gate, for value_and_grad's chain (not when it is scaled)
        self.link = base.link if scale == 1.0 else None

    def check_targets(self, target, n_outputs, dtype):
        self.base.check_targets(target, n_outputs, dtype)

    def penalty(self, n_samples, sample_weight=None):
        if not self.alpha:
            return None
        # n counts samples as sample_weight does, so weight 2 equals a repeated row
        n = n_samples if sample_weight is None else float(np.sum(sample_weight))
        # one gate for all the U's, coefficient included
        return apply(SUM_OF_SQUARES, *self.weights, scale=self.alpha / (2.0 * n))

    def __call__(self, prediction, target, sample_weight=None):
        loss = self.base(prediction, target, sample_weight)
        if self.scale != 1.0:
            loss = loss * self.scale
        extra = self.penalty(prediction.shape[0], sample_weight)
        return loss if extra is None else loss + extra


@dataclass(frozen=True)
class _Rows:
    """Rows to train or validate on: features, the labels as given (the score compares the
    predictions with them), the network's targets made from them, and sample weights."""

    X: np.ndarray
    y: np.ndarray
    targets: np.ndarray
    weights: np.ndarray | None = None

    def take(self, index: np.ndarray) -> _Rows:
        weights = None if self.weights is None else self.weights[index]
        return _Rows(self.X[index], self.y[index], self.targets[index], weights)


class _NoImprovement:
    """scikit-learn's n_iter_no_change rule and its state, kept across fit calls (warm_start,
    partial_fit): how many epochs in a row the monitored value has not beaten the best by
    ``tol``, the best value, and for the validation score the weights that reached it.

    ``monitor="loss"`` watches the training loss (lower is better), ``"score"`` the
    validation score (higher is better) and keeps the best weights for early stopping."""

    def __init__(self, monitor: Literal["loss", "score"]) -> None:
        self.higher_is_better = monitor == "score"
        self.best = -np.inf if self.higher_is_better else np.inf
        self.best_state: dict[str, np.ndarray] | None = None
        self.no_improvement_count = 0

    def update(self, value: float, tol: float, model: Module) -> None:
        """Count the epoch that ended with ``value`` as an improvement or not, and keep it
        (and, watching the score, ``model``'s weights) if it is the best so far."""
        if self._short_of_best_by_tol(value, tol):
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if self._beats_best(value):
            self.best = value
            if self.higher_is_better:
                self.best_state = model.state_dict()

    def exhausted(self, n_iter_no_change: float) -> bool:
        """True when more than ``n_iter_no_change`` epochs in a row did not improve."""
        return self.no_improvement_count > n_iter_no_change

    def restart_count(self) -> None:
        """Give the rule its patience again (after the adaptive rate was lowered)."""
        self.no_improvement_count = 0

    def _short_of_best_by_tol(self, value: float, tol: float) -> bool:
        if self.higher_is_better:
            return value < self.best + tol
        return value > self.best - tol

    def _beats_best(self, value: float) -> bool:
        return value > self.best if self.higher_is_better else value < self.best


class _EpochEnd(Callback):
    """scikit-learn's end of an epoch, for one fit or partial_fit call: the estimator
    records the epoch (and, with early stopping, the validation score); the no-improvement
    rule is given the loss or the score; the learning rate follows its schedule; training
    stops when the rule runs out of patience (``stopped``), or after one partial_fit epoch."""

    def __init__(
        self,
        estimator: _BaseMLP,
        rule: _NoImprovement,
        validation: _Rows | None,
        n_samples: int,
        incremental: bool,
    ) -> None:
        self.estimator, self.rule, self.validation = estimator, rule, validation
        self.n_samples, self.incremental = n_samples, incremental
        self.stopped = False

    def on_epoch_end(self, state, epoch, logs):
        est = self.estimator
        est._record_epoch(logs, self.n_samples)
        if est.early_stopping:
            monitored = est._record_validation_score(self.validation)
        else:
            monitored = logs["loss"]
        self.rule.update(monitored, est.tol, state.model)
        if est.early_stopping:  # the best so far, as scikit-learn keeps it epoch by epoch
            est.best_validation_score_ = self.rule.best
        else:
            est.best_loss_ = self.rule.best
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            state.optimizer.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if self.rule.exhausted(est.n_iter_no_change):
            if self._may_lower_the_rate(state.optimizer):
                state.optimizer.lr /= 5.0
                self.rule.restart_count()
            else:
                self.stopped = state.stop_training = True
        if self.incremental:
            state.stop_training = True

    def _may_lower_the_rate(self, optimizer: Optimizer) -> bool:
        est = self.estimator
        return est.solver == "sgd" and est.learning_rate == "adaptive" and optimizer.lr > 1e-6


class _BaseMLP(BaseEstimator):
    _is_classifier = False
    _no_improvement: _NoImprovement | None = None  # made by the first fit

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        dtype="float32",
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.callbacks = callbacks

    # Validation ---------------------------------------------------------------------------
    # What each parameter may be (any one of its constraints); UNCHECKED takes anything
    # (scikit-learn's own table also checks power_t >= 0, epsilon > 0 and the booleans).
    _parameter_rules: ClassVar[ParameterTable] = {
        "hidden_layer_sizes": [_POSITIVE_WHOLE, Each(_POSITIVE_WHOLE)],
        "activation": [_ANY_ACTIVATION, Each(_ANY_ACTIVATION)],
        "solver": [Options("sgd", "adam", "lbfgs")],
        "alpha": [Interval(0, None, closed="left")],
        "batch_size": [Options("auto"), _POSITIVE_WHOLE],
        "learning_rate": [Options("constant", "invscaling", "adaptive")],
        "learning_rate_init": [Interval(0, None, closed="neither")],
        "power_t": UNCHECKED,
        "max_iter": [Interval(0, None, closed="neither")],
        "shuffle": UNCHECKED,
        "random_state": UNCHECKED,
        "tol": [Interval(0, None, closed="left")],
        "verbose": UNCHECKED,
        "warm_start": UNCHECKED,
        "momentum": [Interval(0, 1, closed="both")],
        "nesterovs_momentum": UNCHECKED,
        "early_stopping": UNCHECKED,
        "validation_fraction": [Interval(0, 1, closed="neither")],
        "beta_1": [Interval(0, 1, closed="left")],
        "beta_2": [Interval(0, 1, closed="left")],
        "epsilon": UNCHECKED,
        "n_iter_no_change": [Interval(0, None, closed="neither")],
        "max_fun": [Interval(0, None, closed="neither")],
        "dropout": [Interval(0, 1, closed="left")],
        "dtype": [Satisfies(_is_float32_or_64, "float32 or float64")],
        "callbacks": UNCHECKED,
    }

    def _validate_parameters(self) -> None:
        validate_parameters(type(self).__name__, self.get_params(deep=False), self._parameter_rules)
        if self.dropout and self.solver == "lbfgs":
            raise InvalidParameterError(
                f"The 'dropout' parameter of {type(self).__name__} must be 0 with "
                f"solver='lbfgs' (dropout needs a stochastic solver, sgd or adam). "
                f"Got {self.dropout!r} instead."
            )

    def _hidden_sizes(self) -> list[int]:
        if np.isscalar(self.hidden_layer_sizes):
            return [int(self.hidden_layer_sizes)]
        return [int(s) for s in self.hidden_layer_sizes]

    # Network ------------------------------------------------------------------------------
    def _build_network(self, n_features: int, n_outputs: int, rng: np.random.Generator) -> MLP:
        hidden = self._hidden_sizes()
        activation = self.activation if isinstance(self.activation, str) else list(self.activation)
        output = {"identity": "identity", "logistic": "sigmoid", "softmax": "softmax"}[
            self.out_activation_
        ]
        dtype = self._float_dtype()
        network = MLP(
            [n_features, *hidden, n_outputs],
            activation,
            output,
            self.dropout,
            seed=rng,
            dtype=dtype,
        )
        # scikit-learn's initialisation: U and b uniform in +-sqrt(f / (fan_in + fan_out)),
        # f = 2 for logistic hidden layers, 6 otherwise
        factor = 2.0 if activation == "logistic" else 6.0
        for layer in network.linear_layers:
            bound = np.sqrt(factor / (layer.in_features + layer.out_features))
            layer.U.data[...] = rng.uniform(-bound, bound, layer.U.shape)
            layer.b.data[...] = rng.uniform(-bound, bound, layer.b.shape)
        return network

    def _loss(self, network: MLP) -> Loss:
        weights = [layer.U for layer in network.linear_layers]
        if self.out_activation_ == "softmax":
            return _Penalized(get_loss("cross_entropy"), weights, self.alpha)
        if self.out_activation_ == "logistic":
            return _Penalized(get_loss("binary_cross_entropy"), weights, self.alpha)
        return _Penalized(get_loss("half_mse"), weights, self.alpha, 1.0 / self.n_outputs_)

    def _sync_attributes(self) -> None:
        layers: list[Linear] = self.network_.linear_layers
        self.coefs_ = [layer.U.data for layer in layers]
        self.intercepts_ = [layer.b.data for layer in layers]

    # Fitting ------------------------------------------------------------------------------
    def _fit(
        self, X, y, sample_weight=None, X_val=None, y_val=None, incremental=False, classes=None
    ):
        """Check the parameters and the rows, start a network on a first call, set the
        validation rows apart (given, or held out for early stopping), run the solver."""
        self._validate_parameters()
        if incremental and self.early_stopping:  # as scikit-learn: no held-out rows to score
            raise ValueError("partial_fit does not support early_stopping=True")
        first_call = not hasattr(self, "network_") or not (self.warm_start or incremental)
        train = self._training_rows(X, y, sample_weight, first_call, classes)
        rng = self._rng(first_call)
        if first_call:
            self._start_network(train, rng)
        validation = self._given_validation_rows(X_val, y_val)
        if self.early_stopping and validation is None:
            train, validation = self._hold_out(train, rng)
        if self.solver == "lbfgs":
            self._fit_lbfgs(train)
        else:
            self._fit_stochastic(train, validation, incremental, rng)
        self._sync_attributes()
        return self

    def _float_dtype(self) -> np.dtype:
        """The network's: float64 for lbfgs (SciPy works in float64), else ``dtype``."""
        return np.dtype(np.float64) if self.solver == "lbfgs" else np.dtype(self.dtype)

    def _training_rows(self, X, y, sample_weight, first_call: bool, classes) -> _Rows:
        X, y = validate_data(
            self, X, y, reset=first_call, multi_output=True, dtype=(np.float64, np.float32)
        )
        if y.ndim == 2 and y.shape[1] == 1:  # a column vector: as scikit-learn, warn and ravel
            y = column_or_1d(y, warn=True)
        targets = self._prepare_targets(y, first_call, classes)
        X = X.astype(self._float_dtype(), copy=False)
        return _Rows(X, y, targets, self._sample_weights(y, sample_weight, len(X)))

    def _given_validation_rows(self, X_val, y_val) -> _Rows | None:
        """fit's X_val, y_val (checked against the training data), or None."""
        if X_val is None:
            return None
        X_val = validate_data(self, X_val, reset=False, dtype=(np.float64, np.float32))
        y_val = np.asarray(y_val)
        targets = self._prepare_targets(y_val, False, None)
        return _Rows(X_val.astype(self._float_dtype(), copy=False), y_val, targets)

    def _start_network(self, train: _Rows, rng: np.random.Generator) -> None:
        """A new network for the training rows' features and targets, and no progress."""
        targets = train.targets
        self.n_outputs_ = (
            targets.shape[1]
            if targets.ndim == 2
            else (1 if self.out_activation_ != "softmax" else len(self.classes_))
        )
        self.n_layers_ = len(self._hidden_sizes()) + 2
        self.network_ = self._build_network(train.X.shape[1], self.n_outputs_, rng)
        self._reset_progress()

    def _hold_out(self, rows: _Rows, rng: np.random.Generator) -> tuple[_Rows, _Rows]:
        """scikit-learn's early-stopping split into training and validation rows:
        validation_fraction of them, stratified for single-label classification."""
        single_label = self._is_classifier and type_of_target(rows.y) in ("binary", "multiclass")
        train, val = train_test_split(
            np.arange(len(rows.X)),
            random_state=int(rng.integers(2**31 - 1)),
            test_size=self.validation_fraction,
            stratify=rows.y if single_label else None,
        )
        return rows.take(train), rows.take(val)

    def _rng(self, first_call: bool) -> np.random.Generator:
        if first_call or not hasattr(self, "_generator"):
            state = check_random_state(self.random_state)
            self._generator = np.random.default_rng(state.randint(np.iinfo(np.int32).max))
        return self._generator

    def _reset_progress(self) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        self.history_ = {}
        self._no_improvement = _NoImprovement("score" if self.early_stopping else "loss")
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._optimizer = None

    def _record_epoch(self, logs: dict[str, float], n_samples: int) -> None:
        """An epoch over n_samples ended with ``logs``: count it and keep its figures."""
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = logs["loss"]
        self.loss_curve_.append(logs["loss"])
        if "val_loss" in logs:
            self.validation_loss_curve_.append(logs["val_loss"])
        for key, value in logs.items():
            self.history_.setdefault(key, []).append(value)

    def _record_validation_score(self, rows: _Rows) -> float:
        """Score the network on the early-stopping rows, keep the score and return it."""
        score = self._score_network(rows.X, rows.y)
        self.validation_scores_.append(score)
        self.history_.setdefault("val_score", []).append(score)
        return score

    def _sample_weights(self, y, sample_weight, n):
        weights = (
            None
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        )
        if weights is not None and len(weights) != n:
            raise ValueError(f"sample_weight has {len(weights)} entries but X has {n} samples")
        if weights is not None and (np.any(weights < 0) or not np.all(np.isfinite(weights))):
            raise ValueError("sample weights must be finite and non-negative")
        if weights is not None and not weights.any():
            raise ValueError("sample weights are all zero: at least one sample must count")
        return weights

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. "
                "It is going to be clipped",
                stacklevel=3,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _make_optimizer(self, network: MLP):
        params = network.parameters()
        if self.solver == "sgd":
            nesterov = self.nesterovs_momentum and self.momentum > 0
            return SGD(
                params, lr=self.learning_rate_init, momentum=self.momentum, nesterov=nesterov
            )
        return Adam(
            params, lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2), eps=self.epsilon
        )

    def _fit_stochastic(
        self,
        train: _Rows,
        validation: _Rows | None,
        incremental: bool,
        rng: np.random.Generator,
    ) -> None:
        """sgd or adam on the training rows, for max_iter epochs or (partial_fit) one; the
        validation rows give val_loss and, with early stopping, the score to watch."""
        network = self.network_
        if self._optimizer is None or not (incremental or self.warm_start):
            self._optimizer = self._make_optimizer(network)
        if self._no_improvement is None:  # an estimator pickled before the rule existed
            self._no_improvement = _NoImprovement("score" if self.early_stopping else "loss")
        epoch_end = _EpochEnd(self, self._no_improvement, validation, len(train.X), incremental)
        fit(
            network,
            self._loss(network),
            self._optimizer,
            train.X,
            train.targets,
            epochs=1 if incremental else self.max_iter,
            batch_size=self._batch_size(len(train.X)),
            validation_data=None if validation is None else (validation.X, validation.targets),
            callbacks=[*(self.callbacks or []), epoch_end],
            verbose=int(self.verbose),
            seed=rng,
            sample_weight=train.weights,
            shuffle=self.shuffle,
        )
        self._take_the_best()
        if not incremental and not epoch_end.stopped and self.n_iter_ >= self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _take_the_best(self) -> None:
        """The best loss or validation score reached, as learned attributes; after early
        stopping the network takes back the weights of the best score."""
        rule = self._no_improvement
        if not self.early_stopping:
            self.best_loss_ = rule.best
            return
        self.best_validation_score_ = rule.best
        self.best_loss_ = None
        if rule.best_state is not None:
            self.network_.load_state_dict(rule.best_state)

    def _fit_lbfgs(self, train: _Rows) -> None:
        """SciPy's L-BFGS-B on the training rows, from chainrule's loss and gradients."""
        from scipy.optimize import minimize

        X, targets, weights = train.X, train.targets, train.weights
        network = self.network_
        params = network.parameters()
        shapes = [p.shape for p in params]
        sizes = [p.size for p in params]
        loss_and_gradients = value_and_grad(network, self._loss(network))

        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            offset = 0
            for p, shape, size in zip(params, shapes, sizes, strict=True):
                p.data[...] = theta[offset : offset + size].reshape(shape)
                p.grad = None
                offset += size
            loss = loss_and_gradients(X, targets, weights)
            return loss, np.concatenate([p.grad.ravel() for p in params])

        theta0 = np.concatenate([p.data.ravel() for p in params])
        network.train()
        result = minimize(
            loss_and_gradient,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
            },
        )
        loss_and_gradient(result.x)
        network.zero_grad()
        network.eval()
        self.n_iter_ = int(result.nit)
        self.loss_ = float(result.fun)
        self.loss_curve_ = [self.loss_]
        self.best_loss_ = self.loss_
        self.t_ = len(X) * self.n_iter_
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iterations: {result.message}",
                ConvergenceWarning,
                stacklevel=3,
            )

    # Use ----------------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.predict(X.astype(self.network_.dtype, copy=False)).astype(np.float64)

    def hidden_activations(self, X) -> list[np.ndarray]:
        """Each hidden layer's output (after its activation) for X."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.hidden_activations(X.astype(self.network_.dtype, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier: scikit-learn's parameters and attributes, trained
    by chainrule.  Extra parameters: ``class_weight`` (dict or "balanced"), ``dropout``,
    ``dtype`` and ``callbacks``; ``activation`` may be a list, one per hidden layer."""

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        dtype="float32",
        callbacks=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            dropout=dropout, dtype=dtype, callbacks=callbacks,
        )  # fmt: skip
        self.class_weight = class_weight

    _parameter_rules: ClassVar[ParameterTable] = {
        **_BaseMLP._parameter_rules,
        "class_weight": [NONE, InstanceOf(Mapping, "a dict"), Options("balanced")],
    }

    def _prepare_targets(self, y, first_call: bool, classes) -> np.ndarray:
        check_classification_targets(y)
        if first_call:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(classes if classes is not None else y)
            self.classes_ = self._label_binarizer.classes_
            kind = (
                type_of_target(y)
                if classes is None
                else ("multiclass" if len(self.classes_) > 2 else "binary")
            )
            self._multilabel = kind == "multilabel-indicator"
            if self._multilabel or len(self.classes_) <= 2:
                self.out_activation_ = "logistic"
            else:
                self.out_activation_ = "softmax"
        elif not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        else:
            unseen = np.setdiff1d(np.unique(y), self.classes_) if not self._multilabel else []
            if len(unseen):
                raise ValueError(
                    f"y contains labels not seen on the first fit: {list(unseen)}; "
                    f"expected {list(self.classes_)}"
                )
        if self._multilabel:
            return np.asarray(y, dtype=np.float64)
        if len(self.classes_) == 1:
            raise ValueError(
                f"the target has only one class ({self.classes_[0]!r}); "
                "a classifier needs two or more"
            )
        index = np.searchsorted(self.classes_, y)
        if self.out_activation_ == "logistic":
            return index.astype(np.float64)
        return index

    def _sample_weights(self, y, sample_weight, n):
        weights = super()._sample_weights(y, sample_weight, n)
        if self.class_weight is None or self._multilabel:
            return weights
        if self.class_weight == "balanced":
            counts = np.array([np.sum(y == c) for c in self.classes_], dtype=np.float64)
            per_class = n / (len(self.classes_) * np.maximum(counts, 1))
        else:
            per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        factors = per_class[np.searchsorted(self.classes_, y)]
        return factors if weights is None else weights * factors

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Fit on (X, y); ``X_val, y_val`` give a validation set whose loss is recorded in
        ``validation_loss_curve_`` (``early_stopping`` holds out ``validation_fraction``)."""
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        return self._fit(X, y, sample_weight, X_val, y_val)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch on (X, y); ``classes`` (all the labels) is required on the first call."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is not available with solver='lbfgs'")
        first = not hasattr(self, "network_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(
            X, y, sample_weight, incremental=True, classes=np.asarray(classes) if first else None
        )

    def _score_network(self, X, y) -> float:
        """Accuracy (exact match of every label, for multilabel), as scikit-learn's
        accuracy_score, computed directly: it runs after every epoch."""
        predicted = self._predict_from_outputs(self.network_.predict(X).astype(np.float64))
        hits = predicted == y
        return float(np.mean(hits.all(axis=1) if hits.ndim == 2 else hits))

    def _predict_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return (outputs > 0.5).astype(int)
        if self.out_activation_ == "logistic":
            return self.classes_[(outputs[:, 0] > 0.5).astype(int)]
        return self.classes_[outputs.argmax(axis=1)]

    def predict(self, X) -> np.ndarray:
        return self._predict_from_outputs(self._outputs(X))

    def predict_proba(self, X) -> np.ndarray:
        outputs = self._outputs(X)
        if self.out_activation_ == "logistic" and not self._multilabel:
            return np.hstack([1 - outputs, outputs])
        return outputs

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: scikit-learn's parameters and attributes, trained
    by chainrule (half squared error, identity output)."""

    def _prepare_targets(self, y, first_call: bool, classes) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if first_call:
            self.out_activation_ = "identity"
        return y.reshape(len(y), -1)

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Fit on (X, y); ``X_val, y_val`` give a validation set (see MLPClassifier.fit)."""
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        return self._fit(X, y, sample_weight, X_val, y_val)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on (X, y)."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is not available with solver='lbfgs'")
        return self._fit(X, y, sample_weight, incremental=True)

    def _score_network(self, X, y) -> float:
        """R^2 averaged over outputs, as scikit-learn's r2_score (chainrule's metric has
        the same definition, without its per-call validation: it runs every epoch)."""
        return metrics.r2_score(y, self.network_.predict(X))

    def predict(self, X) -> np.ndarray:
        outputs = self._outputs(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs


__all__ = ["MLPClassifier", "MLPRegressor"]

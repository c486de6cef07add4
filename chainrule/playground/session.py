"""One browser tab's playground: its data, its network, its optimizer and its training.

Training is chainrule's own: an :class:`~chainrule.nn.MLP`, ``nn.value_and_grad`` for the
loss and gradients of a mini-batch (with an L1 or L2 penalty on the weight matrices, by the
engine's gates), ``optim.SGD`` / ``optim.Adam`` for the update theta <- theta - eps g.
Frames are what the page draws: losses, weights, and every neuron's activation over a grid
of the plane, as bytes (one per grid point).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from .. import autodiff as ad
from ..nn import MLP, Loss, get_loss, objective, value_and_grad
from ..optim import SGD, Adam, Optimizer
from . import data as D

GRID = 40  # each neuron's heatmap: GRID x GRID points of the plane
SURFACE_GRID = 80  # the output's decision surface, finer
HISTORY = 400  # loss-curve points kept; older ones are thinned out


@dataclass(frozen=True)
class Config:
    """Everything the page can set; checked by :mod:`.protocol` before it gets here."""

    dataset: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    points: int = 400
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activations: tuple[str, ...] = ("tanh", "tanh")
    lr: float = 0.1
    batch: int = 10
    optimizer: str = "sgd"
    regularization: str = "none"
    reg_rate: float = 0.0
    steps_per_frame: int = 10


DATA_FIELDS = {"dataset", "noise", "train_ratio", "points", "seed"}
NETWORK_FIELDS = {"features", "hidden", "activations"}
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "l1", "l2")


class Penalized(Loss):
    """The data loss plus a weight penalty: ``rate * sum |U|`` (L1) or ``rate * sum U^2``
    (L2) over the weight matrices U (not the biases), computed by the engine's gates, so
    its gradient (``rate * sign(U)``, ``2 rate U``) reaches U.grad by backprop."""

    def __init__(self, base: Loss, weights: list[ad.Tensor]):
        self.base, self.weights = base, weights
        self.kind, self.rate = "none", 0.0
        self.fuses, self.needs_output, self.name = base.fuses, base.needs_output, base.name
        self.link = base.link

    def check_targets(self, target, n_outputs, dtype):
        self.base.check_targets(target, n_outputs, dtype)

    def penalty(self, n_samples, sample_weight=None):
        if self.kind == "none" or self.rate == 0:
            return None
        if self.kind == "l2":
            return ad.sum_of_squares(*self.weights, scale=self.rate)
        total = ad.sum(ad.abs(self.weights[0]))
        for weight in self.weights[1:]:
            total = total + ad.sum(ad.abs(weight))
        return total * self.rate

    def __call__(self, prediction, target, sample_weight=None):
        loss = self.base(prediction, target, sample_weight)
        extra = self.penalty(prediction.shape[0], sample_weight)
        return loss if extra is None else loss + extra


def encode(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as bytes: -1 -> 0, 0 -> 128 (rounded), 1 -> 255."""
    return np.round((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _scaled(columns: np.ndarray) -> np.ndarray:
    """Each column divided by its largest |value| when that exceeds 1 (ReLU, x1^2), so
    that every heatmap spans its colours; bounded activations keep their own scale."""
    top = np.abs(columns).max(axis=0, initial=0.0)
    return columns / np.maximum(top, 1.0)


@dataclass
class History:
    epochs: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    def add(self, epoch: float, train: float, test: float) -> None:
        self.epochs.append(epoch)
        self.train.append(train)
        self.test.append(test)
        if len(self.epochs) > HISTORY:  # keep every other point: the curve's shape stays
            self.epochs, self.train, self.test = self.epochs[::2], self.train[::2], self.test[::2]


class Session:
    """A tab's state.  ``configure`` applies the page's changes (new data or a new network
    when they need one); ``train(n)`` takes n optimizer steps; ``state()`` and ``frame()``
    are the messages the page draws."""

    def __init__(self, config: Config | None = None, uploaded: D.Points | None = None) -> None:
        self.config = config or Config()
        self.uploaded = uploaded  # an uploaded CSV's points, used when dataset == "csv"
        self.weight_seed = 0
        self._grid = D.grid(GRID)
        self._surface_grid = D.grid(SURFACE_GRID)
        self._make_data()
        self._make_network()

    # --- building ------------------------------------------------------------------------

    def _make_data(self) -> None:
        c = self.config
        if c.dataset == "csv":
            if self.uploaded is None:
                raise ValueError("no CSV uploaded yet: choose a file first")
            points = self.uploaded
        else:
            points = D.toy(c.dataset, c.points, c.noise, c.seed)
        self.points = points
        self.train_set, self.test_set = D.split(points, c.train_ratio, c.seed)
        self.classes = len(points.classes)

    def _make_network(self) -> None:
        c = self.config
        classify = self.points.task == "classify"
        sizes = [len(c.features), *c.hidden, self.classes if classify else 1]
        self.model = MLP(
            sizes,
            list(c.activations),
            output="softmax" if classify else "identity",
            seed=self.weight_seed,
            dtype="float64",
        )
        base = get_loss("cross_entropy" if classify else "mse")
        self.loss_name = "cross-entropy (softmax output)" if classify else "mean squared error"
        self.penalized = Penalized(base, self.model.U)
        self._data_loss = objective(self.model, base)
        self._step = value_and_grad(self.model, self.penalized)
        self.inputs_train = D.features(self.train_set.X, list(c.features))
        self.inputs_test = D.features(self.test_set.X, list(c.features))
        self._grid_inputs = D.features(self._grid, list(c.features))
        self._surface_inputs = D.features(self._surface_grid, list(c.features))
        self.optimizer = self._make_optimizer()
        self._apply_training_settings()
        self.steps = 0
        self.samples_seen = 0
        self._order = np.random.default_rng(self.weight_seed + 7).permutation(
            len(self.inputs_train)
        )
        self._cursor = 0
        self.history = History()
        self._record()

    def _make_optimizer(self) -> Optimizer:
        c, params = self.config, self.model.parameters()
        if c.optimizer == "adam":
            return Adam(params, c.lr)
        return SGD(params, c.lr, momentum=0.9 if c.optimizer == "momentum" else 0.0)

    def _apply_training_settings(self) -> None:
        self.optimizer.lr = self.config.lr
        self.penalized.kind = self.config.regularization
        self.penalized.rate = self.config.reg_rate

    def configure(self, changes: dict[str, Any]) -> str:
        """Apply ``changes`` (field -> value, already checked); return what was rebuilt:
        "data" (new points and a new network), "network", or "settings" (the training
        goes on with the new learning rate, batch size, optimizer, penalty)."""
        unknown = set(changes) - {f.name for f in fields(Config)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        old, new = self.config, replace(self.config, **changes)
        if len(new.activations) != len(new.hidden):
            raise ValueError(
                f"{len(new.activations)} activations for {len(new.hidden)} hidden layers"
            )
        total = len(self.uploaded.X) if new.dataset == "csv" and self.uploaded else new.points
        training = max(1, min(total - 1, round(new.train_ratio * total)))
        if new.batch > training:
            raise ValueError(
                f"batch size {new.batch} is larger than the training set ({training} points)"
            )
        self.config = new
        try:
            if any(getattr(old, f) != getattr(new, f) for f in DATA_FIELDS):
                self._make_data()
                self._make_network()
                return "data"
            if any(getattr(old, f) != getattr(new, f) for f in NETWORK_FIELDS):
                self._make_network()
                return "network"
        except Exception:
            self.config = old
            raise
        if new.optimizer != old.optimizer:
            self.optimizer = self._make_optimizer()
        self._apply_training_settings()
        return "settings"

    def reset(self) -> None:
        """New initial weights (the next seed), step count and loss curves from zero."""
        self.weight_seed += 1
        self._make_network()

    def regenerate(self) -> None:
        """New points of the same data set (the next data seed), and a new network."""
        if self.config.dataset == "csv":
            raise ValueError("an uploaded CSV cannot be regenerated; pick a toy data set")
        self.config = replace(self.config, seed=self.config.seed + 1)
        self._make_data()
        self._make_network()

    def use_upload(self, points: D.Points) -> None:
        """Train on an uploaded CSV's points from now on."""
        self.uploaded = points
        old = self.config
        self.config = replace(old, dataset="csv", batch=min(old.batch, max(1, len(points.X) // 2)))
        try:
            self._make_data()
            self._make_network()
        except Exception:
            self.config = old
            raise

    # --- training ------------------------------------------------------------------------

    def train(self, steps: int) -> None:
        """``steps`` optimizer steps on mini-batches drawn without replacement (a new random
        order each epoch); the last batch's gradients stay in each parameter's ``grad``."""
        X, y, batch = self.inputs_train, self.train_set.y, self.config.batch
        for _ in range(steps):
            if self._cursor + batch > len(self._order):
                self._order = np.random.default_rng(self.steps).permutation(len(X))
                self._cursor = 0
            rows = self._order[self._cursor : self._cursor + batch]
            self._cursor += batch
            self.optimizer.zero_grad()
            self._step(X[rows], y[rows])
            self.optimizer.step()
            self.steps += 1
            self.samples_seen += batch
        if steps:
            self._record()

    @property
    def epoch(self) -> float:
        return self.samples_seen / len(self.inputs_train)

    def losses(self) -> tuple[float, float]:
        """(training loss, test loss): the data loss (no penalty) over each whole set."""
        with ad.no_grad():
            train = self._data_loss(self.inputs_train, self.train_set.y).item()
            test = self._data_loss(self.inputs_test, self.test_set.y).item()
        return train, test

    def _record(self) -> None:
        self.history.add(self.epoch, *self.losses())

    # --- what the page draws -------------------------------------------------------------

    def neuron_maps(self) -> np.ndarray:
        """Every neuron's value over the GRID x GRID plane, as bytes: the input features,
        each hidden layer's activations, then the outputs (probabilities p as 2p - 1 when
        classifying), neuron after neuron: (neurons, GRID * GRID) uint8."""
        columns = [_scaled(self._grid_inputs)]
        with ad.no_grad():
            columns += [_scaled(a) for a in self.model.hidden_activations(self._grid_inputs)]
            out = self.model(self._grid_inputs).data
        columns.append(2 * out - 1 if self.points.task == "classify" else out)
        return encode(np.concatenate(columns, axis=1).T)

    def surface(self) -> np.ndarray:
        """The output over the SURFACE_GRID plane, two bytes a point: the predicted class
        (0 when regressing) and its confidence (|2p - 1| for two classes, the top
        probability rescaled to [0, 1] for K, or the value as for a heatmap)."""
        with ad.no_grad():
            out = self.model(self._surface_inputs).data
        if self.points.task == "regress":
            return np.stack([np.zeros(len(out), np.uint8), encode(out[:, 0])])
        k = out.shape[1]
        top = out.max(axis=1)
        confidence = (top - 1 / k) / (1 - 1 / k)
        return np.stack([out.argmax(axis=1).astype(np.uint8), encode(2 * confidence - 1)])

    def state(self) -> dict[str, Any]:
        """Everything about the set-up: settings, layer sizes, points, loss curves so far."""
        c = self.config

        def rows(points: D.Points) -> list[list[float]]:
            return np.column_stack([points.X, points.y.reshape(len(points.X), -1)]).tolist()

        return {
            "type": "state",
            "config": {f.name: getattr(c, f.name) for f in fields(Config)},
            "sizes": self.model.sizes,
            "task": self.points.task,
            "classes": self.points.classes,
            "axes": list(self.points.axes),
            "loss": self.loss_name,
            "train": rows(self.train_set),
            "test": rows(self.test_set),
            "view": D.VIEW,
            "grid": GRID,
            "surface_grid": SURFACE_GRID,
            "history": {
                "epochs": self.history.epochs,
                "train": self.history.train,
                "test": self.history.test,
            },
        }

    def frame(self) -> dict[str, Any]:
        """The live picture: step and epoch counts, losses, weights and biases with the last
        batch's gradients, every neuron's heatmap and the decision surface (base64 bytes)."""
        linear = self.model.linear_layers

        def grad(p) -> list | None:
            return None if p.grad is None else np.asarray(p.grad).tolist()

        return {
            "type": "frame",
            "steps": self.steps,
            "epoch": self.epoch,
            "train_loss": self.history.train[-1],
            "test_loss": self.history.test[-1],
            "weights": [layer.U.data.tolist() for layer in linear],
            "biases": [layer.b.data.tolist() for layer in linear],
            "weight_grads": [grad(layer.U) for layer in linear],
            "maps": base64.b64encode(self.neuron_maps().tobytes()).decode("ascii"),
            "surface": base64.b64encode(self.surface().tobytes()).decode("ascii"),
        }

"""The plots of the notes (matplotlib, Agg backend; extra ``chainrule[explain]``):

* every activation with its derivative, the derivative computed by the engine;
* BCE against y_hat for y = 0 and y = 1, as the notes draw it, the multi-class
  cross-entropy, and MSE;
* a small network's decision regions on a 2-D data set, with its loss curve
  (optionally as a GIF of the boundary changing during training).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .. import autodiff as ad
from ..io import write_atomic
from ..nn import MLP, objective
from ..nn import functional as F
from ..optim import Adam
from ..plots import pyplot
from ..training import Callback, fit

ACTIVATIONS = {
    "sigmoid": ad.sigmoid,
    "tanh": ad.tanh,
    "relu": ad.relu,
    "leaky_relu": lambda x: ad.leaky_relu(x, 0.1),
    "elu": ad.elu,
    "softplus": ad.softplus,
    "gelu": ad.gelu,
    "identity": lambda x: x * 1.0,
}
# Each activation's formula and its derivative's, in matplotlib's mathtext.
FORMULAS = {
    "sigmoid": (r"$\sigma(x) = 1/(1+e^{-x})$", r"$\sigma'(x) = \sigma(x)\,(1-\sigma(x))$"),
    "tanh": (r"$\tanh(x) = (e^{x}-e^{-x})/(e^{x}+e^{-x})$", r"$\tanh'(x) = 1-\tanh^{2}(x)$"),
    "relu": (r"$\mathrm{relu}(x) = \max(0, x)$", r"$\mathrm{relu}'(x) = 1$ if $x>0$, else $0$"),
    "leaky_relu": (
        r"$\mathrm{lrelu}(x) = \max(0.1x, x)$",
        r"$\mathrm{lrelu}'(x) = 1$ if $x>0$, else $0.1$",
    ),
    "elu": (
        r"$\mathrm{elu}(x) = x$ if $x>0$, else $e^{x}-1$",
        r"$\mathrm{elu}'(x) = 1$ if $x>0$, else $e^{x}$",
    ),
    "softplus": (r"$\mathrm{softplus}(x) = \log(1+e^{x})$", r"$\mathrm{softplus}'(x) = \sigma(x)$"),
    "gelu": (
        r"$\mathrm{gelu}(x) = \frac{x}{2}(1+\tanh(\sqrt{2/\pi}\,(x+0.044715x^{3})))$",
        r"$\mathrm{gelu}'(x)$ (by backprop)",
    ),
    "identity": (r"$f(x) = x$", r"$f'(x) = 1$"),
}
# Where a derivative jumps: it is drawn as a step, broken there, with the engine's choice
# (the subgradient backprop uses at the kink) as a filled dot, the other side's limit open.
KINKS = {"relu": 0.0, "leaky_relu": 0.0}
TOY_DATASETS = ("moons", "circles", "xor", "spiral")
FIGURES = ("activations", "losses", "boundary")  # plot_activations, plot_losses, plot_boundary


def _save(figure, path: str | os.PathLike, tight: bool = False) -> None:
    """Write the figure as PNG or SVG, atomically; ``tight`` grows the canvas to hold
    what sits outside the axes (a legend below them)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg"):
        raise ValueError(f"cannot plot to '{path.name}': use a .png or .svg file")
    buffer = io.BytesIO()
    extent = {"bbox_inches": "tight", "pad_inches": 0.15} if tight else {}
    figure.savefig(buffer, format=fmt, dpi=100, **extent)
    write_atomic(path, buffer.getvalue())


def activation_and_derivative(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x), the derivative by backpropagation through the activation's gate."""
    t = ad.tensor(x, requires_grad=True)
    y = ACTIVATIONS[name](t)
    y.sum().backward()  # d(sum f(x_i))/dx_i = f'(x_i)
    return y.data, t.grad


def drawn_derivative(name: str, x: np.ndarray) -> np.ndarray:
    """f'(x) as plotted: the engine's derivative, NaN at a kink so that no line joins
    the two sides of the jump (matplotlib breaks a line at NaN)."""
    derivative = activation_and_derivative(name, x)[1].astype(float)
    if name in KINKS:
        derivative[np.isclose(x, KINKS[name], atol=0)] = np.nan
    return derivative


def plot_activations(
    path: str | os.PathLike,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every activation and its derivative (by backprop through its gate), formulas in
    the legends.  Returns, per activation, the x, f(x) and f'(x) drawn."""
    plt = pyplot()
    x = np.linspace(-4, 4, 401)  # holds 0 exactly: the kinks are at a sample
    figure, axes = plt.subplots(2, 4, figsize=(16, 8))
    drawn = {}
    for ax, name in zip(axes.flat, ACTIVATIONS, strict=True):
        value = activation_and_derivative(name, x)[0]
        derivative = drawn_derivative(name, x)
        drawn[name] = (x, value, derivative)
        formula, derivative_formula = FORMULAS[name]
        ax.plot(x, value, color="#0969da", label=formula)
        ax.plot(x, derivative, "--", color="#cf222e", label=derivative_formula)
        if name in KINKS:
            kink = KINKS[name]
            chosen = activation_and_derivative(name, np.array([kink]))[1][0]
            left, right = derivative[x < kink][-1], derivative[x > kink][0]
            other = right if chosen == left else left
            ax.plot([kink], [chosen], "o", color="#cf222e", ms=5)
            ax.plot([kink], [other], "o", mfc="white", mec="#cf222e", ms=5)
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("$x$")
        ax.set_ylabel("$f(x)$,  $f'(x)$")
        ax.legend(fontsize=8, loc="upper left")
    figure.suptitle(
        "Activation functions (solid) and their derivatives (dashed), computed by "
        "chainrule's gates; at a kink, the dot is the value backprop uses"
    )
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return drawn


def cross_entropy_of_logit(z: np.ndarray, moved: int, classes: int = 3) -> np.ndarray:
    """The cross-entropy -log softmax(z)_0 of a ``classes``-class prediction whose true
    class is 0, as logit ``moved`` runs over ``z`` and the others stay 0 (by the
    engine's cross_entropy)."""
    logits = np.zeros((len(z), classes))
    logits[:, moved] = z
    return np.array([F.cross_entropy(row[None, :], np.array([0])).item() for row in logits])


def plot_losses(path: str | os.PathLike) -> None:
    """The notes' losses: BCE against y_hat for y = 0 and y = 1, the multi-class
    cross-entropy (against the true class's probability, and against one logit of a
    3-class softmax), and the squared error."""
    plt = pyplot()
    p = np.linspace(0.0, 1.0, 401)
    figure, (bce, ce, logit, mse) = plt.subplots(1, 4, figsize=(18, 4.6))
    for target in (0.0, 1.0):
        losses = [F.binary_cross_entropy(np.array([[v]]), np.array([target])).item() for v in p]
        bce.plot(p, losses, label=f"$y = {int(target)}$")
    bce.set_xlabel(r"$\hat{y}$ (predicted probability of class 1)")
    bce.set_ylabel("BCE")
    bce.set_title(r"$\mathrm{BCE} = -(y \log \hat{y} + (1 - y) \log(1 - \hat{y}))$")
    bce.set_ylim(0, 8)
    bce.legend()
    inside = p[1:]  # -log 0 is infinite
    ce.plot(inside, -np.log(inside), color="#8250df", label=r"$-\log \hat{y}_c$")
    ce.set_xlabel(r"$\hat{y}_c$ (predicted probability of the true class $c$)")
    ce.set_ylabel("CE")
    ce.set_title(r"$\mathrm{CE} = -\sum_{k} y_k \log \hat{y}_k = -\log \hat{y}_c$ ($y$ one-hot)")
    ce.set_ylim(0, 8)
    ce.legend()
    z = np.linspace(-6, 6, 241)
    logit.plot(z, cross_entropy_of_logit(z, 0), label=r"true class's logit $z_1$ varies")
    logit.plot(z, cross_entropy_of_logit(z, 1), "--", label=r"a wrong class's logit $z_2$ varies")
    logit.set_xlabel("logit $z$ (the other logits 0)")
    logit.set_ylabel("CE")
    logit.set_title(r"3 classes, true class 1: $\mathrm{CE} = -\log(e^{z_1} / \sum_{k} e^{z_k})$")
    logit.legend(fontsize=8)
    prediction = np.linspace(-2, 2, 401)
    for target in (-1.0, 0.0, 1.0):
        mse.plot(prediction, (prediction - target) ** 2, label=f"$y = {target:g}$")
    mse.set_xlabel(r"$\hat{y}$")
    mse.set_ylabel("squared error")
    mse.set_title(r"$\|y - \hat{y}\|_2^2$ (MSE: its mean over samples)")
    mse.legend()
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def toy_dataset(name: str, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-class 2-D data: moons, circles, xor, spiral (generated, no download)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    if name == "moons":
        angle = rng.uniform(0, np.pi, size=n)
        upper = np.column_stack([np.cos(angle[:half]), np.sin(angle[:half])])
        lower = np.column_stack([1 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])])
        X = np.vstack([upper, lower]) + rng.normal(scale=0.1, size=(n, 2))
    elif name == "circles":
        angle = rng.uniform(0, 2 * np.pi, size=n)
        radius = np.where(np.arange(n) < half, 1.0, 0.45)
        X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        X += rng.normal(scale=0.07, size=(n, 2))
    elif name == "xor":
        X = rng.uniform(-1, 1, size=(n, 2))
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
        return X, y
    elif name == "spiral":
        t = np.sqrt(rng.uniform(0, 1, size=n)) * 3 * np.pi
        sign = np.where(np.arange(n) < half, 1.0, -1.0)
        X = np.column_stack([sign * t * np.cos(t), sign * t * np.sin(t)]) / (3 * np.pi)
        X += rng.normal(scale=0.03, size=(n, 2))
    else:
        raise ValueError(f"unknown data set '{name}'; choose one of {', '.join(TOY_DATASETS)}")
    y = (np.arange(n) >= half).astype(np.int64)
    return X, y


# TF Playground's class colours: orange and blue, light points over lighter regions.
CLASS_COLOURS = ("#f59322", "#0877bd")
REGION_COLOURS = ("#fcdcb8", "#ffffff", "#b9daf0")  # P(class 1) = 0, 0.5, 1
TEST_FRACTION = 0.25  # of the toy data, held out (seeded) and never trained on


@dataclass(frozen=True)
class BoundaryDefaults:
    """A network that learns the data set well at its seed, in a few seconds."""

    hidden: tuple[int, ...]
    activation: str
    epochs: int
    lr: float

    def __str__(self) -> str:
        hidden = ",".join(map(str, self.hidden))
        options = f"--activation {self.activation} --epochs {self.epochs} --lr {self.lr:g}"
        return f"--hidden {hidden} {options}"


BOUNDARY_DEFAULTS = {
    "moons": BoundaryDefaults((8, 8), "tanh", 300, 0.01),
    "circles": BoundaryDefaults((8, 8), "tanh", 300, 0.01),
    "xor": BoundaryDefaults((8, 8), "tanh", 300, 0.01),
    "spiral": BoundaryDefaults((32, 32), "tanh", 500, 0.03),
}


@dataclass
class BoundaryResult:
    """What ``plot_boundary`` trained and drew: the final accuracy and mean
    cross-entropy on the training set and on the held-out test set, the losses after
    every epoch (index 0: the untrained network), and for a GIF the epoch each frame
    shows and the loss axis's limits in each frame as drawn."""

    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float
    train_losses: list[float]
    test_losses: list[float]
    frame_epochs: list[int] = field(default_factory=list)
    frame_loss_limits: list[tuple[float, float]] = field(default_factory=list)


Progress = Callable[[str, int, int], None]  # (what, done, total)


def split(
    X: np.ndarray, y: np.ndarray, seed: int, fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test): a random ``fraction`` held out, from ``seed``."""
    order = np.random.default_rng(seed + 1).permutation(len(X))
    held = round(fraction * len(X))
    test, train = order[:held], order[held:]
    return X[train], y[train], X[test], y[test]


@contextlib.contextmanager
def reporting_progress(stream: TextIO, steps: int = 5) -> Iterator[Progress]:
    """A ``progress(what, done, total)`` for :func:`plot_boundary` that reports on
    ``stream``: rich progress bars on a terminal, else one line at every
    1/``steps`` of each stage (a pipe or a log file gets a few lines, no bar codes)."""
    if stream.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bars = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        tasks: dict[str, Any] = {}

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bars.add_task(what, total=total)
            bars.update(tasks[what], completed=done)

        with bars:
            yield update
        return
    said: dict[str, int] = {}

    def say(what: str, done: int, total: int) -> None:
        step = done * steps // total
        if step > said.get(what, 0):
            said[what] = step
            print(f"{what}: {done}/{total}", file=stream, flush=True)

    yield say


def _region_colormap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("chainrule_regions", REGION_COLOURS)


def _regions(ax, model: MLP, data: tuple[np.ndarray, ...], limits, title: str):
    """Decision regions (P(class 1), light fills), the 0.5 boundary, and the points:
    training with white outlines, test with dark ones; a legend of the classes.
    Returns the fill's mappable (for a colour bar)."""
    X_train, y_train, X_test, y_test = data
    (x0, x1), (y0, y1) = limits
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    probability = model.predict(grid)[:, 1].reshape(gx.shape)
    fill = ax.contourf(
        gx, gy, probability, levels=np.linspace(0, 1, 11), cmap=_region_colormap(), vmin=0, vmax=1
    )
    ax.contour(gx, gy, probability, levels=[0.5], colors="#555555", linewidths=1)
    for label, colour in enumerate(CLASS_COLOURS):
        ax.scatter(
            *X_train[y_train == label].T,
            color=colour,
            edgecolors="white",
            linewidths=0.8,
            s=30,
            label=f"class {label}, training",
        )
        ax.scatter(
            *X_test[y_test == label].T,
            color=colour,
            edgecolors="#222222",
            linewidths=0.9,
            s=30,
            label=f"class {label}, test",
        )
    ax.plot([], [], color="#555555", lw=1, label="boundary, P = 0.5")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    return fill


def _loss_panel(ax, train: list[float], test: list[float], epochs: int, top: float) -> None:
    last = len(train) - 1
    ax.plot(range(len(train)), train, color="#444444", label="training")
    ax.plot(range(len(test)), test, color="#cf222e", ls="--", label="test (held out)")
    ax.plot([last, last], [train[-1], test[-1]], "o", color="#444444", ms=3)  # where it is now
    ax.set_xlim(0, epochs)
    ax.set_ylim(0, top)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (mean)")
    ax.set_title(f"loss: training {train[-1]:.4f}, test {test[-1]:.4f}", fontsize=10)
    ax.legend(fontsize=8)


def _limits(X: np.ndarray, margin: float = 0.3):
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    return (low[0], high[0]), (low[1], high[1])


def plot_boundary(
    path: str | os.PathLike,
    dataset: str = "moons",
    hidden: tuple[int, ...] | None = None,
    activation: str | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    gif: bool = False,
    progress: Progress | None = None,
) -> BoundaryResult:
    """Train a small softmax network (Adam, batches of 32) on the training part of a
    2-D data set, a quarter held out as a test set, and draw its decision regions beside
    the training and test loss curves; with ``gif``, an animation from the untrained
    network (epoch 0) to the last epoch, to a ``.gif`` file.  Options left None take the
    data set's :data:`BOUNDARY_DEFAULTS`.  ``progress(what, done, total)`` is called as
    training and drawing go."""
    path = Path(path)
    suffix = path.suffix.lower()
    if gif and suffix != ".gif":
        raise ValueError(
            f"--gif writes an animated GIF: name the output {path.stem}.gif (got '{path.name}')"
        )
    if not gif and suffix not in (".png", ".svg"):
        raise ValueError(f"cannot plot to '{path.name}': use a .png or .svg file (or --gif)")
    if dataset not in BOUNDARY_DEFAULTS:
        raise ValueError(f"unknown data set '{dataset}'; choose one of {', '.join(TOY_DATASETS)}")
    defaults = BOUNDARY_DEFAULTS[dataset]
    hidden = defaults.hidden if hidden is None else tuple(hidden)
    activation = activation or defaults.activation
    epochs = epochs or defaults.epochs
    lr = defaults.lr if lr is None else lr
    plt = pyplot()
    X, y = toy_dataset(dataset, seed=seed)
    data = split(X, y, seed)
    X_train, y_train, X_test, y_test = data
    model = MLP([2, *hidden, 2], activation=activation, output="softmax", seed=seed)
    loss_of = objective(model, "cross_entropy")

    def losses() -> tuple[float, float]:
        with ad.no_grad():
            return loss_of(X_train, y_train).item(), loss_of(X_test, y_test).item()

    every = max(1, epochs // 30) if gif else epochs + 1  # a frame every `every` epochs
    train_losses, test_losses = map(list, zip(losses(), strict=True))
    snapshots = {0: model.state_dict()} if gif else {}

    class Record(Callback):
        def on_epoch_end(self, state, epoch: int, logs: dict[str, float]) -> None:
            done = epoch  # (fit counts epochs from 1)
            train, test = losses()
            train_losses.append(train)
            test_losses.append(test)
            if gif and (done % every == 0 or done == epochs):
                snapshots[done] = model.state_dict()
            if progress is not None:
                progress("training", done, epochs)

    fit(
        model,
        "cross_entropy",
        Adam(model.parameters(), lr=lr),
        X_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        callbacks=[Record()],
        verbose=0,
        seed=seed,
    )

    def accuracy(features: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(model.predict(features).argmax(axis=1) == labels))

    result = BoundaryResult(
        train_accuracy=accuracy(X_train, y_train),
        test_accuracy=accuracy(X_test, y_test),
        train_loss=train_losses[-1],
        test_loss=test_losses[-1],
        train_losses=train_losses,
        test_losses=test_losses,
    )
    network = f"{'-'.join(map(str, model.sizes))} {activation}, lr {lr:g}"
    limits = _limits(X)
    top = 1.05 * max(max(train_losses), max(test_losses))  # one loss axis for every frame

    def title(epoch: int, train: float, test: float) -> str:
        return (
            f"{dataset} ({network}), epoch {epoch}\naccuracy: training {train:.3f}, test {test:.3f}"
        )

    if not gif:
        figure, (left, right) = plt.subplots(
            1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [1.15, 1]}
        )
        fill = _regions(
            left,
            model,
            data,
            limits,
            title(epochs, result.train_accuracy, result.test_accuracy),
        )
        figure.colorbar(fill, ax=left, label="P(class 1)", shrink=0.8)
        _loss_panel(right, train_losses, test_losses, epochs, top)
        figure.tight_layout()
        _save(figure, path, tight=True)
        plt.close(figure)
        return result
    _animate(plt, model, snapshots, result, data, limits, epochs, top, title, path, progress)
    return result


def _animate(plt, model, snapshots, result, data, limits, epochs, top, title, path, progress):
    """One frame per snapshot, on fixed axes: the regions' limits and equal aspect, the
    loss axis from 0 to ``top`` and epoch 0 to ``epochs``."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1.1, 1]}
    )
    frames = sorted(snapshots)
    X_train, y_train, X_test, y_test = data

    def accuracy(features, labels) -> float:
        return float(np.mean(model.predict(features).argmax(axis=1) == labels))

    def render(i: int) -> int:
        left.clear()
        right.clear()
        epoch = frames[i]
        model.load_state_dict(snapshots[epoch])
        accuracies = accuracy(X_train, y_train), accuracy(X_test, y_test)
        _regions(left, model, data, limits, title(epoch, *accuracies))
        _loss_panel(
            right, result.train_losses[: epoch + 1], result.test_losses[: epoch + 1], epochs, top
        )
        return epoch

    def draw_frame(i: int) -> None:
        epoch = render(i)
        result.frame_epochs.append(epoch)
        result.frame_loss_limits.append(tuple(right.get_ylim()))
        if progress is not None:
            progress("drawing frames", i + 1, len(frames))

    render(0)
    figure.tight_layout()  # laid out once: every frame keeps these axes' places
    animation = FuncAnimation(figure, draw_frame, frames=len(frames), init_func=lambda: None)
    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder) / "boundary.gif"
        animation.save(temporary, writer=PillowWriter(fps=6))
        write_atomic(path, temporary.read_bytes())
    plt.close(figure)

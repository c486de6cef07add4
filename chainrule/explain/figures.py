"""The plots of the notes (matplotlib, Agg backend; extra ``chainrule[explain]``):

* every activation with its derivative, the derivative computed by the engine;
* BCE against y_hat for y = 0 and y = 1, as the notes draw it, and MSE;
* a small network's decision regions on a 2-D data set, with its loss curve
  (optionally as a GIF of the boundary changing during training).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import autodiff as ad
from ..io import write_atomic
from ..nn import MLP
from ..nn import functional as F
from ..optim import Adam
from ..plots import pyplot
from ..training import fit

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
TOY_DATASETS = ("moons", "circles", "xor", "spiral")
FIGURES = ("activations", "losses", "boundary")  # plot_activations, plot_losses, plot_boundary


def _save(figure, path: str | os.PathLike) -> None:
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg"):
        raise ValueError(f"cannot plot to '{path.name}': use a .png or .svg file")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=100)
    write_atomic(path, buffer.getvalue())


def activation_and_derivative(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x), the derivative by backpropagation through the activation's gate."""
    t = ad.tensor(x, requires_grad=True)
    y = ACTIVATIONS[name](t)
    y.sum().backward()  # d(sum f(x_i))/dx_i = f'(x_i)
    return y.data, t.grad


def plot_activations(path: str | os.PathLike) -> None:
    plt = pyplot()
    x = np.linspace(-4, 4, 401)
    figure, axes = plt.subplots(2, 4, figsize=(14, 6.4))
    for ax, name in zip(axes.flat, ACTIVATIONS, strict=True):
        value, derivative = activation_and_derivative(name, x)
        ax.plot(x, value, label=f"{name}(x)")
        ax.plot(x, derivative, "--", label="derivative (backprop)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(name)
        ax.legend(fontsize=8)
    figure.suptitle("Activation functions and their derivatives, computed by chainrule's gates")
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def plot_losses(path: str | os.PathLike) -> None:
    plt = pyplot()
    p = np.linspace(0.0, 1.0, 401)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target in (0.0, 1.0):
        losses = [F.binary_cross_entropy(np.array([[v]]), np.array([target])).item() for v in p]
        left.plot(p, losses, label=f"y = {int(target)}")
    left.set_xlabel("y_hat")
    left.set_ylabel("BCE")
    left.set_title("Binary cross-entropy: -(y log y_hat + (1 - y) log(1 - y_hat))")
    left.set_ylim(0, 8)
    left.legend()
    prediction = np.linspace(-2, 2, 401)
    for target in (-1.0, 0.0, 1.0):
        losses = (prediction - target) ** 2
        right.plot(prediction, losses, label=f"y = {target:g}")
    right.set_xlabel("y_hat")
    right.set_ylabel("MSE")
    right.set_title("Squared error ||y - y_hat||^2")
    right.legend()
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


def _regions(ax, model: MLP, X: np.ndarray, y: np.ndarray, title: str) -> None:
    margin = 0.3
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    probability = model.predict(grid)[:, 1].reshape(gx.shape)
    ax.contourf(gx, gy, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, probability, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=14)
    ax.set_title(title)


def plot_boundary(
    path: str | os.PathLike,
    dataset: str = "moons",
    hidden: tuple[int, ...] = (8, 8),
    activation: str = "tanh",
    epochs: int = 300,
    lr: float = 0.01,
    seed: int = 0,
    gif: bool = False,
) -> dict[str, float]:
    """Train a small softmax network on a 2-D data set and draw its decision regions
    beside the loss curve; with ``gif`` the PNG is replaced by an animation."""
    plt = pyplot()
    X, y = toy_dataset(dataset, seed=seed)
    model = MLP([2, *hidden, 2], activation=activation, output="softmax", seed=seed)
    optimizer = Adam(model.parameters(), lr=lr)
    frames: list[tuple[int, list[float]]] = []
    losses: list[float] = []
    chunk = max(1, epochs // 30) if gif else epochs
    done = 0
    snapshots = []
    while done < epochs:
        step = min(chunk, epochs - done)
        history = fit(
            model,
            "cross_entropy",
            optimizer,
            X,
            y,
            epochs=step,
            batch_size=32,
            verbose=0,
            seed=seed + done,
        )
        losses += history["loss"]
        done += step
        if gif:
            snapshots.append(model.state_dict())
            frames.append((done, list(losses)))
    accuracy = float(np.mean(model.predict(X).argmax(axis=1) == y))
    if not gif:
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
        _regions(
            left,
            model,
            X,
            y,
            f"{dataset}: {'-'.join(map(str, model.sizes))} {activation}, accuracy {accuracy:.3f}",
        )
        right.plot(range(1, len(losses) + 1), losses)
        right.set_xlabel("epoch")
        right.set_ylabel("cross-entropy")
        right.set_title("training loss")
        figure.tight_layout()
        _save(figure, path)
        plt.close(figure)
        return {"accuracy": accuracy, "final_loss": losses[-1]}
    _animate(plt, model, snapshots, frames, X, y, dataset, path)
    return {"accuracy": accuracy, "final_loss": losses[-1]}


def _animate(plt, model, snapshots, frames, X, y, dataset, path) -> None:
    from matplotlib.animation import FuncAnimation, PillowWriter

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    total = frames[-1][0]

    def draw_frame(i):
        left.clear()
        right.clear()
        model.load_state_dict(snapshots[i])
        epoch, losses = frames[i]
        _regions(left, model, X, y, f"{dataset}, epoch {epoch}")
        right.plot(range(1, len(losses) + 1), losses)
        right.set_xlim(1, total)
        right.set_xlabel("epoch")
        right.set_ylabel("cross-entropy")

    animation = FuncAnimation(figure, draw_frame, frames=len(frames))
    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder) / "boundary.gif"
        animation.save(temporary, writer=PillowWriter(fps=6))
        write_atomic(path, temporary.read_bytes())
    plt.close(figure)

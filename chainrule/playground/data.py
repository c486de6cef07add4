"""The playground's data: the toy data sets of the notes' plots (``explain.figures``) and a
few more (two gaussians, a three-arm spiral, two regression surfaces), scaled to the square
[-3, 3]^2 the page draws, plus extra noise; the input features computed from the two
coordinates; an uploaded CSV's two drawn columns, standardised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..explain.figures import toy_dataset

SPAN = 3.0  # the toy data's coordinates lie in [-SPAN, SPAN] (before the extra noise)
VIEW = 4.0  # the page draws [-VIEW, VIEW]^2: the decision surface and every heatmap

# name -> (what the page calls it, task, number of classes; 0 for regression)
DATASETS: dict[str, tuple[str, str, int]] = {
    "circle": ("circle", "classify", 2),
    "xor": ("xor", "classify", 2),
    "gaussians": ("two gaussians", "classify", 2),
    "spiral": ("spiral", "classify", 2),
    "spiral3": ("spiral, 3 classes", "classify", 3),
    "moons": ("moons", "classify", 2),
    "plane": ("regression: plane", "regress", 0),
    "gaussian": ("regression: gaussian", "regress", 0),
}
_FROM_FIGURES = {"circle": "circles", "xor": "xor", "spiral": "spiral", "moons": "moons"}

# feature name -> f(x1, x2), as TF Playground offers them
FEATURES = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1x2": lambda a, b: a * b,
    "sin x1": lambda a, b: np.sin(a),
    "sin x2": lambda a, b: np.sin(b),
}


@dataclass
class Points:
    """2-D points with their targets: class indices (int64) or numbers (float64, (N, 1))."""

    X: np.ndarray
    y: np.ndarray
    task: str
    classes: list[str]  # the class names; empty for regression
    axes: tuple[str, str] = ("x1", "x2")


def toy(name: str, n: int, noise: float, seed: int) -> Points:
    """``n`` points of data set ``name`` in [-SPAN, SPAN]^2 (toy sets of the notes are
    centred and scaled there), with Gaussian noise of standard deviation ``noise`` added."""
    _, task, classes = DATASETS[name]
    rng = np.random.default_rng(seed)
    if name in _FROM_FIGURES:
        X, y = toy_dataset(_FROM_FIGURES[name], n, seed)
        X = X - (X.max(axis=0) + X.min(axis=0)) / 2
        X = X * (SPAN / np.abs(X).max())
    elif name == "gaussians":
        y = (np.arange(n) >= n // 2).astype(np.int64)
        centres = np.where(y[:, None] == 1, 1.5, -1.5)
        X = centres + rng.normal(scale=0.6, size=(n, 2))
    elif name == "spiral3":
        y = np.arange(n) % 3
        radius = np.sqrt(rng.uniform(0.02, 1, size=n))
        angle = y * (2 * np.pi / 3) + radius * 1.6 * np.pi
        X = SPAN * radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
        X += rng.normal(scale=0.08, size=(n, 2))
    else:  # regression: a tilted plane, or a bump; targets in [-1, 1]
        X = rng.uniform(-SPAN, SPAN, size=(n, 2))
        if name == "plane":
            y = (X[:, 0] + X[:, 1]) / (2 * SPAN)
        else:
            y = 2 * np.exp(-(X[:, 0] ** 2 + X[:, 1] ** 2) / 3) - 1
        y = y[:, None]
    X = X + rng.normal(scale=noise, size=X.shape) if noise > 0 else X
    names = [str(k) for k in range(classes)]
    return Points(np.asarray(X, dtype=np.float64), y, task, names)


def split(points: Points, train_ratio: float, seed: int) -> tuple[Points, Points]:
    """(train, test): a seeded random ``train_ratio`` of the points to train on."""
    order = np.random.default_rng(seed + 1).permutation(len(points.X))
    cut = max(1, min(len(order) - 1, round(train_ratio * len(order))))
    parts = order[:cut], order[cut:]
    return tuple(  # type: ignore[return-value]
        Points(points.X[i], points.y[i], points.task, points.classes, points.axes) for i in parts
    )


def features(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The network's inputs: each feature named in ``names`` of the coordinates X (N, 2)."""
    a, b = X[:, 0], X[:, 1]
    return np.column_stack([FEATURES[name](a, b) for name in names])


def grid(size: int) -> np.ndarray:
    """The size x size points where heatmaps are computed, row by row from the top (x2 =
    VIEW) down, each row from x1 = -VIEW to VIEW: (size * size, 2)."""
    ticks = np.linspace(-VIEW, VIEW, size)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])

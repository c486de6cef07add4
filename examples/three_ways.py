"""The notes' three ways to get a gradient, for the sigmoid neuron

    f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))

1. manual (analytic) derivation: fast and exact, but derived by hand, so error-prone;
2. numerical differentiation (central differences): slow and approximate, easy to write;
3. automatic differentiation: the engine applies each gate's local gradient.

Run: python examples/three_ways.py
"""

from __future__ import annotations

import timeit

import numpy as np

import chainrule as cr

W = np.array([2.0, -3.0, -3.0])
X = np.array([-1.0, -2.0])


def manual_gradient(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """df/dw = (1 - f) f (x0, x1, 1), from the notes' sigmoid local gradient (1 - s) s."""
    f = 1.0 / (1.0 + np.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))
    return (1.0 - f) * f * np.array([x[0], x[1], 1.0])


def neuron(w: cr.Tensor) -> cr.Tensor:
    return cr.sigmoid(w[0] * X[0] + w[1] * X[1] + w[2])


def numerical_gradient(w: np.ndarray) -> np.ndarray:
    return cr.numerical_grad(neuron, w)[0]


def autodiff_gradient(w: np.ndarray) -> np.ndarray:
    wt = cr.tensor(w, requires_grad=True)
    neuron(wt).backward()
    return wt.grad


def microseconds(fn, *args) -> float:
    runs = 2000
    return min(timeit.repeat(lambda: fn(*args), number=runs, repeat=3)) / runs * 1e6


def main() -> None:
    manual = manual_gradient(W, X)
    rows = [
        ("manual", manual, microseconds(manual_gradient, W, X)),
        ("numerical", numerical_gradient(W), microseconds(numerical_gradient, W)),
        ("autodiff", autodiff_gradient(W), microseconds(autodiff_gradient, W)),
    ]
    print("gradient of f(w, x) = sigmoid(w0 x0 + w1 x1 + w2) at w = (2, -3, -3), x = (-1, -2)")
    columns = ["df/dw0", "df/dw1", "df/dw2"]
    print(f"{'method':<10}" + "".join(f"{c:>11}" for c in columns), end="")
    print(f"{'max |diff| vs manual':>22}{'time (us)':>11}")
    for name, grad, time_us in rows:
        diff = np.abs(grad - manual).max()
        values = "".join(f"{g:>11.6f}" for g in grad)
        print(f"{name:<10}{values}{diff:>22.2e}{time_us:>11.1f}")


if __name__ == "__main__":
    main()

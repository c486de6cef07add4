"""The notes' feedforward network, U1 (3x5), U2 (5x4), U3 (4x2), built with chainrule:
its matrices, a forward pass on one X, and one gradient-descent step

    theta(t+1) = theta(t) - eps dLoss/dtheta

for a classification target (softmax output, cross-entropy) and for a regression
target (identity output, MSE).

Run: python examples/lecture_network.py
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn

np.set_printoptions(precision=3, suppress=True)
X = np.array([[0.5, -1.0, 2.0]])  # one sample, x1 x2 x3
STEP = 0.1  # eps


def hidden_activations(model: nn.MLP, x: np.ndarray) -> list[np.ndarray]:
    """H1 = sigmoid(X U1 + b1), H2 = sigmoid(H1 U2 + b2): each hidden layer's output."""
    hidden = []
    h = cr.tensor(x)
    for layer in model.layers:  # Linear, activation, Linear, activation, Linear
        h = layer(h)
        if not isinstance(layer, nn.Linear):
            hidden.append(h.data)
    return hidden


def one_step(output: str, loss: str, target: np.ndarray) -> None:
    model = nn.MLP([3, 5, 4, 2], activation="sigmoid", output=output, seed=0, dtype="float64")
    compute = nn.objective(model, loss)
    print(f"\n== {output} output, {loss} loss, target {target.tolist()} ==")
    print("forward:")
    print("  X =", X)
    for i, h in enumerate(hidden_activations(model, X), start=1):
        previous = "X" if i == 1 else f"H{i - 1}"
        print(f"  H{i} = sigmoid({previous} U{i} + b{i}) =", h)
    print("  y_hat =", model(X).data)
    before = compute(X, target)
    before.backward()
    print(f"loss before the step: {before.item():.6f}")
    print("the gradient's size, layer by layer: ||dLoss/dU||_F = sqrt(sum of its squares)")
    for i, U in enumerate(model.U, start=1):
        print(
            f"  Frobenius norm of dLoss/dU{i} ({U.shape[0]}x{U.shape[1]}): "
            f"{np.linalg.norm(U.grad):.6f}"
        )
    cr.optim.SGD(model.parameters(), lr=STEP).step()
    after = compute(X, target)
    print(f"loss after one step (eps = {STEP}): {after.item():.6f}")
    print("y_hat after the step:", model(X).data)


def main() -> None:
    model = nn.MLP([3, 5, 4, 2], activation="sigmoid", output="softmax", seed=0, dtype="float64")
    print("The notes' network:", model.sizes)
    for i, U in enumerate(model.U, start=1):
        print(f"\nU{i} {U.shape[0]}x{U.shape[1]}:\n{U.data}")
    one_step("softmax", "cross_entropy", np.array([1]))
    one_step("identity", "mse", np.array([[0.5, -0.25]]))


if __name__ == "__main__":
    main()

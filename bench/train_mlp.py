"""One training epoch of a 784-256-128-10 ReLU network, softmax cross-entropy, batch 128,
on synthetic MNIST-shaped float32 data (60,000 x 784, 10 classes), with SGD and with Adam:
chainrule (through cr.fit) beside PyTorch eager (CPU), scikit-learn's MLPClassifier
(max_iter=1), JAX (the whole step, update included, compiled with jit) and a hand-written
NumPy forward/backward loop (in-place updates).

Each peer runs in its own process, peers interleaved over rounds; each figure is the
best of two timed epochs after a warm-up epoch on a slice.  Lower is better.

Run: python bench/train_mlp.py [--rounds 3] [--threads 1|2] [--quick] [--json out.json]
Peers: pip install -e ".[bench]"   (torch 2.13.0 CPU, scikit-learn)
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import numpy as np

import harness

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = {"sgd": 0.01, "adam": 0.001}
WORKLOADS = ["sgd", "adam"]
Epoch = Callable[[np.ndarray, np.ndarray], None]


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="10,000 samples instead of 60,000")


def data(args):
    n = 10_000 if args.quick else 60_000
    rng = np.random.default_rng(0)
    X = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], size=n)
    return X, y


# Each peer: optimizer name -> a function that trains one epoch on (X, y).


def chainrule_epoch(name: str, threads: int) -> Epoch:
    import chainrule as cr

    model = cr.nn.MLP(SIZES, activation="relu", output="softmax", seed=0)
    params = model.parameters()
    opt = cr.optim.SGD(params, lr=LR[name]) if name == "sgd" else cr.optim.Adam(params, lr=LR[name])

    def epoch(X, y):
        cr.fit(model, "cross_entropy", opt, X, y, epochs=1, batch_size=BATCH, verbose=0, seed=0)

    return epoch


def torch_epoch(name: str, threads: int) -> Epoch:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for a, b in itertools.pairwise(SIZES):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    params = model.parameters()
    opt = (
        torch.optim.SGD(params, lr=LR[name])
        if name == "sgd"
        else torch.optim.Adam(params, lr=LR[name])
    )

    def epoch(X, y):
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        order = torch.randperm(len(X))
        for start in range(0, len(X), BATCH):
            index = order[start : start + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[index]), y[index])
            loss.backward()
            opt.step()

    return epoch


def sklearn_epoch(name: str, threads: int) -> Epoch:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    common = dict(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu", batch_size=BATCH)
    common.update(max_iter=1, alpha=0.0, shuffle=True, random_state=0, tol=0.0)
    if name == "sgd":
        model = MLPClassifier(solver="sgd", learning_rate_init=LR[name], momentum=0.0, **common)
    else:
        model = MLPClassifier(solver="adam", learning_rate_init=LR[name], **common)
    return lambda X, y: model.fit(X, y)


def he_uniform_parameters() -> list[np.ndarray]:
    """U1, b1, U2, b2, U3, b3 in float32: He-uniform weights (seed 0), zero biases."""
    rng = np.random.default_rng(0)
    params = []
    for a, b in itertools.pairwise(SIZES):
        limit = np.sqrt(6.0 / a)
        params += [rng.uniform(-limit, limit, (a, b)).astype(np.float32), np.zeros(b, np.float32)]
    return params


def jax_epoch(name: str, threads: int) -> Epoch:
    """The whole training step (forward, gradient, SGD or Adam update) in one jit."""
    import jax
    import jax.numpy as jnp

    params = [jnp.asarray(p) for p in he_uniform_parameters()]
    lr, b1, b2, eps = LR[name], 0.9, 0.999, 1e-8

    def loss(params, xb, yb):
        u1, c1, u2, c2, u3, c3 = params
        h = jax.nn.relu(xb @ u1 + c1)
        h = jax.nn.relu(h @ u2 + c2)
        log_p = jax.nn.log_softmax(h @ u3 + c3)
        return -jnp.mean(jnp.take_along_axis(log_p, yb[:, None], axis=1))

    @jax.jit
    def step(params, state, xb, yb):
        grads = jax.grad(loss)(params, xb, yb)
        if name == "sgd":
            return [p - lr * g for p, g in zip(params, grads, strict=True)], state
        m, v, t = state
        t = t + 1
        m = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads, strict=True)]
        v = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads, strict=True)]
        scale = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        params = [
            p - scale * mi / (jnp.sqrt(vi) + eps) for p, mi, vi in zip(params, m, v, strict=True)
        ]
        return params, (m, v, t)

    zeros = [jnp.zeros_like(p) for p in params]
    held = {"params": params, "state": (zeros, list(zeros), jnp.float32(0))}

    def epoch(X, y):
        y = y.astype(np.int32)
        order = np.random.default_rng(0).permutation(len(X))
        params, state = held["params"], held["state"]
        for start in range(0, len(X), BATCH):
            index = order[start : start + BATCH]
            params, state = step(params, state, X[index], y[index])
        jax.block_until_ready(params)
        held["params"], held["state"] = params, state

    return epoch


def numpy_step(name: str) -> Callable[[np.ndarray, np.ndarray], None]:
    """Hand-written forward and backward, in-place updates: the floor to reach.  One
    training step on a batch (xb, yb)."""
    params = he_uniform_parameters()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = [0]

    def update(grads):
        lr = LR[name]
        if name == "sgd":
            for p, g in zip(params, grads, strict=True):
                g *= lr
                p -= g
            return
        step[0] += 1
        t, b1, b2 = step[0], 0.9, 0.999
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            g *= g
            g *= 1 - b2
            vi += g
            denom = np.sqrt(vi)
            denom *= 1 / np.sqrt(1 - b2**t)
            denom += 1e-8
            np.divide(mi, denom, out=denom)
            denom *= lr / (1 - b1**t)
            p -= denom

    def train_step(xb, yb):
        u1, b1, u2, b2, u3, b3 = params
        h1 = np.maximum(xb @ u1 + b1, 0)
        h2 = np.maximum(h1 @ u2 + b2, 0)
        z = h2 @ u3 + b3
        e = np.exp(z - z.max(axis=1, keepdims=True))
        dz = e / e.sum(axis=1, keepdims=True)
        dz[np.arange(len(yb)), yb] -= 1
        dz /= len(yb)
        dh2 = (dz @ u3.T) * (h2 > 0)
        dh1 = (dh2 @ u2.T) * (h1 > 0)
        update([xb.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dz, dz.sum(0)])

    return train_step


def numpy_epoch(name: str, threads: int) -> Epoch:
    train_step = numpy_step(name)

    def epoch(X, y):
        order = np.random.default_rng(0).permutation(len(X))
        for start in range(0, len(X), BATCH):
            index = order[start : start + BATCH]
            train_step(X[index], y[index])

    return epoch


EPOCHS = {
    "chainrule": chainrule_epoch,
    "torch": torch_epoch,
    "sklearn": sklearn_epoch,
    "jax": jax_epoch,
    "numpy": numpy_epoch,
}


def per_epoch_ms(make_epoch, args) -> dict[str, float]:
    X, y = data(args)
    results = {}
    for name in WORKLOADS:
        epoch = make_epoch(name, args.threads)
        epoch(X[:2048], y[:2048])  # warm-up: allocations, BLAS start-up
        results[name] = harness.best_of(lambda epoch=epoch: epoch(X, y), repeat=2) * 1e3
    return results


def peak_memory_mb(make_epoch, args, name: str = "sgd") -> float:
    """How far one epoch raises the process's peak resident memory above what the data
    and the model already took (call in a fresh process)."""
    import resource

    X, y = data(args)
    epoch = make_epoch(name, args.threads)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    epoch(X, y)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024.0


RUNNERS = {
    peer: (lambda args, make=make: per_epoch_ms(make, args)) for peer, make in EPOCHS.items()
}


def main() -> None:
    report = harness.main(
        __doc__.splitlines()[0], RUNNERS, WORKLOADS, unit="ms/epoch", add_arguments=add_arguments
    )
    if report:
        n = 10_000 if "--quick" in __import__("sys").argv else 60_000
        print("samples/s (median):")
        for peer, cells in report["results"].items():
            rates = "  ".join(f"{w} {n / (cells[w]['median'] / 1e3):>9,.0f}" for w in cells)
            print(f"  {peer:<12}{rates}")


if __name__ == "__main__":
    main()

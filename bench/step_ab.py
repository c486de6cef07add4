"""Per-step A/B at the MNIST shape, in one process: chainrule against hand-written NumPy.

train_mlp.py times whole epochs, each peer in its own process; on a shared virtual
machine those figures drift by 10-30% between processes and minutes, more than the
differences that are left to measure.  Here the steps take turns instead: on each
batch of 128 (784-256-128-10 ReLU network, softmax cross-entropy), every variant runs
one training step, in a rotating order, so drift and cache state hit all of them alike:

  numpy      the hand-written forward, backward and update of train_mlp.py (the floor)
  chainrule  fit()'s inner loop: nn.value_and_grad (no graph recorded for an MLP), then
             optimizer.step(release_grads=True); for SGD, with backpropagation seeded
             with the step size and step(prescaled=True), as fit() does
  graph      the same with the graph recorded: objective(model, loss)(x, y).backward()

Prints the median and mean time per step and each one's ratio to NumPy's median.

Run: python bench/step_ab.py [--optimizer sgd|adam] [--threads 1|2] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--threads", type=int, choices=[1, 2], default=1)
    parser.add_argument("--epochs", type=int, default=2, help="passes over the 60,000 samples")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy loads its BLAS

    import numpy as np

    import train_mlp

    X, y = train_mlp.data(argparse.Namespace(quick=False))
    steps = {"numpy": train_mlp.numpy_step(args.optimizer)}
    steps["chainrule"] = chainrule_step(train_mlp, args.optimizer, graph=False)
    steps["graph"] = chainrule_step(train_mlp, args.optimizer, graph=True)
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    order = np.random.default_rng(0).permutation(len(X))
    batch = train_mlp.BATCH
    for epoch in range(args.epochs + 1):  # the first pass warms up and is not counted
        for i, start in enumerate(range(0, len(X) - batch + 1, batch)):
            index = order[start : start + batch]
            turn = names[i % len(names) :] + names[: i % len(names)]
            for name in turn:
                xb, yb = X[index], y[index]  # each variant gathers its own batch
                began = time.perf_counter()
                steps[name](xb, yb)
                if epoch:
                    times[name].append(time.perf_counter() - began)
    floor = statistics.median(times["numpy"])
    print(
        f"one training step, batch {batch}, {args.optimizer}, {args.threads} thread(s), "
        f"{len(times['numpy'])} steps each, taking turns"
    )
    print(f"{'variant':<10} {'median us':>10} {'mean us':>10} {'/ numpy':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        mean = statistics.fmean(values)
        print(f"{name:<10} {median * 1e6:10.1f} {mean * 1e6:10.1f} {median / floor:8.3f}")


def chainrule_step(train_mlp, optimizer: str, graph: bool):
    """fit()'s inner loop on one batch, with the value_and_grad chain or the graph."""
    import chainrule as cr

    model = cr.nn.MLP(train_mlp.SIZES, activation="relu", output="softmax", seed=0)
    params = model.parameters()
    lr = train_mlp.LR[optimizer]
    opt = cr.optim.SGD(params, lr=lr) if optimizer == "sgd" else cr.optim.Adam(params, lr=lr)
    if graph:
        compute = cr.nn.objective(model, "cross_entropy")

        def step(xb, yb):
            step_size = opt.plain_step_size()
            compute(xb, yb).backward(step_size)  # None: the usual seed, 1
            opt.step(release_grads=True, prescaled=step_size is not None)

        return step
    loss_and_gradients = cr.nn.value_and_grad(model, "cross_entropy", targets_checked=True)

    def step(xb, yb):
        step_size = opt.plain_step_size()
        if step_size is None:
            loss_and_gradients(xb, yb)
            opt.step(release_grads=True)
        else:
            loss_and_gradients(xb, yb, grad_scale=step_size)
            opt.step(release_grads=True, prescaled=True)

    return step


if __name__ == "__main__":
    main()

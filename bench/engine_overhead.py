"""Engine overhead: chainrule beside PyTorch eager (CPU), HIPS autograd, JAX and hand-written NumPy.

Workloads (tiny arrays, so only per-operation bookkeeping counts):
  op        one elementwise gate forward + backward, averaged over a chain of 20 gates
            (mul, add, tanh, exp in turn) on a 4-vector, then sum and backward
  net-b1    one training step of the notes' 3-5-4-2 network (tanh, tanh, softmax
            cross-entropy, SGD update) at batch 1; chainrule's step is fit()'s: the
            loss and gradients from value_and_grad, which backpropagates the network's
            chain of gates without recording one, seeded with the step size, then
            step(prescaled=True)
  net-b32   the same at batch 32
  net-b1-graph  chainrule only: the net-b1 step as a textbook loop writes it:
            zero_grad(), objective(model, loss)(x, y).backward() through the recorded
            graph, step()

JAX compiles the whole step with jit (float64 enabled, as the others); it has no "op"
figure, since a jit-compiled chain is one fused kernel, not a chain of operations.

Each peer runs in its own process; peers are interleaved (A B C, B C A, ...) for --rounds
rounds, and the table shows the median (min-max) across rounds, in microseconds, with
each peer's ratio to chainrule.  One thread by default (tiny arrays; repeatable).

Run: python bench/engine_overhead.py [--rounds 3] [--threads 1|2] [--json out.json]
"""

from __future__ import annotations

import itertools
import timeit

import harness

WORKLOADS = ["op", "net-b1", "net-b32", "net-b1-graph"]
CHAIN = 20
SIZES = [3, 5, 4, 2]


def _time_us(fn, per: int = 1) -> float:
    """Best of 5 repeats of a self-calibrated loop, in microseconds per call / per."""
    number, _ = timeit.Timer(fn).autorange()
    best = min(timeit.repeat(fn, number=number, repeat=5)) / number
    return best * 1e6 / per


def _data(batch: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=batch)
    weights = [rng.normal(size=(a, b)) * 0.5 for a, b in itertools.pairwise(SIZES)]
    biases = [np.zeros(b) for b in SIZES[1:]]
    return x, y, weights, biases


def chainrule_step(batch: int, graph: bool = False):
    """One training step of the notes' network through chainrule's public API (an MLP,
    its loss, an optimizer), as a function of no arguments: as fit() takes it, or with
    ``graph=True`` as a textbook loop does, recording the graph for ``backward()``."""
    import chainrule as cr

    x, y, ws, bs = _data(batch)
    model = cr.nn.MLP(SIZES, activation="tanh", output="softmax", dtype="float64")
    for layer, w, b in zip(model.linear_layers, ws, bs, strict=True):
        layer.U.data[...], layer.b.data[...] = w, b  # in place: one parameter array
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    if graph:
        compute = cr.nn.objective(model, "cross_entropy")

        def step():
            optimizer.zero_grad()
            compute(x, y).backward()
            optimizer.step()

        return step
    loss_and_gradients = cr.nn.value_and_grad(model, "cross_entropy")

    def step():  # fit()'s step for plain SGD: the gradients arrive as lr g
        loss_and_gradients(x, y, grad_scale=optimizer.plain_step_size())
        optimizer.step(release_grads=True, prescaled=True)

    return step


def numpy_step(batch: int):
    """The same step written by hand in NumPy: the floor."""
    import numpy as np

    x, y, ws, bs = _data(batch)
    u1, u2, u3 = (w.copy() for w in ws)
    b1, b2, b3 = (b.copy() for b in bs)
    onehot = np.eye(SIZES[-1])[y]

    def step():
        h1 = np.tanh(x @ u1 + b1)
        h2 = np.tanh(h1 @ u2 + b2)
        z = h2 @ u3 + b3
        e = np.exp(z - z.max(axis=1, keepdims=True))
        dz = (e / e.sum(axis=1, keepdims=True) - onehot) / len(x)
        dh2 = (dz @ u3.T) * (1 - h2 * h2)
        dh1 = (dh2 @ u2.T) * (1 - h1 * h1)
        grads = (h2.T @ dz, dz.sum(0), h1.T @ dh2, dh2.sum(0), x.T @ dh1, dh1.sum(0))
        for p, g in zip((u3, b3, u2, b2, u1, b1), grads, strict=True):
            p -= 0.1 * g

    return step


# --------------------------------------------------------------------------------------
# Peers: each returns {workload: microseconds}
# --------------------------------------------------------------------------------------


def run_chainrule(args=None) -> dict[str, float]:
    import numpy as np

    import chainrule as cr

    def op():
        x = cr.tensor(np.full(4, 0.5), requires_grad=True)
        y = x
        for _ in range(CHAIN // 4):
            y = cr.exp(cr.tanh(y * 0.9 + 0.1) * 0.5)
        y.sum().backward()

    results = {"op": _time_us(op, per=CHAIN)}
    for batch in (1, 32):
        results[f"net-b{batch}"] = _time_us(chainrule_step(batch))
    results["net-b1-graph"] = _time_us(chainrule_step(1, graph=True))
    return results


def run_torch(args=None) -> dict[str, float]:
    import torch

    torch.set_num_threads(args.threads if args else 1)

    def op():
        x = torch.full((4,), 0.5, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(CHAIN // 4):
            y = torch.exp(torch.tanh(y * 0.9 + 0.1) * 0.5)
        y.sum().backward()

    results = {"op": _time_us(op, per=CHAIN)}
    for batch in (1, 32):
        x, y, ws, bs = _data(batch)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        params = [
            torch.tensor(a, requires_grad=True) for pair in zip(ws, bs, strict=True) for a in pair
        ]

        def step(params=params, xt=xt, yt=yt):
            u1, b1, u2, b2, u3, b3 = params
            h = torch.tanh(xt @ u1 + b1)
            h = torch.tanh(h @ u2 + b2)
            loss = torch.nn.functional.cross_entropy(h @ u3 + b3, yt)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
                    p.grad = None

        results[f"net-b{batch}"] = _time_us(step)
    return results


def run_autograd(args=None) -> dict[str, float]:
    import autograd.numpy as anp
    import numpy as np
    from autograd import grad

    def chain(x):
        y = x
        for _ in range(CHAIN // 4):
            y = anp.exp(anp.tanh(y * 0.9 + 0.1) * 0.5)
        return anp.sum(y)

    chain_grad = grad(chain)
    x0 = np.full(4, 0.5)
    results = {"op": _time_us(lambda: chain_grad(x0), per=CHAIN)}
    for batch in (1, 32):
        x, y, ws, bs = _data(batch)
        onehot = np.eye(SIZES[-1])[y]

        def loss(params, x=x, onehot=onehot):
            u1, b1, u2, b2, u3, b3 = params
            h = anp.tanh(anp.dot(x, u1) + b1)
            h = anp.tanh(anp.dot(h, u2) + b2)
            z = anp.dot(h, u3) + b3
            m = anp.max(z, axis=1, keepdims=True)
            log_p = z - m - anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
            return -anp.sum(log_p * onehot) / len(x)

        loss_grad = grad(loss)
        params = [a.copy() for pair in zip(ws, bs, strict=True) for a in pair]

        def step(params=params, loss_grad=loss_grad):
            grads = loss_grad(params)
            for p, g in zip(params, grads, strict=True):
                p -= 0.1 * g

        results[f"net-b{batch}"] = _time_us(step)
    return results


def run_jax(args=None) -> dict[str, float]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    results = {}
    for batch in (1, 32):
        x, y, ws, bs = _data(batch)
        onehot = jnp.eye(SIZES[-1])[y]

        def loss(params, x, onehot):
            u1, b1, u2, b2, u3, b3 = params
            h = jnp.tanh(x @ u1 + b1)
            h = jnp.tanh(h @ u2 + b2)
            log_p = jax.nn.log_softmax(h @ u3 + b3)
            return -jnp.sum(log_p * onehot) / x.shape[0]

        @jax.jit
        def train_step(params, x, onehot):
            grads = jax.grad(loss)(params, x, onehot)
            return [p - 0.1 * g for p, g in zip(params, grads, strict=True)]

        state = {"params": [jnp.asarray(a) for pair in zip(ws, bs, strict=True) for a in pair]}
        xj = jnp.asarray(x)

        def step(state=state, xj=xj, onehot=onehot, train_step=train_step):
            state["params"] = train_step(state["params"], xj, onehot)
            jax.block_until_ready(state["params"])

        step()  # compile
        results[f"net-b{batch}"] = _time_us(step)
    return results


def run_numpy(args=None) -> dict[str, float]:
    """Hand-written forward and backward: the floor for the network step."""
    import numpy as np

    def op():
        x = np.full(4, 0.5)
        saved = []
        y = x
        for _ in range(CHAIN // 4):
            t = np.tanh(y * 0.9 + 0.1)
            e = np.exp(t * 0.5)
            saved.append((t, e))
            y = e
        g = np.ones(4)
        for t, e in reversed(saved):
            g = g * e * 0.5 * (1 - t * t) * 0.9
        return g

    results = {"op": _time_us(op, per=CHAIN)}
    for batch in (1, 32):
        results[f"net-b{batch}"] = _time_us(numpy_step(batch))
    return results


RUNNERS = {
    "chainrule": run_chainrule,
    "torch": run_torch,
    "autograd": run_autograd,
    "jax": run_jax,
    "numpy": run_numpy,
}


def main() -> None:
    harness.main(__doc__.splitlines()[0], RUNNERS, WORKLOADS, unit="us")


if __name__ == "__main__":
    main()

"""The training step's bookkeeping: float32 end to end, no reference cycles (so CPython's
cyclic garbage collector has nothing to do during training), and the graph freed by
backward."""

import gc
import weakref

import numpy as np

import chainrule as cr
from chainrule.autodiff.backward import topological_order


def _setup():
    rng = np.random.default_rng(0)
    X = rng.random((64, 20), dtype=np.float32)
    y = rng.integers(0, 5, 64)
    model = cr.nn.MLP([20, 16, 8, 5], activation=["relu", "tanh"], output="softmax", seed=0)
    return model, cr.nn.objective(model, "cross_entropy"), cr.optim.Adam(model.parameters()), X, y


def test_every_intermediate_of_a_float32_step_is_float32():
    model, compute, _, X, y = _setup()
    loss = compute(X.astype(np.float64), y)  # float64 data is converted once, at the input
    nodes = topological_order(loss)
    # each hidden layer and its activation are one fused gate
    assert [n.gate.name for n in nodes] == [
        "linear_relu",
        "linear_tanh",
        "linear",
        "softmax_cross_entropy",
    ]
    assert {node.dtype for node in nodes} == {np.dtype(np.float32)}
    loss.backward()
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def _ours(obj) -> bool:
    """Whether a garbage object comes from chainrule: a tensor, an instance of one of its
    classes, or one of its functions or frames."""
    if isinstance(obj, cr.Tensor):
        return True
    module = getattr(type(obj), "__module__", "") or ""
    code = getattr(obj, "__code__", None) or getattr(obj, "f_code", None)
    return module.startswith("chainrule") or (code is not None and "chainrule" in code.co_filename)


def test_training_steps_create_no_reference_cycles():
    """Other threads (a dask cluster from another test, say) may make cyclic garbage
    meanwhile, so the test looks at what the collector finds and asks that none of it be
    chainrule's."""
    _, compute, optimizer, X, y = _setup()
    for _ in range(3):  # warm up caches and lazily created buffers
        optimizer.zero_grad()
        compute(X, y).backward()
        optimizer.step()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            optimizer.zero_grad()
            compute(X, y).backward()
            optimizer.step()
        gc.collect()
        ours = [obj for obj in gc.garbage if _ours(obj)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []


def test_cycle_detector_sees_a_cycle_through_a_tensor():
    """The check above can fail: a tensor in a cycle is found."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        holder = {"tensor": cr.tensor(1.0)}
        holder["self"] = holder
        del holder
        gc.collect()
        found = [obj for obj in gc.garbage if _ours(obj)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found


def test_backward_frees_the_graph_for_reference_counting():
    _, compute, _, X, y = _setup()
    loss = compute(X, y)
    hidden = topological_order(loss)[0]  # the first layer's output
    watcher = weakref.ref(hidden)
    del hidden
    assert watcher() is not None  # the graph holds it until backward
    loss.backward()
    assert watcher() is None  # freed at once, no garbage collector needed

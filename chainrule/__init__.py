"""chainrule: feedforward networks trained by backpropagation on a readable autodiff engine.

import chainrule as cr
x = cr.tensor(-2.0, requires_grad=True)
model = cr.nn.MLP([3, 5, 4, 2], activation="tanh", output="softmax", seed=0)
history = cr.fit(model, "cross_entropy", cr.optim.SGD(model.parameters(), lr=0.1), X, y)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import distributed, io, nn, optim, training
from ._version import __version__
from .autodiff import *  # noqa: F403 - the engine's public API is chainrule's
from .autodiff import __all__ as _engine_all
from .training import fit

if TYPE_CHECKING:
    from .tabular import TabularModel

TABLE_MODEL_KEYS = frozenset({"task", "feature_names"})


def load(path: str | os.PathLike) -> nn.MLP | TabularModel:
    """Read a model file.

    A file written by ``chainrule train`` or :meth:`TabularModel.save` (its info names a
    task and feature names) gives the :class:`chainrule.tabular.TabularModel`, which
    predicts like the command line: it standardises raw inputs as in training and returns
    class labels or values in the target's units; its ``.network`` is the bare MLP.  Any
    other file written by :func:`save` gives the MLP, its ``info`` on ``.info``.  Every
    problem with the file is a :class:`chainrule.io.ModelFileError` naming it."""
    network = io.load(path)
    if set(network.info) >= TABLE_MODEL_KEYS:
        from .tabular import TabularModel

        return TabularModel.from_network(network, path)
    return network


def save(model: Any, path: str | os.PathLike, info: dict[str, Any] | None = None) -> None:
    """Write an MLP (with ``info``, any JSON-serialisable dict) or a TabularModel (which
    holds its own info) to ``path`` as safetensors, atomically; :func:`load` reads it."""
    from .tabular import TabularModel

    if isinstance(model, TabularModel):
        if info is not None:
            raise TypeError("a TabularModel saves its own info; pass info only with an MLP")
        model.save(path)
        return
    io.save(model, path, info=info)


__all__ = [
    *_engine_all,
    "__version__",
    "distributed",
    "fit",
    "io",
    "load",
    "nn",
    "optim",
    "save",
    "training",
]


def __getattr__(name: str):
    """``chainrule.explain`` on first use (``cr.explain.draw(loss, "net.svg")`` after a
    plain ``import chainrule``), so that importing chainrule stays light."""
    if name == "explain":  # (``from . import explain`` would come back here: it asks first)
        import importlib

        return importlib.import_module(f"{__name__}.explain")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

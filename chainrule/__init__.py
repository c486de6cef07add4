"""chainrule: feedforward networks trained by backpropagation on a readable autodiff engine.

import chainrule as cr
x = cr.tensor(-2.0, requires_grad=True)
model = cr.nn.MLP([3, 5, 4, 2], activation="tanh", output="softmax", seed=0)
history = cr.fit(model, "cross_entropy", cr.optim.SGD(model.parameters(), lr=0.1), X, y)
"""

from . import distributed, io, nn, optim, training
from ._version import __version__
from .autodiff import *  # noqa: F403 - the engine's public API is chainrule's
from .autodiff import __all__ as _engine_all
from .io import load, save
from .training import fit

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

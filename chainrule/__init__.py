"""chainrule: feedforward networks trained by backpropagation on a readable autodiff engine.

import chainrule as cr
x = cr.tensor(-2.0, requires_grad=True)
"""

from .autodiff import *  # noqa: F403 - the engine's public API is chainrule's
from .autodiff import __all__ as _engine_all

__version__ = "0.1.0"
__all__ = [*_engine_all, "__version__"]

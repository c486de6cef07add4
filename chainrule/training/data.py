"""Batches over NumPy arrays, and the checks every training input goes through.

Both live in ``chainrule.data`` now (below training, beside the other batch sources);
the names stay importable from here.  ``DataLoader`` is ``ArraySource``.
"""

from __future__ import annotations

from ..data.checks import DataError, check_features, check_targets
from ..data.sources import ArraySource as DataLoader

__all__ = ["DataError", "DataLoader", "check_features", "check_targets"]

"""A test set held out before training: which rows to train on and which to score after.

The split is drawn from the seed alone (its own stream, so it does not move the weights'
or the batches' random numbers) and, for classification, class by class (stratified):
each class gives round(n_c * fraction) of its n_c rows to the test set, but always keeps
one for training, so the model knows every label it is tested on.
"""

from __future__ import annotations

import numpy as np

from .training.data import DataError


def held_out_rows(
    y: np.ndarray, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (train, test) for holding out ``fraction`` of the rows."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the test split must be a fraction in (0, 1), got {fraction}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    rows = len(y)
    if stratify:
        labels = np.asarray(y)
        # text labels as str objects: a fixed-width copy would be sized by the longest
        labels = labels.astype(object) if labels.dtype.kind in "OU" else labels.astype(str)
        _, groups = np.unique(labels, return_inverse=True)
        groups = groups.reshape(-1)
        test = []
        for group in range(groups.max() + 1):
            members = rng.permutation(np.flatnonzero(groups == group))
            test.extend(members[: min(round(len(members) * fraction), len(members) - 1)])
        test = np.array(sorted(test), dtype=np.int64)
    else:
        test = np.sort(rng.permutation(rows)[: round(rows * fraction)])
    if len(test) == 0 or len(test) == rows:
        raise DataError(
            f"a test split of {fraction} leaves no test or no training rows from {rows}"
        )
    return np.setdiff1d(np.arange(rows), test), test

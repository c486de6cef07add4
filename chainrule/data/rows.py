"""Which rows are held out for validation, decided row by row without loading the data.

Row ``r`` is a validation row when ``u(r) < fraction``, where ``u(r)`` in [0, 1) is the top
53 bits of SplitMix64 applied to ``r + k(seed)`` (``k`` is SplitMix64 of the seed).  The
rule needs nothing but the row's global index, so a reader streaming blocks in any order,
a Dask partition on a worker, or a second pass all agree on the split; about ``fraction``
of the rows are held out (exactly as many as a Bernoulli draw would give, not a fixed
count).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on each uint64 (wrapping arithmetic): a bijection of
    the 64-bit integers whose outputs pass as independent uniform draws."""
    z = np.asarray(values, dtype=np.uint64).reshape(-1) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def uniform_of_rows(rows: np.ndarray, seed: int) -> np.ndarray:
    """u(r) in [0, 1) for each global row index r: a fixed function of (row, seed)."""
    key = splitmix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    z = splitmix64(np.asarray(rows).astype(np.uint64) + key)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def validation_mask(rows: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True where row ``rows[i]`` is held out for validation (``u(r) < fraction``)."""
    if fraction == 0:
        return np.zeros(len(rows), dtype=bool)
    return uniform_of_rows(rows, seed) < fraction


def check_fraction(fraction: float) -> float:
    """``fraction`` if it is 0 or in (0, 1), else a ValueError naming it."""
    if fraction != 0 and not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    return float(fraction)

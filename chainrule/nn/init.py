"""Weight initialisers.  Each takes a shape ``(fan_in, fan_out)`` (the notes' U is
(in, out)), a random source (a NumPy ``Generator``, a seed, or None for a fresh one)
and a dtype, and returns a NumPy array.

* Glorot/Xavier (for tanh, sigmoid, identity): variance 2 / (fan_in + fan_out), so the
  signal keeps its scale forwards and backwards.  Uniform on [-a, a] with
  a = gain sqrt(6 / (fan_in + fan_out)); normal with std = gain sqrt(2 / (fan_in + fan_out)).
* He/Kaiming (for ReLU and its kin): variance 2 / fan_in, making up for the half of the
  units ReLU zeroes.  Uniform with a = sqrt(6 / fan_in); normal with std = sqrt(2 / fan_in).

``MLP`` picks He for relu, leaky_relu, elu and gelu hidden layers and Glorot otherwise;
``Linear`` alone defaults to Glorot uniform.  Biases start at zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

RandomSource = np.random.Generator | int | None


def as_generator(rng: RandomSource) -> np.random.Generator:
    """A NumPy Generator from a Generator (returned as is), a seed, or None."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"initialisers take a (fan_in, fan_out) shape, got {shape}")
    return shape[0], shape[1]


def glorot_uniform(shape, rng: RandomSource = None, dtype: Any = "float32", gain: float = 1.0):
    fan_in, fan_out = _fans(shape)
    limit = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return as_generator(rng).uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng: RandomSource = None, dtype: Any = "float32", gain: float = 1.0):
    fan_in, fan_out = _fans(shape)
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return (as_generator(rng).standard_normal(size=shape) * std).astype(dtype)


def he_uniform(shape, rng: RandomSource = None, dtype: Any = "float32"):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return as_generator(rng).uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, rng: RandomSource = None, dtype: Any = "float32"):
    fan_in, _ = _fans(shape)
    std = np.sqrt(2.0 / fan_in)
    return (as_generator(rng).standard_normal(size=shape) * std).astype(dtype)


def zeros(shape, rng: RandomSource = None, dtype: Any = "float32"):
    return np.zeros(shape, dtype=dtype)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal

INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "zeros": zeros,
}


def get_initializer(name: str) -> Callable[..., np.ndarray]:
    try:
        return INITIALIZERS[name]
    except KeyError:
        known = ", ".join(sorted(INITIALIZERS))
        raise ValueError(f"unknown initialiser '{name}'; known: {known}") from None

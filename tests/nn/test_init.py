"""Initialisers: the documented variances, reproducible from a seed."""

import numpy as np
import pytest

from chainrule.nn import init


@pytest.mark.parametrize(
    ("name", "variance"),
    [
        ("glorot_uniform", 2 / (400 + 300)),
        ("glorot_normal", 2 / (400 + 300)),
        ("he_uniform", 2 / 400),
        ("he_normal", 2 / 400),
    ],
)
def test_initialiser_variance(name, variance):
    w = init.get_initializer(name)((400, 300), rng=0, dtype="float64")
    assert w.shape == (400, 300)
    assert abs(w.mean()) < 0.01 * np.sqrt(variance) * 10
    assert w.var() == pytest.approx(variance, rel=0.03)


def test_uniform_bounds_and_zeros_and_dtype():
    w = init.glorot_uniform((10, 20), rng=1)
    assert w.dtype == np.float32
    assert np.abs(w).max() <= np.sqrt(6 / 30)
    assert not init.zeros((3, 4)).any()


def test_same_seed_same_weights_generator_accepted():
    a = init.he_normal((5, 5), rng=42)
    b = init.he_normal((5, 5), rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.he_normal((5, 5), rng=43))


def test_unknown_initialiser():
    with pytest.raises(ValueError, match="unknown initialiser 'lecun'"):
        init.get_initializer("lecun")

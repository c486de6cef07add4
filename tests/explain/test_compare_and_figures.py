"""The three ways compared, and the plots of the notes."""

import struct

import pytest

from chainrule.explain import compare
from chainrule.explain.figures import (
    TOY_DATASETS,
    activation_and_derivative,
    plot_activations,
    plot_boundary,
    plot_losses,
    toy_dataset,
)


def test_compare_numerical_and_symbolic_agree_with_autodiff():
    result = compare(
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}
    )
    assert result.symbolic_available
    for row in result.rows:
        assert row.abs_error < 1e-8
        assert row.symbolic_value == pytest.approx(row.autodiff, rel=1e-10)
        assert row.symbolic_ops > 5  # the symbolic derivative is a large expression
    assert result.autodiff_seconds > 0 and result.numerical_seconds > 0


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_activation_plot_and_engine_derivatives(tmp_path):
    import numpy as np

    x = np.linspace(-3, 3, 13)
    s, ds = activation_and_derivative("sigmoid", x)
    np.testing.assert_allclose(ds, s * (1 - s), rtol=1e-12)
    plot_activations(tmp_path / "a.png")
    assert png_size(tmp_path / "a.png") == (1600, 800)


def test_loss_plot(tmp_path):
    plot_losses(tmp_path / "l.png")
    assert png_size(tmp_path / "l.png") == (1800, 460)
    plot_losses(tmp_path / "l.svg")
    assert b"<svg" in (tmp_path / "l.svg").read_bytes()[:500]


@pytest.mark.parametrize("dataset", TOY_DATASETS)
def test_toy_data_sets_are_balanced_two_class(dataset):
    X, y = toy_dataset(dataset)
    assert X.shape == (400, 2) and set(y) == {0, 1} and abs(y.mean() - 0.5) < 0.1


def test_boundary_plot_learns_moons(tmp_path):
    result = plot_boundary(tmp_path / "b.png", "moons", (8, 8), "tanh", epochs=150)
    assert result.train_accuracy > 0.95 and result.test_accuracy > 0.95
    assert png_size(tmp_path / "b.png") == (1200, 520)


def test_boundary_gif_has_frames(tmp_path):
    from PIL import Image

    plot_boundary(tmp_path / "b.gif", "xor", (8,), "tanh", epochs=30, gif=True)
    with Image.open(tmp_path / "b.gif") as image:
        assert image.format == "GIF" and image.n_frames >= 10

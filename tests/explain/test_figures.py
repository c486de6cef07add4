"""The plots read as a teacher would project them: the GIF from the untrained network on
fixed axes, held-out figures apart, ReLU's derivative a step, the file named as written."""

import subprocess

import numpy as np
import pytest

from chainrule.explain.figures import (
    BOUNDARY_DEFAULTS,
    cross_entropy_of_logit,
    plot_activations,
    plot_boundary,
    split,
    toy_dataset,
)
from tests.command import run_chainrule


def chainrule(*args, cwd) -> subprocess.CompletedProcess:
    """This tree's CLI (python -m chainrule), whatever script is installed."""
    return run_chainrule(*args, cwd=cwd, timeout=300)


def test_relu_derivative_is_a_step_with_no_line_across_the_kink(tmp_path):
    drawn = plot_activations(tmp_path / "a.png")
    for name in ("relu", "leaky_relu"):
        x, _, derivative = drawn[name]
        finite = np.isfinite(derivative)
        joined = finite[:-1] & finite[1:]  # a line segment is drawn from x[i] to x[i+1]
        crossing = joined & (x[:-1] <= 0) & (x[1:] >= 0)
        assert not crossing.any(), f"{name}'s derivative is joined across x = 0"
        assert np.all(derivative[x < 0] == (0.0 if name == "relu" else 0.1))
        assert np.all(derivative[x > 0] == 1.0)
    _, _, smooth = drawn["sigmoid"]
    assert np.isfinite(smooth).all()  # only the kinks are broken


def test_multi_class_cross_entropy_of_a_logit():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(
        cross_entropy_of_logit(z, 0), -np.log(np.exp(z) / (np.exp(z) + 2)), rtol=1e-12
    )
    np.testing.assert_allclose(cross_entropy_of_logit(z, 1), np.log(2 + np.exp(z)), rtol=1e-12)


def test_the_test_split_is_held_out_and_seeded():
    X, y = toy_dataset("moons")
    X_train, _, X_test, _ = split(X, y, seed=0)
    assert len(X_test) == 100 and len(X_train) == 300
    rows = {tuple(r) for r in X_train}
    assert not any(tuple(r) in rows for r in X_test)
    np.testing.assert_array_equal(split(X, y, seed=0)[2], X_test)


def test_spiral_is_learnt_by_its_default_network(tmp_path):
    result = plot_boundary(tmp_path / "s.png", "spiral")
    assert BOUNDARY_DEFAULTS["spiral"].hidden == (32, 32)
    assert result.train_accuracy >= 0.97 and result.test_accuracy >= 0.95
    assert len(result.train_losses) == len(result.test_losses) == 501  # epoch 0, then each
    assert result.test_loss == result.test_losses[-1] != result.train_loss


def test_gif_starts_untrained_on_a_fixed_loss_axis(tmp_path):
    from PIL import Image

    result = plot_boundary(tmp_path / "b.gif", "xor", (8,), "tanh", epochs=40, gif=True)
    assert result.frame_epochs[0] == 0 and result.frame_epochs[-1] == 40
    assert result.frame_epochs == sorted(set(result.frame_epochs))
    assert len(set(result.frame_loss_limits)) == 1  # the same loss axis in every frame
    low, high = result.frame_loss_limits[0]
    assert low == 0 and high >= max(result.train_losses + result.test_losses)
    with Image.open(tmp_path / "b.gif") as image:
        assert image.format == "GIF" and image.n_frames == len(result.frame_epochs)
        assert image.size[0] / image.size[1] < 2.4  # the regions panel is not squashed


def test_gif_to_a_png_name_is_refused_naming_the_right_extension(tmp_path):
    with pytest.raises(ValueError, match=r"x\.gif"):
        plot_boundary(tmp_path / "x.png", "xor", (4,), "tanh", epochs=2, gif=True)
    result = chainrule("plot", "boundary", "--gif", "-o", "x.png", "--epochs", "2", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "chainrule: error: --gif writes an animated GIF: name the output x.gif (got 'x.png')"
    ]
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_training_and_held_out_figures_and_progress(tmp_path):
    result = chainrule(
        "plot", "boundary", "--dataset", "xor", "--epochs", "20", "--gif", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training: accuracy ")
    assert lines[1].startswith("test (held out): accuracy ")
    # not a terminal: a few plain progress lines, then where the plot went
    assert "training: 20/20" in result.stderr and "drawing frames: " in result.stderr
    assert len(result.stderr.splitlines()) <= 12
    assert result.stderr.splitlines()[-1] == "plot written to boundary.gif"
    assert (tmp_path / "boundary.gif").read_bytes()[:6] == b"GIF89a"


def test_plot_help_names_each_data_sets_default_network(tmp_path):
    result = chainrule("plot", "--help", cwd=tmp_path)
    assert "spiral: --hidden 32,32 --activation tanh --epochs 500 --lr 0.03" in " ".join(
        result.stdout.split()
    )

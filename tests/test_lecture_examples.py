"""``chainrule examples``: every worked example and gate pattern of the notes, the sigmoid
neuron both ways (elementary with its intermediate nodes), and the 3-5-4-2 network."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.lecture import network_example, sigmoid_neuron_example

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    """The command's output, by section title (the words before the rule's line)."""
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "examples"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    parts = re.split(r"^(.*?) ─{3,}$", result.stdout, flags=re.M)
    return {title: body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def section(sections: dict[str, str], start: str) -> str:
    (body,) = [body for title, body in sections.items() if title.startswith(start)]
    return body


def test_every_example_has_its_section(sections):
    starts = ["add and multiply", "the sigmoid neuron as elementary", "the sigmoid neuron with one"]
    starts += ["max gate", "copy gate", "the notes' network"]
    assert [next(t for t in sections if t.startswith(s)) for s in starts] == list(sections)


def test_elementary_mode_shows_the_intermediate_nodes_compact_mode_folds_them(sections):
    elementary = section(sections, "the sigmoid neuron as elementary")
    compact = section(sections, "the sigmoid neuron with one")
    assert elementary != compact
    for gate in ("exp", "1/x", "+1", "-x"):
        assert re.search(rf"│ {re.escape(gate)} +│", elementary), gate
        assert not re.search(rf"│ {re.escape(gate)} +│", compact), gate
    sigma = "\N{GREEK SMALL LETTER SIGMA}"  # the sigmoid gate's symbol
    assert sigma in compact and sigma not in elementary
    # the notes' numbers, both ways
    for text in (elementary, compact):
        for number in ("0.731059", "-0.196612", "0.393224", "-0.393224", "-0.589836"):
            assert number in text
    assert "1 + exp(-(w0 x0 + w1 x1 + w2)) = 1.36788" in elementary
    assert "df/d(1 + exp(-(w0 x0 + w1 x1 + w2))) = -0.534447" in elementary


def test_max_routes_and_copy_adds(sections):
    maximum = section(sections, "max gate")
    assert "max routes" in maximum
    # the gradients table's rows end with df/d(variable) (and, for a value used more than
    # once, its copy sum): all of -3 to x, none to y
    assert re.search(r"^│ x .*│ +-3 │( [^│]* │)?$", maximum, flags=re.M)
    assert re.search(r"^│ y .*│ +0 │( [^│]* │)?$", maximum, flags=re.M)
    copy = section(sections, "copy gate")
    assert "copy adds" in copy
    assert re.search(r"^│ x .*│ +7 │ 3 \+ 3 \+ 1 = 7 │$", copy, flags=re.M)  # x's total


def test_the_network_section_shows_shapes_values_and_gradients(sections):
    network = section(sections, "the notes' network")
    for line in ("X (1x3)", "U1 (3x5)", "U2 (5x4)", "U3 (4x2)", "H1 (1x5)", "H2 (1x4)"):
        assert line in network
    for line in ("dLoss/dU1 (3x5)", "dLoss/dH1 (1x5)", "dLoss/dZ (1x2)", "loss = CE"):
        assert line in network


def test_sigmoid_neuron_elementary_keeps_each_nodes_gradient():
    example = sigmoid_neuron_example(compact=False)
    assert example.values["exp(-(w0 x0 + w1 x1 + w2))"] == pytest.approx(np.exp(-1.0))
    assert example.gradients["df/d(1 + exp(-(w0 x0 + w1 x1 + w2)))"] == pytest.approx(
        -1 / (1 + np.exp(-1.0)) ** 2  # -1/x^2
    )


def test_network_gradients_follow_the_chain_rule_by_hand():
    net = network_example()
    v, g = net.values, net.gradients
    onehot = np.array([[0.0, 1.0]])
    np.testing.assert_allclose(g["Z"], v["y_hat"] - onehot, rtol=1e-12)  # softmax + CE
    np.testing.assert_allclose(g["U3"], v["H2"].T @ g["Z"], rtol=1e-12)
    np.testing.assert_allclose(g["H2"], g["Z"] @ v["U3"].T, rtol=1e-12)
    local2 = g["H2"] * v["H2"] * (1 - v["H2"])  # sigma' = sigma (1 - sigma)
    np.testing.assert_allclose(g["U2"], v["H1"].T @ local2, rtol=1e-12)
    np.testing.assert_allclose(g["H1"], local2 @ v["U2"].T, rtol=1e-12)
    local1 = g["H1"] * v["H1"] * (1 - v["H1"])
    np.testing.assert_allclose(g["U1"], v["X"].T @ local1, rtol=1e-12)
    np.testing.assert_allclose(g["b1"], local1[0], rtol=1e-12)
    assert net.loss == pytest.approx(-np.log(v["y_hat"][0, 1]), rel=1e-12)
    assert [v[f"U{i}"].shape for i in (1, 2, 3)] == [(3, 5), (5, 4), (4, 2)]


def test_one_example_by_name():
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "examples", "copy"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "copy gate" in result.stdout and "add and multiply" not in result.stdout

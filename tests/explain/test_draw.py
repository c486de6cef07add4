"""The pictures: a valid SVG with the forward values and gradients on its edges, any
recorded graph drawn from Python, and the .dot fallback without Graphviz."""

import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import draw, render, trace, trace_graph_source


def svg_text(path) -> str:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed
    assert root.tag.endswith("svg")
    return " ".join(t.strip() for t in root.itertext() if t.strip())


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot; .ci/run installs it")
def test_svg_of_the_add_mul_example_holds_values_and_gradients(tmp_path):
    path = render(
        trace_graph_source(trace("(x + y) * z", {"x": -2, "y": 5, "z": -4})), tmp_path / "g.svg"
    )
    text = svg_text(path)
    for fragment in ("-2", "5", "-4", "3", "-12", "x", "y", "z", "+", "*"):
        assert fragment in text.split(), fragment
    # the edge into the add gate from x carries value -2 and gradient -4
    assert "-2 -4" in text and "-12 1" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot; .ci/run installs it")
def test_cli_draws_png_and_pdf(run_cli, tmp_path):
    run_cli("explain", "sigmoid(w*x + b)", "--at", "w=2,x=-1,b=0.5", "--draw", tmp_path / "n.png")
    assert (tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"
    run_cli("explain", "x * y", "--at", "x=1,y=2", "--draw", tmp_path / "n.pdf")
    assert (tmp_path / "n.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot; .ci/run installs it")
def test_draw_any_recorded_graph_with_gates_and_shapes(tmp_path):
    model = cr.nn.MLP([3, 5, 4, 2], activation="tanh", output="softmax", seed=0)
    loss = cr.nn.objective(model, "cross_entropy")(np.ones((6, 3)), np.array([0, 1, 0, 1, 1, 0]))
    names = dict(model.named_parameters())
    draw(loss, tmp_path / "net.svg", names=names)
    text = svg_text(tmp_path / "net.svg")
    for fragment in (
        "linear",
        "tanh",
        "softmax_cross_entropy",
        "layers.0.U",
        "3x5",
        "5x4",
        "4x2",
        "6x2",
    ):
        assert fragment in text, fragment
    assert all(p.grad is None for p in model.parameters())  # drawing left the gradients alone
    loss.backward()  # and the graph is still usable
    assert model.parameters()[0].grad.shape == (3, 5)


def test_dot_source_is_written_without_graphviz(tmp_path):
    path = render(trace_graph_source(trace("x * y", {"x": 2, "y": 3})), tmp_path / "g.dot")
    source = path.read_text()
    assert source.startswith("digraph") and "rankdir=LR" in source


def test_without_dot_the_dot_file_is_written_and_the_error_says_how_to_install(
    run_cli_raw, tmp_path
):
    env_path = os.environ.get("PATH", "")
    try:
        os.environ["PATH"] = ""
        result = run_cli_raw("explain", "x * y", "--at", "x=2,y=3", "--draw", tmp_path / "g.svg")
    finally:
        os.environ["PATH"] = env_path
    assert result.returncode == 1
    assert "apt-get install graphviz" in result.stderr
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()

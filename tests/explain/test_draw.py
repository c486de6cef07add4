"""The pictures: a valid SVG with the forward values and gradients on its edges, any
recorded graph drawn from Python, and the .dot fallback without Graphviz."""

import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import draw, render, trace, trace_graph_source
from chainrule.explain.formulas import short


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


NEEDS_DOT = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")


def svg_texts(path) -> list[tuple[str, float, float, str]]:
    """Every text of the SVG: (text, x, y, fill colour)."""
    root = ET.parse(path).getroot()
    found = []
    for element in root.iter():
        if element.tag.endswith("text") and element.text and element.text.strip():
            found.append(
                (
                    element.text.strip(),
                    float(element.get("x")),
                    float(element.get("y")),
                    element.get("fill", ""),
                )
            )
    return found


def y_of(texts, wanted: str) -> float:
    return next(y for text, _, y, _ in texts if text == wanted)


@NEEDS_DOT
def test_inputs_are_drawn_top_to_bottom_in_the_order_the_expression_names_them(tmp_path):
    path = render(
        trace_graph_source(trace("(x + y) * z", {"z": -4, "y": 5, "x": -2})), tmp_path / "g.svg"
    )
    texts = svg_texts(path)
    assert y_of(texts, "x") < y_of(texts, "y") < y_of(texts, "z")
    neuron = trace(
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        {"w2": -3, "x1": -2, "w1": -3, "x0": -1, "w0": 2},
        "compact",
    )
    texts = svg_texts(render(trace_graph_source(neuron), tmp_path / "n.svg"))
    ys = [y_of(texts, name) for name in ("w0", "x0", "w1", "x1", "w2")]
    assert ys == sorted(ys)


@NEEDS_DOT
def test_value_above_gradient_below_legend_and_leaf_totals(tmp_path):
    from chainrule.explain.drawing import GRADIENT_COLOUR, VALUE_COLOUR

    path = render(trace_graph_source(trace("x*x + x", {"x": 3.0})), tmp_path / "c.svg")
    texts = svg_texts(path)
    words = " ".join(t for t, _, _, _ in texts)
    assert "value (forward)" in words and "gradient (backward)" in words  # the legend
    assert "3 + 3 + 1 = 7" in words  # x's total, summed, on the leaf
    assert "dq/dx = x = 3" in words  # the local gradient in the gate
    # on each edge: the product (red) sits below the value (green) it goes with
    products = [(x, y) for t, x, y, fill in texts if t == "1 x 3 = 3"]
    assert products and all(
        fill == GRADIENT_COLOUR.lower() or fill == GRADIENT_COLOUR
        for t, _, _, fill in texts
        if t == "1 x 3 = 3"
    )
    for px, py in products:
        above = [
            y
            for t, x, y, fill in texts
            if t == "3" and fill.lower() == VALUE_COLOUR.lower() and abs(x - px) < 40
        ]
        nearest = min(above, key=lambda y: abs(py - y))
        assert 0 < py - nearest < 30  # the value just above its gradient


@NEEDS_DOT
def test_the_neuron_drawing_shows_the_sigmoid_formula_as_the_notes(tmp_path):
    neuron = trace(
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3},
        "compact",
    )
    text = svg_text(render(trace_graph_source(neuron), tmp_path / "n.svg"))
    assert "(1 - 0.7311) x 0.7311 = 0.1966" in text
    assert "1 x 0.1966 = 0.1966" in text
    for total in ("-0.1966", "0.3932", "-0.3932", "-0.5898", "0.1966"):
        assert total in text.split()


@NEEDS_DOT
def test_png_resolution_follows_dpi(run_cli, tmp_path):
    import struct

    def width(path):
        return struct.unpack(">II", path.read_bytes()[16:24])[0]

    run_cli("explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--draw", tmp_path / "a.png")
    default = width(tmp_path / "a.png")
    run_cli(*("explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--dpi", "72"),
            "--draw", tmp_path / "b.png")  # fmt: skip
    assert default / width(tmp_path / "b.png") == pytest.approx(180 / 72, rel=0.05)
    assert default >= 1200  # readable when projected


@NEEDS_DOT
def test_network_drawing_names_the_notes_matrices_and_shows_values_and_loss(tmp_path):
    model = cr.nn.MLP([3, 5, 4, 2], activation="sigmoid", output="softmax", seed=0)
    X = np.array([[0.5, -1.0, 2.0]])
    loss = cr.nn.objective(model, "cross_entropy")(X, np.array([1]))
    draw(loss, tmp_path / "net.svg")  # names read off the graph's structure
    text = svg_text(tmp_path / "net.svg")
    for name in ("U1 (3x5)", "b1 (5)", "U2 (5x4)", "U3 (4x2)", "b3 (2)", "X (1x3)", "y (1)"):
        assert name in text, name
    assert "[0.5, -1, 2]" in text  # X's values
    assert f"loss = {loss.item():.4f}" in text
    assert "grad" in text
    draw(loss, tmp_path / "named.svg", names=model)  # the model's own parameters
    assert "U2 (5x4)" in svg_text(tmp_path / "named.svg")
    loss.backward()
    b3 = model.parameters()[-1].grad
    assert f"grad [{short(b3[0])}, {short(b3[1])}]" in text  # b3's gradient, in full

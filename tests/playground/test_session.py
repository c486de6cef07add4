"""A tab's session without a server: training lowers the loss, changes rebuild what they
must, the frame's heatmaps are every neuron's, the trace is `chainrule explain --json`'s,
the sample walk's gradients are the engine's, an upload with text labels trains."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.nn import value_and_grad
from chainrule.playground.data import DATASETS
from chainrule.playground.session import GRID, SURFACE_GRID, Config, Session
from chainrule.playground.upload import header, points
from chainrule.playground.walkthrough import network_walk, trace_message

ROOT = Path(__file__).resolve().parents[2]


def test_training_on_xor_lowers_the_test_loss():
    session = Session(Config(dataset="xor"))
    before = session.losses()[1]
    session.train(1500)
    assert session.steps == 1500
    assert session.losses()[1] < 0.5 * before


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_data_set_trains_and_frames(name):
    session = Session(Config(dataset=name, points=200, hidden=(4,), activations=("tanh",)))
    session.train(20)
    frame = session.frame()
    neurons = sum(session.model.sizes)
    maps = np.frombuffer(base64.b64decode(frame["maps"]), np.uint8)
    assert maps.size == neurons * GRID * GRID
    assert np.frombuffer(base64.b64decode(frame["surface"]), np.uint8).size == 2 * SURFACE_GRID**2
    json.dumps(session.state(), allow_nan=False)  # what the server sends is plain JSON
    classes = DATASETS[name][2]
    assert session.model.sizes[-1] == (classes or 1)


def test_settings_apply_live_and_structure_rebuilds():
    session = Session()
    session.train(5)
    assert session.configure({"lr": 0.5, "regularization": "l2", "reg_rate": 0.01}) == "settings"
    assert session.optimizer.lr == 0.5 and session.steps == 5
    assert session.configure({"optimizer": "adam"}) == "settings"
    assert type(session.optimizer).__name__ == "Adam"
    assert session.configure({"hidden": (3,), "activations": ("relu",)}) == "network"
    assert session.model.sizes == [2, 3, 2] and session.steps == 0
    assert session.configure({"dataset": "spiral3"}) == "data"
    assert session.model.sizes == [2, 3, 3]


def test_a_penalty_pulls_the_weights_towards_zero():
    plain, penalized = Session(Config(dataset="circle")), Session(Config(dataset="circle"))
    penalized.configure({"regularization": "l1", "reg_rate": 0.05})
    plain.train(400)
    penalized.train(400)
    size = lambda s: sum(np.abs(U.data).sum() for U in s.model.U)
    assert size(penalized) < size(plain)


def test_bad_settings_leave_the_session_as_it_was():
    session = Session()
    with pytest.raises(ValueError, match="2 activations for 1 hidden layers"):
        session.configure({"hidden": (4,)})
    with pytest.raises(ValueError, match="larger than the training set"):
        session.configure({"batch": 400})
    with pytest.raises(ValueError, match="no CSV uploaded"):
        session.configure({"dataset": "csv"})
    assert session.config == Config()


def test_the_trace_is_chainrule_explain_json():
    message = trace_message("(x+y)*z", {"x": -2, "y": 5, "z": -4})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "chainrule",
            "explain",
            "(x+y)*z",
            "--at",
            "x=-2,y=5,z=-4",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert message["trace"] == json.loads(cli.stdout)
    assert message["trace"]["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    # the graph: x, y, z on the left, q then f to the right
    depth = {node["id"]: node["depth"] for node in message["nodes"]}
    assert depth == {"x": 0, "y": 0, "z": 0, "q": 1, "f": 2}


def test_hostile_expressions_are_refused_by_the_whitelist_parser():
    for hostile in ["__import__('os').system('true')", "x.__class__", "open('/etc/passwd')"]:
        with pytest.raises(ValueError):
            trace_message(hostile, {"x": 1.0})


def test_the_sample_walk_has_the_engines_gradients():
    session = Session(Config(dataset="xor"))
    session.train(50)
    kept = [np.array(U.grad) for U in session.model.U]
    walk = network_walk(session, 7)
    # the live training's gradients are untouched
    assert all(np.array_equal(a, U.grad) for a, U in zip(kept, session.model.U, strict=True))
    # the walk's dL/dU1 for the sample is what nn.value_and_grad gives on that one row
    session.optimizer.zero_grad()
    value_and_grad(session.model, "cross_entropy")(
        session.inputs_train[7:8], session.train_set.y[7:8]
    )
    first = next(line for line in walk["stages"] if line["title"].startswith("gradients of U1"))
    shown = [float(text.rsplit("= ", 1)[1]) for text in first["lines"] if text.startswith("dL/dU1")]
    np.testing.assert_allclose(shown, session.model.U[0].grad.ravel(), rtol=1e-3, atol=1e-6)
    assert len(walk["neurons"]) == len(session.model.sizes) - 1
    with pytest.raises(ValueError, match="does not exist"):
        network_walk(session, 10_000)


def test_an_upload_with_text_labels_trains():
    rng = np.random.default_rng(0)
    lines = ["width,height,weight,kind"]
    for _ in range(200):
        w, h = rng.normal(size=2)
        lines.append(f"{w:.3f},{h:.3f},{rng.normal():.3f},{'tall' if h > w else 'wide'}")
    text = "\n".join(lines) + "\n"
    assert header(text, "shapes.csv") == ["width", "height", "weight", "kind"]
    loaded = points(text, "shapes.csv", "width", "height", "kind")
    assert loaded.classes == ["tall", "wide"] and loaded.axes == ("width", "height")
    session = Session()
    session.use_upload(loaded)
    assert session.config.dataset == "csv"
    before = session.losses()[0]
    session.train(300)
    assert session.losses()[0] < 0.5 * before


def test_an_upload_that_cannot_be_used_says_why():
    with pytest.raises(ValueError, match="shapes.csv: column 'b' holds 'x' at line 3"):
        points("a,b,c\n1,2,u\n3,x,v\n", "shapes.csv", "a", "b", "c")
    with pytest.raises(ValueError, match="2 column"):
        header("a,b\n1,2\n", "two.csv")
    with pytest.raises(ValueError, match="three different columns"):
        points("a,b,c\n1,2,3\n", "s.csv", "a", "a", "c")

"""Issue 16, section 4, ONNX: an exported file says what it holds (labels, feature names,
outputs), refuses opsets that cannot express the model, and predicts what chainrule
predicts, to float32 rounding, even for a feature of 1.7e9 +- 1000."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from chainrule import nn
from chainrule.io import export_onnx
from chainrule.io.onnx_export import OpsetError, newest_opset
from chainrule.tabular import TabularModel, TrainOptions

ROOT = Path(__file__).resolve().parents[2]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "gelu", "identity"]
OLDEST_OPSET = 7  # Gemm, Add, Sub, Mul, Div broadcast without an attribute from opset 7


def session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_all(path, X) -> dict[str, np.ndarray]:
    """Every output of the file at ``path`` for the rows X (fed as float64)."""
    runner = session(path)
    (features,) = runner.get_inputs()
    assert (features.name, features.type) == ("features", "tensor(double)")
    values = runner.run(None, {"features": np.asarray(X, dtype=np.float64)})
    return {o.name: v for o, v in zip(runner.get_outputs(), values, strict=True)}


def _train(kind, seed=0):
    """A small table model of each kind, every activation in its hidden layers."""
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=[3.0, -40.0, 900.0], scale=[1.0, 5.0, 30.0], size=(80, 3))
    score = (X[:, 0] - 3) + (X[:, 1] + 40) / 5
    y, task, output = {
        "softmax": (
            np.array(["[low]", "mid", "high"])[np.digitize(score, [-1, 1])],
            "classify",
            None,
        ),
        "sigmoid": ((score > 0).astype(int) * 7 + 1, "classify", "sigmoid"),
        "logits": (np.array([0.5, 1.5, 2.5])[np.digitize(score, [-1, 1])], "classify", "identity"),
        "regress": (1e6 + 250 * score, "regress", None),
    }[kind]
    options = TrainOptions(
        hidden=[6] * len(ACTIVATIONS), activation=ACTIVATIONS, output=output, epochs=2, verbose=0
    )
    model, _ = TabularModel.train(X, y, ["a", "b", "c"], "target", task, options)
    return model, X


KINDS = ["softmax", "sigmoid", "logits", "regress"]


@pytest.fixture(scope="module")
def models():
    return {kind: _train(kind) for kind in KINDS}


def assert_matches_chainrule(model, X, got):
    if model.task == "regress":
        assert set(got) == {"prediction"} and got["prediction"].dtype == np.float64
        atol = 1e-5 * model.target_scale  # the float32 network's rounding, in target units
        np.testing.assert_allclose(got["prediction"][:, 0], model.predict(X), rtol=0, atol=atol)
        return
    np.testing.assert_array_equal(got["label"], model.predict(X).astype(got["label"].dtype))
    proba = model.predict_proba(X)
    head = model.network.output
    if head == "softmax":
        np.testing.assert_allclose(got["probabilities"], proba, atol=1e-6)
    elif head == "sigmoid":
        assert got["probability"].shape == (len(X), 1)  # one column: the second class's
        np.testing.assert_allclose(got["probability"][:, 0], proba[:, 1], atol=1e-6)
    else:  # identity: raw scores, whose softmax is chainrule's probabilities
        e = np.exp(got["logits"] - got["logits"].max(axis=1, keepdims=True))
        np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True), proba, atol=1e-6)


@pytest.mark.parametrize("opset", range(OLDEST_OPSET, newest_opset() + 1))
@pytest.mark.parametrize("kind", KINDS)
def test_every_accepted_opset_loads_and_predicts_like_chainrule(tmp_path, models, kind, opset):
    model, X = models[kind]
    export_onnx(model, tmp_path / "m.onnx", opset=opset)
    assert_matches_chainrule(model, X, run_all(tmp_path / "m.onnx", X))


@pytest.mark.parametrize("opset", [0, 1, 5, OLDEST_OPSET - 1, newest_opset() + 1, 99])
def test_an_opset_that_cannot_express_the_model_is_refused(tmp_path, models, opset):
    model, _ = models["softmax"]
    with pytest.raises(OpsetError, match=rf"opset {opset} .*from {OLDEST_OPSET} to \d+") as info:
        export_onnx(model, tmp_path / "m.onnx", opset=opset)
    if opset < OLDEST_OPSET:
        assert "Gemm needs opset 7" in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("opset", ["0", "1", "5", "99"])
def test_the_command_line_refuses_a_bad_opset_in_one_line(tmp_path, models, opset):
    model, _ = models["sigmoid"]
    model.save(tmp_path / "m.safetensors")
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "export", "m.safetensors", "m.onnx", "--opset", opset],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"chainrule: error: --opset {opset} ")
    assert f"from {OLDEST_OPSET} to {newest_opset()}" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_file_carries_labels_feature_names_and_what_its_outputs_are(tmp_path, models, kind):
    model, _ = models[kind]
    export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in proto.metadata_props}
    outputs = [o.name for o in proto.graph.output]
    expected_outputs = {
        "softmax": ["label", "probabilities"],
        "sigmoid": ["label", "probability"],
        "logits": ["label", "logits"],
        "regress": ["prediction"],
    }[kind]
    assert outputs == expected_outputs and json.loads(props["outputs"]) == outputs
    assert [i.name for i in proto.graph.input] == ["features"]
    assert json.loads(props["feature_names"]) == ["a", "b", "c"]
    assert props["target_name"] == "target" and props["task"] == model.task
    assert props["output_kind"] == outputs[-1]
    assert props["chainrule_version"] == proto.producer_version != ""
    assert proto.producer_name == "chainrule"
    if model.task == "classify":
        classes = json.loads(props["classes"])
        assert classes == model.classes  # in their own type: text, int or float
        assert [type(c) for c in classes] == [type(c) for c in model.classes]
    else:
        assert "classes" not in props
    for output in proto.graph.output:  # each output says what it holds
        assert output.doc_string and f"'{output.name}'" in proto.doc_string


def test_an_identity_head_is_documented_as_logits_and_a_sigmoid_head_as_one_column(
    tmp_path, models
):
    export_onnx(models["logits"][0], tmp_path / "logits.onnx")
    export_onnx(models["sigmoid"][0], tmp_path / "sigmoid.onnx")
    logits = onnx.load(str(tmp_path / "logits.onnx")).graph.output[1]
    sigmoid = onnx.load(str(tmp_path / "sigmoid.onnx")).graph.output[1]
    assert "not probabilities" in logits.doc_string
    assert [d.dim_value for d in sigmoid.type.tensor_type.shape.dim][1:] == [1]
    assert "second class" in sigmoid.doc_string


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_a_timestamp_feature_keeps_chainrule_probabilities(tmp_path, output):
    """A feature of 1.7e9 +- 1000 has a float32 spacing of 128 (0.2 standard deviations):
    standardised in float32 the probabilities moved by up to 0.34; the graph takes float64
    and standardises in float64, as chainrule does."""
    rng = np.random.default_rng(0)
    n = 2000
    X = np.column_stack(
        [1.7e9 + rng.uniform(-1000, 1000, n), rng.normal(size=n), rng.normal(5, 2, n)]
    )
    y = np.where(X[:, 0] - 1.7e9 + 300 * X[:, 1] > 0, "late", "early")
    options = TrainOptions(epochs=20, verbose=0, output=output)
    model, _ = TabularModel.train(X, y, ["t", "a", "b"], "y", "classify", options)
    export_onnx(model, tmp_path / "m.onnx")
    got = run_all(tmp_path / "m.onnx", X)
    p = got["probabilities"] if output == "softmax" else 1 - got["probability"]
    np.testing.assert_allclose(p[:, 0], model.predict_proba(X)[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(got["label"], model.predict(X))


def test_a_regression_comes_out_in_the_targets_units(tmp_path):
    """A target around 1.7e9 (float32 spacing 128: scaled back in float32 it moved by
    116) comes back as chainrule gives it, to the float32 network's rounding."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    y = 1.7e9 + 500 * X[:, 0] - 200 * X[:, 1]
    model, _ = TabularModel.train(X, y, ["a", "b"], "y", "regress", TrainOptions(verbose=0))
    export_onnx(model, tmp_path / "m.onnx")
    got = run_all(tmp_path / "m.onnx", X)["prediction"][:, 0]
    np.testing.assert_allclose(got, model.predict(X), rtol=0, atol=1e-5 * model.target_scale)


def test_a_float64_network_is_exported_in_float64(tmp_path):
    network = nn.MLP([4, 8, 3], activation="gelu", output="softmax", seed=1, dtype="float64")
    export_onnx(network, tmp_path / "m.onnx")
    X = np.random.default_rng(3).normal(size=(20, 4))
    got = session(tmp_path / "m.onnx").run(["output"], {"features": X})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, network.predict(X), rtol=0, atol=1e-12)

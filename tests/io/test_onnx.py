"""ONNX export: a valid model with a dynamic batch, matching chainrule to 1e-5 in
onnxruntime for every activation and final layer."""

import numpy as np
import onnx
import onnxruntime
import pytest

from chainrule import nn
from chainrule.io import ExportSpec, export_onnx
from chainrule.tabular import TabularModel, TrainOptions


def run_onnx(path, X, output=None):
    """The named output (by default the only one besides a label) for the rows X, fed in
    the dtype the graph declares."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (features,) = session.get_inputs()
    dtype = np.float64 if features.type == "tensor(double)" else np.float32
    if output is None:
        (output,) = [o.name for o in session.get_outputs() if o.name != "label"]
    return session.run([output], {features.name: np.asarray(X).astype(dtype)})[0]


@pytest.mark.parametrize(
    "activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "gelu", "identity"]
)
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_outputs_match_chainrule(tmp_path, activation, output):
    model = nn.MLP([5, 7, 6, 3], activation=activation, output=output, seed=0)
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == "batch"
    for n in (1, 17):  # the batch size is free
        X = np.random.default_rng(n).normal(size=(n, 5)).astype(np.float32) * 3
        np.testing.assert_allclose(run_onnx(path, X), model.predict(X), atol=1e-5, rtol=1e-5)


def test_table_model_export_includes_scaling(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=50, scale=10, size=(200, 4))
    y = X[:, 0] * 3 + 7
    options = TrainOptions(epochs=3, verbose=0)
    model, _ = TabularModel.train(X, y, ["a", "b", "c", "d"], "y", "regress", options)
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    got = run_onnx(path, X)[:, 0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-3)


def _table_model(task, **options):
    rng = np.random.default_rng(1)
    X = rng.normal(loc=20, scale=5, size=(150, 3))
    y = X[:, 0] - X[:, 2] if task == "regress" else (X[:, 0] > X[:, 2]).astype(int)
    model, _ = TabularModel.train(
        X, y, ["a", "b", "c"], "y", task, TrainOptions(epochs=3, verbose=0, **options)
    )
    return model, X


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_table_classifier_export_matches_its_probabilities(tmp_path, output):
    model, X = _table_model("classify", output=output)
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    got = run_onnx(path, X)
    expected = model.predict_proba(X)[:, 1:] if output == "sigmoid" else model.predict_proba(X)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    names = {init.name for init in onnx.load(str(path)).graph.initializer}
    assert any(name.startswith("input_mean") for name in names)
    assert not any(name.startswith("target_") for name in names)  # no scaling for classes


def test_table_model_export_spec_is_what_export_writes(tmp_path):
    model, X = _table_model("regress")
    spec = model.export_spec()
    assert spec.network is model.network
    assert (spec.target_mean, spec.target_scale) == (model.target_mean, model.target_scale)
    export_onnx(spec, tmp_path / "spec.onnx")
    export_onnx(model, tmp_path / "model.onnx")
    assert (tmp_path / "spec.onnx").read_bytes() == (tmp_path / "model.onnx").read_bytes()
    np.testing.assert_allclose(
        run_onnx(tmp_path / "spec.onnx", X)[:, 0], model.predict(X), rtol=1e-5, atol=1e-3
    )


def test_an_export_spec_scales_around_a_plain_network(tmp_path):
    network = nn.MLP([2, 4, 1], activation="tanh", seed=3)
    mean, scale = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    spec = ExportSpec(network, mean, scale, target_mean=10.0, target_scale=3.0)
    export_onnx(spec, tmp_path / "m.onnx")
    X = np.random.default_rng(0).normal(size=(9, 2))
    expected = network.predict(((X - mean) / scale).astype(np.float32)) * 3.0 + 10.0
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X), expected, rtol=1e-5, atol=1e-5)


def test_a_model_that_is_not_exportable_is_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot export a dict to ONNX"):
        export_onnx({"network": None}, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="input mean and the input scale together"):
        ExportSpec(nn.MLP([2, 1]), input_mean=np.zeros(2))
    assert not (tmp_path / "m.onnx").exists()

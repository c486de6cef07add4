"""ONNX export: a valid model with a dynamic batch, matching chainrule to 1e-5 in
onnxruntime for every activation and final layer."""

import numpy as np
import onnx
import onnxruntime
import pytest

from chainrule import nn
from chainrule.io import export_onnx
from chainrule.tabular import TabularModel


def run_onnx(path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X.astype(np.float32)})[0]


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
    options = __import__("chainrule.tabular", fromlist=["TrainOptions"]).TrainOptions(
        epochs=3, verbose=0
    )
    model, _ = TabularModel.train(X, y, ["a", "b", "c", "d"], "y", "regress", options)
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    got = run_onnx(path, X)[:, 0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-3)

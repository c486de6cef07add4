"""Issue 16, section 5: ``cr.load`` of a file written by ``chainrule train`` gives the
TabularModel, which predicts like the command line (standardisation, labels, target
scaling); it returned the bare network, whose predict ignored all three."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

import chainrule as cr
from chainrule.nn import MLP
from chainrule.tabular import TabularModel
from tests.command import run_chainrule


def chainrule(*args: str | os.PathLike, cwd: Path) -> None:
    result = run_chainrule(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr


def write_csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_predictions(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_a_trained_classifier_loads_as_the_model_the_command_line_predicts_with(tmp_path):
    iris = load_iris()
    X = iris.data * [1, 10, 100, 1000]  # far from standardised: the scaling must be applied
    labels = iris.target_names[iris.target]
    rows = [[*x, label] for x, label in zip(X, labels, strict=True)]
    data = write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"], rows)
    model_path = tmp_path / "model.safetensors"
    chainrule(
        "train",
        data,
        "--target",
        "species",
        "--epochs",
        "20",
        "--quiet",
        "-o",
        model_path,
        cwd=tmp_path,
    )
    chainrule("predict", model_path, data, "--proba", "-o", tmp_path / "p.csv", cwd=tmp_path)
    printed = read_predictions(tmp_path / "p.csv")

    model = cr.load(model_path)

    assert isinstance(model, TabularModel) and isinstance(model.network, MLP)
    assert model.classes == ["setosa", "versicolor", "virginica"]
    assert list(model.predict(X)) == [row[0] for row in printed]
    np.testing.assert_allclose(
        model.predict_proba(X),
        [[float(v) for v in row[1:]] for row in printed],
        rtol=1e-5,
        atol=1e-6,
    )
    assert not np.array_equal(model.network.predict(X), model.predict_proba(X))


def test_a_trained_regressor_loads_as_the_model_the_command_line_predicts_with(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1, 50, 0.01] + [0, 1000, 0]
    y = 300 + 40 * X[:, 0] + 0.2 * X[:, 1]
    data = write_csv(tmp_path / "reg.csv", ["a", "b", "c", "y"], np.column_stack([X, y]).tolist())
    model_path = tmp_path / "model.safetensors"
    chainrule(
        "train", data, "--target", "y", "--epochs", "10", "--quiet", "-o", model_path, cwd=tmp_path
    )
    chainrule("predict", model_path, data, "-o", tmp_path / "p.csv", cwd=tmp_path)
    printed = np.array([float(row[0]) for row in read_predictions(tmp_path / "p.csv")])

    model = cr.load(model_path)

    assert isinstance(model, TabularModel) and model.task == "regress"
    np.testing.assert_allclose(model.predict(X), printed, rtol=1e-7)


def test_a_bare_network_still_loads_as_an_mlp_and_a_table_model_saves_through_cr_save(tmp_path):
    network = MLP([4, 5, 3], output="softmax", seed=0)
    cr.save(network, tmp_path / "net.safetensors", info={"task": "classify", "epoch": 3})
    assert isinstance(cr.load(tmp_path / "net.safetensors"), MLP)

    table = TabularModel(network, "classify", ["a", "b", "c", "d"], classes=["x", "y", "z"])
    cr.save(table, tmp_path / "table.safetensors")
    loaded = cr.load(tmp_path / "table.safetensors")
    assert isinstance(loaded, TabularModel) and loaded.classes == ["x", "y", "z"]
    X = np.random.default_rng(1).normal(size=(6, 4))
    np.testing.assert_array_equal(loaded.predict_proba(X), table.predict_proba(X))
    with pytest.raises(TypeError, match="saves its own info"):
        cr.save(table, tmp_path / "again.safetensors", info={})

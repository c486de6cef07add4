"""The command line from the outside: the round trip train -> save -> load -> predict,
evaluate's figures against scikit-learn's metrics, inspect, export, --help."""

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
)

from chainrule.tabular import TabularModel

from .conftest import write_csv


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_train_on_a_built_in_data_set_prints_figures(run):
    result = run("train", "--dataset", "iris", "--epochs", "30", "--quiet", check=True)
    assert "150 samples, 4 features" in result.stdout
    assert "accuracy" in result.stdout and "validation" in result.stdout


def test_round_trip_train_save_load_predict_gives_identical_predictions(
    tmp_path, run, iris_csv, iris_model
):
    out = tmp_path / "pred.csv"
    run("predict", iris_model, iris_csv, "-o", out, "--proba", check=True)
    rows = read_rows(out)
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert len(rows) == 151
    model = TabularModel.load(iris_model)
    with open(iris_csv, newline="") as handle:
        data = list(csv.reader(handle))[1:]
    X = np.array([[float(v) for v in row[:4]] for row in data])
    assert [r[0] for r in rows[1:]] == list(model.predict(X))
    np.testing.assert_allclose(
        np.array([r[1:] for r in rows[1:]], dtype=float), model.predict_proba(X), rtol=1e-5
    )
    streamed = run("predict", iris_model, iris_csv, check=True).stdout  # to standard output
    assert streamed.splitlines()[1] == "setosa"


def test_evaluate_matches_scikit_learn_metrics(run, iris_csv, iris_model):
    report = json.loads(run("evaluate", iris_model, iris_csv, "--json", check=True).stdout)
    model = TabularModel.load(iris_model)
    with open(iris_csv, newline="") as handle:
        data = list(csv.reader(handle))[1:]
    X = np.array([[float(v) for v in row[:4]] for row in data])
    truth = [row[4] for row in data]
    predicted = list(model.predict(X))
    assert report["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    labels = model.classes
    assert report["confusion_matrix"] == confusion_matrix(truth, predicted, labels=labels).tolist()
    precision = precision_score(truth, predicted, labels=labels, average=None, zero_division=0)
    recall = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    for label, p, r in zip(labels, precision, recall, strict=True):
        assert report["per_class"][label]["precision"] == pytest.approx(p)
        assert report["per_class"][label]["recall"] == pytest.approx(r)
    table = run("evaluate", iris_model, iris_csv, check=True).stdout
    assert "confusion matrix" in table and "precision" in table


def test_regression_round_trip_and_metrics(tmp_path, run, regression_csv):
    path = tmp_path / "reg.safetensors"
    run(
        "train",
        regression_csv,
        "--target",
        "y",
        "--epochs",
        "80",
        "--quiet",
        "-o",
        path,
        check=True,
    )
    report = json.loads(run("evaluate", path, regression_csv, "--json", check=True).stdout)
    data = np.loadtxt(regression_csv, delimiter=",", skiprows=1)
    predicted = TabularModel.load(path).predict(data[:, :3])
    assert report["task"] == "regress"
    assert report["mse"] == pytest.approx(mean_squared_error(data[:, 3], predicted))
    assert report["mae"] == pytest.approx(mean_absolute_error(data[:, 3], predicted))
    assert report["r2"] == pytest.approx(r2_score(data[:, 3], predicted))
    assert report["r2"] > 0.8
    out = tmp_path / "p.csv"
    run("predict", path, regression_csv, "-o", out, check=True)  # the target column is ignored
    np.testing.assert_allclose([float(r[0]) for r in read_rows(out)[1:]], predicted, rtol=1e-6)


def test_inspect_shows_the_U_matrices_and_parameter_count(run, iris_model):
    text = run("inspect", iris_model, check=True).stdout
    assert "U1 + b1, then relu" in text and "4 x 64" in text and "64 x 3" in text
    info = json.loads(run("inspect", iris_model, "--json", check=True).stdout)
    assert info["U"] == {"U1": [4, 64], "U2": [64, 3]}
    assert info["parameters"] == 4 * 64 + 64 + 64 * 3 + 3
    assert info["classes"] == ["setosa", "versicolor", "virginica"]
    assert info["training"]["epochs_run"] == 60


def test_plot_writes_a_png(tmp_path, run):
    path = tmp_path / "curves.png"
    run("train", "--dataset", "iris", "--epochs", "5", "--quiet", "--plot", path, check=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_drop_missing_skips_rows(tmp_path, run):
    rows = [[i % 3, (i * 7) % 5, "a" if i % 2 else "b"] for i in range(40)]
    rows[3][1] = ""
    rows[7][0] = "NaN"
    path = write_csv(tmp_path / "m.csv", ["x", "y", "label"], rows)
    result = run(
        "train", path, "--target", "label", "--epochs", "2", "--quiet", "--drop-missing", check=True
    )
    assert "dropped 2 rows" in result.stdout


@pytest.mark.parametrize(
    "command", ["train", "evaluate", "predict", "inspect", "export", "examples"]
)
def test_every_subcommand_has_help_with_an_example(run, command):
    result = run(command, "--help", check=True)
    assert "example" in result.stdout and f"chainrule {command}" in result.stdout


def test_examples_command_prints_the_notes_examples(run):
    out = run("examples", check=True).stdout
    assert "q = x + y = 3" in out and "df/dz = 3" in out

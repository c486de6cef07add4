"""Evaluation reports against scikit-learn's metrics as an independent oracle, and a table
model's evaluation of arrays and CSV files."""

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)

from chainrule.evaluation import (
    ClassificationReport,
    RegressionReport,
    classification_report,
    regression_report,
)
from chainrule.tabular import TabularModel, TrainOptions
from chainrule.training.data import DataError


def test_classification_report_matches_scikit_learn():
    rng = np.random.default_rng(0)
    classes = ["ant", "bee", "cat", "dog"]
    truth = rng.integers(0, 3, size=200)  # "dog" never occurs: recall 0 by convention
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 4, size=200))
    predicted[predicted == 1] = 2  # "bee" never predicted: precision 0 by convention
    report = classification_report(classes, truth, predicted)
    labels = list(range(len(classes)))
    assert report.accuracy == pytest.approx(accuracy_score(truth, predicted))
    np.testing.assert_array_equal(
        report.confusion_matrix, confusion_matrix(truth, predicted, labels=labels)
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    assert list(report.per_class) == classes
    for i, scores in enumerate(report.per_class.values()):
        assert scores.precision == pytest.approx(precision[i])
        assert scores.recall == pytest.approx(recall[i])
        assert scores.f1 == pytest.approx(f1[i])
        assert scores.support == support[i]
    assert report.per_class["bee"].precision == 0 and report.per_class["dog"].recall == 0
    assert report.samples == 200 and report.task == "classify"


def test_classification_report_as_the_json_document():
    report = classification_report([3, 7], np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    document = json.loads(json.dumps(report.to_dict()))
    assert list(document) == [
        "samples",
        "task",
        "accuracy",
        "classes",
        "confusion_matrix",
        "per_class",
    ]
    assert document["classes"] == [3, 7]  # labels keep their type
    assert document["confusion_matrix"] == [[1, 1], [0, 2]]
    assert document["per_class"] == {
        "3": {"precision": 1.0, "recall": 0.5, "support": 2},
        "7": {"precision": pytest.approx(2 / 3), "recall": 1.0, "support": 2},
    }


def test_regression_report_matches_scikit_learn():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=50)
    predicted = truth + rng.normal(scale=0.3, size=50)
    report = regression_report(truth, predicted)
    assert report.mse == pytest.approx(mean_squared_error(truth, predicted))
    assert report.mae == pytest.approx(mean_absolute_error(truth, predicted))
    assert report.r2 == pytest.approx(r2_score(truth, predicted))
    assert list(report.to_dict()) == ["samples", "task", "mse", "mae", "r2"]
    assert report.to_dict()["task"] == "regress" and report.samples == 50


def test_reports_refuse_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="3 true values but 2 predictions"):
        classification_report(["a", "b"], np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="no samples"):
        regression_report(np.array([]), np.array([]))


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 2))
    labels = np.where(X[:, 0] > 0, "1", "2.0")  # read back as the whole numbers 1 and 2
    model, _ = TabularModel.train(
        X, labels, ["u", "v"], "label", None, TrainOptions(epochs=3, verbose=0)
    )
    return model, X, labels


def test_a_table_model_evaluates_its_own_predictions(classifier):
    model, X, labels = classifier
    assert model.classes == [1, 2]
    report = model.evaluate(X, labels)
    assert isinstance(report, ClassificationReport)
    truth = np.where(labels == "1", 1, 2)
    assert report.accuracy == pytest.approx(accuracy_score(truth, model.predict(X).astype(int)))
    assert report.confusion_matrix.sum() == len(X)


def test_unknown_labels_are_named_with_the_file(tmp_path, classifier):
    model, X, _ = classifier
    with pytest.raises(DataError, match="labels the model does not know: 3, 9"):
        model.evaluate(X[:4], np.array(["1", "9", "3", "2"]))
    path = tmp_path / "d.csv"
    path.write_text("u,v,label\n0.1,0.2,1\n0.3,0.4,cat\n")
    with pytest.raises(DataError, match=r"d\.csv: labels the model does not know: cat"):
        model.evaluate_csv(path)


def test_evaluate_csv_equals_evaluate_on_the_arrays(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2))
    y = X @ [1.5, -2.0] + 0.5
    model, _ = TabularModel.train(
        X, y, ["a", "b"], "y", "regress", TrainOptions(epochs=3, verbose=0)
    )
    path = tmp_path / "r.csv"
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", header="y,a,b", comments="")
    from_file = model.evaluate_csv(path)
    assert isinstance(from_file, RegressionReport)
    assert from_file.to_dict() == pytest.approx(model.evaluate(X, y).to_dict())
    with pytest.raises(ValueError, match="name the target column"):
        TabularModel(model.network, "regress", ["a", "b"]).evaluate_csv(path)

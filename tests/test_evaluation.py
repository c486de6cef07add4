"""Evaluation reports against scikit-learn's metrics as an independent oracle, and a table
model's evaluation of arrays and CSV files."""

import json

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
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
        "averages",
        "log_loss",
        "roc_auc",
        "roc_auc_undefined",
    ]
    assert document["classes"] == [3, 7]  # labels keep their type
    assert document["confusion_matrix"] == [[1, 1], [0, 2]]
    assert document["per_class"] == {
        "3": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2},
        "7": {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": 0.8, "support": 2},
    }
    assert document["log_loss"] is None and document["roc_auc"] is None  # no probabilities


def test_regression_report_matches_scikit_learn():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=50)
    predicted = truth + rng.normal(scale=0.3, size=50)
    report = regression_report(truth, predicted)
    assert report.mse == pytest.approx(mean_squared_error(truth, predicted))
    assert report.mae == pytest.approx(mean_absolute_error(truth, predicted))
    assert report.r2 == pytest.approx(r2_score(truth, predicted))
    assert report.rmse == pytest.approx(np.sqrt(mean_squared_error(truth, predicted)))
    assert list(report.to_dict()) == ["samples", "task", "mse", "rmse", "mae", "r2"]
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


# ------------------------------------------------------------------------------------------
# F1 averages, log-loss and ROC-AUC against scikit-learn (issue 16, section 4)
# ------------------------------------------------------------------------------------------


def _probabilities(rng, truth, n_classes, sharpness=2.0):
    """Random probabilities leaning towards the true class, rows summing to 1."""
    logits = rng.normal(size=(len(truth), n_classes))
    logits[np.arange(len(truth)), truth] += sharpness
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_averages_log_loss_and_roc_auc_match_scikit_learn(n_classes, seed):
    rng = np.random.default_rng(seed)
    truth = np.r_[np.arange(n_classes), rng.integers(0, n_classes, size=150)]
    p = _probabilities(rng, truth, n_classes)
    p[:20] = np.round(p[:20], 1)  # ties among the scores
    p[:20] /= p[:20].sum(axis=1, keepdims=True)
    predicted = p.argmax(axis=1)
    labels = list(range(n_classes))
    report = classification_report([f"c{i}" for i in labels], truth, predicted, p)
    f1 = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    np.testing.assert_allclose([s.f1 for s in report.per_class.values()], f1, rtol=1e-12)
    for average in ("macro", "weighted"):
        scores = report.averages[average]
        for name, fn in (
            ("precision", precision_score),
            ("recall", recall_score),
            ("f1", f1_score),
        ):
            expected = fn(truth, predicted, labels=labels, average=average, zero_division=0)
            assert getattr(scores, name) == pytest.approx(expected, rel=1e-12), (average, name)
    assert report.log_loss == pytest.approx(log_loss(truth, p, labels=labels), rel=1e-12)
    expected_auc = (
        roc_auc_score(truth, p[:, 1])
        if n_classes == 2
        else roc_auc_score(truth, p, multi_class="ovr", average="macro", labels=labels)
    )
    assert report.roc_auc == pytest.approx(expected_auc, rel=1e-12)
    assert report.roc_auc_undefined is None


def test_a_class_absent_from_the_data_scores_zero_as_scikit_learn_does():
    """Precision, recall and F1 of a class with no samples and no predictions are 0
    (scikit-learn's zero_division=0), and count in the macro average; the ROC-AUC is not
    defined, where scikit-learn answers nan."""
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, size=60)  # class 2 never occurs
    p = _probabilities(rng, truth, 3)
    p[:, 2] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    predicted = p.argmax(axis=1)
    report = classification_report(["a", "b", "c"], truth, predicted, p)
    assert report.per_class["c"] == type(report.per_class["c"])(0.0, 0.0, 0)
    assert report.per_class["c"].f1 == 0.0
    expected = f1_score(truth, predicted, labels=[0, 1, 2], average="macro", zero_division=0)
    assert report.averages["macro"].f1 == pytest.approx(expected, rel=1e-12)
    assert report.log_loss == pytest.approx(log_loss(truth, p, labels=[0, 1, 2]), rel=1e-12)
    assert report.roc_auc is None
    assert "class c does not occur" in report.roc_auc_undefined
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(roc_auc_score(truth, p, multi_class="ovr", labels=[0, 1, 2]))


def test_log_loss_of_probabilities_exactly_zero_or_one_is_finite_as_in_scikit_learn():
    truth = np.array([0, 1, 1, 0])
    p = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # two sure and wrong
    report = classification_report(["no", "yes"], truth, p.argmax(axis=1), p)
    assert np.isfinite(report.log_loss)
    assert report.log_loss == pytest.approx(log_loss(truth, p), rel=1e-12)
    assert report.log_loss == pytest.approx(-np.log(np.finfo(float).eps) / 2, rel=1e-6)


def test_a_single_class_in_the_data_leaves_the_roc_auc_undefined_without_failing():
    truth = np.zeros(5, dtype=int)
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    report = classification_report(["no", "yes"], truth, p.argmax(axis=1), p)
    assert report.roc_auc is None and "class yes does not occur" in report.roc_auc_undefined
    document = json.loads(json.dumps(report.to_dict()))
    assert document["roc_auc"] is None and document["roc_auc_undefined"]
    assert document["log_loss"] == pytest.approx(log_loss(truth, p, labels=[0, 1]), rel=1e-12)


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # float32 rounding
def test_a_table_model_reports_the_probability_scores(classifier):
    model, X, labels = classifier
    report = model.evaluate(X, labels)
    truth = (labels != "1").astype(int)
    p = model.predict_proba(X)
    assert report.log_loss == pytest.approx(log_loss(truth, p), rel=1e-9)
    assert report.roc_auc == pytest.approx(roc_auc_score(truth, p[:, 1]), rel=1e-9)

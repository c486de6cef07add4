"""A table model's prediction of CSV files: streamed chunk by chunk, the same as predicting
the arrays in memory, and atomic: a failure leaves no half-written file."""

import csv
import io

import numpy as np
import pytest

from chainrule.data.tables import CHUNK_ROWS, CsvError
from chainrule.tabular import TabularModel, TrainOptions

ROWS = CHUNK_ROWS + 300  # more than one chunk


def write_table(path, header, columns):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))
    return path


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, 3))
    species = np.array(["setosa", "virginica", "versicolor"])[
        (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    ]
    return X, species


@pytest.fixture(scope="module")
def classifier(data):
    X, species = data
    options = TrainOptions(epochs=1, verbose=0, hidden=(8,))
    model, _ = TabularModel.train(X[:300], species[:300], ["a", "b", "c"], "species", None, options)
    return model


def test_streamed_predictions_equal_the_in_memory_ones(tmp_path, data, classifier):
    X, species = data
    source = write_table(
        tmp_path / "in.csv", ["c", "species", "a", "b"], [X[:, 2], species, X[:, 0], X[:, 1]]
    )
    out = tmp_path / "out.csv"
    assert classifier.predict_csv(source, out, proba=True) == ROWS
    rows = read_rows(out)
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [r[0] for r in rows[1:]] == list(classifier.predict(X))
    probabilities = np.array([r[1:] for r in rows[1:]], dtype=float)
    np.testing.assert_allclose(probabilities, classifier.predict_proba(X), rtol=1e-5)
    stream = io.StringIO()
    assert classifier.write_predictions(source, stream, proba=True) == ROWS
    assert stream.getvalue() == out.read_text()


def test_regression_values_and_rows_with_missing_values(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    y = 3 * X[:, 0] - X[:, 1] + 100
    model, _ = TabularModel.train(
        X, y, ["a", "b"], "y", "regress", TrainOptions(epochs=2, verbose=0)
    )
    cells = X.astype(str)
    cells[[4, 9], [1, 0]] = ["", "NaN"]
    source = write_table(tmp_path / "in.csv", ["a", "b"], [cells[:, 0], cells[:, 1]])
    with pytest.raises(CsvError, match="column 'b' has a missing value"):
        model.write_predictions(source, io.StringIO())
    out = tmp_path / "out.csv"
    model.predict_csv(source, out, skip_missing=True)
    values = [row[0] for row in read_rows(out)[1:]]
    assert values[4] == values[9] == ""
    kept = np.delete(np.arange(50), [4, 9])
    np.testing.assert_allclose(
        np.array(values, dtype=object)[kept].astype(float), model.predict(X[kept]), rtol=1e-7
    )
    with pytest.raises(ValueError, match="classification models only"):
        model.predict_csv(source, out, proba=True)


def test_a_failing_stream_leaves_no_file_and_keeps_the_old_one(tmp_path, data, classifier):
    X, _ = data
    late = X[:, 1].astype(str)
    late[-1] = "oops"  # in the second chunk, after the first has been written
    source = write_table(tmp_path / "in.csv", ["a", "b", "c"], [X[:, 0], late, X[:, 2]])
    out = tmp_path / "out.csv"
    with pytest.raises(CsvError, match=f"column 'b' holds 'oops' at line {ROWS + 1}"):
        classifier.predict_csv(source, out)
    assert not out.exists()
    out.write_text("the previous predictions\n")
    with pytest.raises(CsvError):
        classifier.predict_csv(source, out)
    assert out.read_text() == "the previous predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary


def test_columns_are_checked_before_anything_is_written(tmp_path, classifier):
    source = write_table(tmp_path / "in.csv", ["a", "b", "colour"], [[1.0], [2.0], [3.0]])
    stream = io.StringIO()
    with pytest.raises(CsvError, match="missing the model's feature columns: c"):
        classifier.write_predictions(source, stream)
    assert stream.getvalue() == ""

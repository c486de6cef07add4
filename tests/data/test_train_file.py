"""Training on a file held in memory (``TabularModel.train_file``, what ``chainrule
train FILE`` runs): a statistics pass, then each block standardised straight into one
float32 matrix; and the pieces that keep ``fit`` from copying it (training rows and
validation rows gathered batch by batch, accuracy counted group by group)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from chainrule.data.checks import DataError
from chainrule.data.errors import DataFileError
from chainrule.data.sources import ArraySource, RowsOf
from chainrule.data.tables import read_table
from chainrule.holdout import held_out_rows
from chainrule.tabular import TabularModel, TrainOptions
from chainrule.training.metrics import accuracy
from chainrule.training.running_metrics import CountedAccuracy

ROOT = Path(__file__).resolve().parents[2]


def weights(model: TabularModel) -> list[np.ndarray]:
    return [p.data for p in model.network.parameters()]


def table(n: int, seed: int = 0, regression: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * np.array([1, 10, 100, 1e-3, 7]) + np.array([0, 5e3, -2, 1, 0])
    if regression:
        y = X[:, 0] * 3 - X[:, 1] / 1e3 + rng.normal(size=n)
    else:
        y = np.array(["low", "mid", "high"])[(X[:, 0] > 0).astype(int) + (X[:, 4] > 7)]
    return pa.table({**{f"f{j}": X[:, j] for j in range(5)}, "y": y})


OPTIONS = TrainOptions(hidden=(8,), epochs=2, batch_size=32, verbose=0, seed=3)


@pytest.mark.parametrize("shuffle", [True, False])
def test_an_array_source_over_rows_gives_the_batches_of_those_rows_copied(shuffle):
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(500, 3)), rng.integers(0, 4, 500), rng.random(500)
    rows = rng.permutation(500)[:377]
    copied = ArraySource(X[rows], y[rows], 64, shuffle=shuffle, seed=9, sample_weight=w[rows])
    viewed = ArraySource(X, y, 64, shuffle=shuffle, seed=9, sample_weight=w, rows=rows)
    assert len(copied) == len(viewed) == 6
    for _ in range(2):  # two epochs: two permutations from the one generator
        for a, b in zip(copied, viewed, strict=True):
            assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_rows_of_an_array_slice_as_the_rows_copied():
    X = np.arange(60.0).reshape(20, 3)
    rows = np.array([19, 2, 7, 7, 0, 11])
    view = RowsOf(X, rows)
    assert len(view) == 6 and view.shape == (6, 3) and view.dtype == X.dtype
    for a, b in [(0, 6), (1, 4), (4, 100), (5, 5)]:
        assert np.array_equal(view[a:b], X[rows][a:b])


@pytest.mark.parametrize("columns", [1, 3])
def test_accuracy_counted_in_groups_is_accuracy_on_all_the_outputs(columns):
    rng = np.random.default_rng(columns)
    batches = [rng.random((int(n), columns)) for n in rng.integers(1, 40, 60)]
    targets = [rng.integers(0, max(columns, 2), len(b)) for b in batches]
    counted = CountedAccuracy(lambda p: p, group_rows=50)
    kept_p: list[np.ndarray] = []
    kept_t: list[np.ndarray] = []
    for batch, target in zip(batches, targets, strict=True):
        kept_p.append(batch)
        kept_t.append(target)
        counted.add(kept_p, kept_t)
        assert sum(len(t) for t in kept_t) < 50 + 40  # a group at most is kept
    whole = accuracy(np.concatenate(targets), np.concatenate(batches))
    assert counted.value(kept_p, kept_t) == whole  # the same float, not close to it
    assert counted.value([], []) is None  # nothing since: no figure


def test_a_file_of_one_block_trains_the_weights_of_its_arrays(tmp_path):
    """One block: the statistics pass's moments are NumPy's to the bit, so the file gives
    the very weights of TabularModel.train on the arrays read from it."""
    path = tmp_path / "d.csv"
    pacsv.write_csv(table(900), path)  # ~90 kB: one block
    model, history, report = TabularModel.train_file(path, "y", None, OPTIONS)
    read = read_table(path, "y")
    expected, _ = TabularModel.train(read.features, read.target, read.feature_names, "y",
                                     None, OPTIONS)  # fmt: skip
    assert report is None
    assert model.classes == expected.classes == ["high", "low", "mid"]
    assert model.input_mean.tobytes() == expected.input_mean.tobytes()
    assert all(np.array_equal(p, q) for p, q in zip(weights(model), weights(expected), strict=True))
    assert len(history.epochs) == 2 and "val_accuracy" in history.final()


@pytest.mark.parametrize("regression", [False, True])
def test_a_file_of_many_blocks_is_standardised_as_its_arrays(tmp_path, regression):
    path = tmp_path / "d.parquet"
    pq.write_table(table(3000, 1, regression), path, row_group_size=400)
    model, _, _ = TabularModel.train_file(path, "y", None, OPTIONS)
    read = read_table(path, "y")
    assert model.task == ("regress" if regression else "classify")
    np.testing.assert_allclose(model.input_mean, read.features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.input_scale, read.features.std(axis=0), rtol=1e-12)
    if regression:
        target = read.numeric_target(path, "")
        assert np.isclose(model.target_mean, target.mean(), rtol=1e-12)
        assert np.isclose(model.target_scale, target.std(), rtol=1e-12)


@pytest.mark.parametrize("regression", [False, True])
def test_the_test_split_is_scored_as_evaluate_scores_those_rows(tmp_path, regression):
    path = tmp_path / "d.csv"
    pacsv.write_csv(table(2000, 2, regression), path)
    model, _, report = TabularModel.train_file(path, "y", None, OPTIONS, test_split=0.25)
    read = read_table(path, "y")
    y_raw = read.numeric_target(path, "") if regression else read.target
    train_rows, test_rows = held_out_rows(y_raw, 0.25, OPTIONS.seed, not regression)
    expected = model.evaluate(read.features[test_rows], y_raw[test_rows])
    assert report is not None and report.samples == len(test_rows) == 500
    assert report.to_dict() == expected.to_dict()
    assert model.summary["samples"] == len(train_rows)
    # nothing is learnt from the test rows: the scaling is the training rows' (one block:
    # NumPy's to the bit), the in-memory run on those rows' arrays
    X_train = read.features[train_rows]
    assert model.input_mean.tobytes() == X_train.mean(axis=0).tobytes()
    assert model.input_scale.tobytes() == X_train.std(axis=0).tobytes()
    if regression:
        assert model.target_mean == y_raw[train_rows].mean()


def test_training_on_a_file_holds_it_once_as_float32(tmp_path):
    """The arrays allocated while training on a file (NumPy's, traced): the float32
    matrix, the labels' codes, the split's row indices and a group of batch outputs,
    1.45x the float32 data here.  Reading the file as a float64 table, then training on
    it (read_table, TabularModel.train, before issue 19's end) took 4.5x."""
    import tracemalloc

    rows, width = 60_000, 20
    rng = np.random.default_rng(4)
    X = rng.normal(size=(rows, width))
    y = np.array(["low", "mid", "high"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
    path, small = tmp_path / "d.csv", tmp_path / "small.csv"
    for n, where in ((rows, path), (50, small)):
        pacsv.write_csv(pa.table({**{f"f{j}": X[:n, j] for j in range(width)}, "y": y[:n]}), where)
    options = TrainOptions(hidden=(8,), epochs=1, batch_size=256, verbose=0)
    TabularModel.train_file(small, "y", None, options)  # modules imported on first use
    tracemalloc.start()
    try:
        TabularModel.train_file(path, "y", None, options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    float32 = rows * width * 4
    assert peak < 1.6 * float32, f"peak {peak / float32:.2f}x the float32 data"


def run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_a_pipe_is_refused_not_waited_on(tmp_path):
    """A FIFO (e.g. ``<(zcat data.csv.gz)``) can be read once; train reads a file twice
    and used to hang opening it again."""
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    result = run_cli("train", str(fifo), "--target", "y", cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert f"{fifo}: is not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_dropped_rows_are_counted(tmp_path, stream):
    path = tmp_path / "d.csv"
    lines = ["a,b,y"] + [f"{i},{i % 7},{'xy'[i % 2]}" for i in range(300)]
    lines[10] = "9,,x"
    lines[20] = "NA,1,y"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("train", "d.csv", "--target", "y", "--epochs", "1", "--drop-missing",
                     *stream, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "dropped 2 rows with missing values" in result.stdout
    assert "298 samples" in result.stdout or "298 rows" in result.stdout


def test_a_value_too_large_for_float32_is_named_without_numpys_warnings(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,x\n1e39,3,y\n2,2,x\n3,1,y\n")
    result = run_cli("train", "d.csv", "--target", "y", "--no-standardize", cwd=tmp_path)
    assert result.returncode == 1
    assert "d.csv: X contains inf at row 1, column 0" in result.stderr
    assert "Warning" not in result.stderr


def test_a_cache_folder_that_does_not_exist_is_refused_before_reading(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,x\n2,y\n")
    missing = tmp_path / "nowhere"
    result = run_cli("train", "d.csv", "--target", "y", "--stream", "--cache-dir",
                     str(missing), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert f"--cache-dir {missing}: no such folder" in result.stderr
    assert "statistics of" not in result.stdout


def test_a_file_is_scored_block_by_block_as_its_arrays_are(tmp_path):
    """evaluate_csv reads and predicts 65,536 rows at a time (memory holds the truth and
    the outputs, not the features): the report of the whole arrays, and every unknown
    label named, from whichever block."""
    path = tmp_path / "d.csv"
    pacsv.write_csv(table(70_000, 5), path)
    model, _, _ = TabularModel.train_file(path, "y", None, OPTIONS)
    read = read_table(path, "y")
    got, expected = model.evaluate_csv(path), model.evaluate(read.features, read.target)
    assert got.samples == expected.samples == 70_000
    assert got.to_dict()["confusion_matrix"] == expected.to_dict()["confusion_matrix"]
    assert got.log_loss == pytest.approx(expected.log_loss, rel=1e-6)
    labels = read.target.copy()
    labels[5], labels[69_000] = "early", "late"  # in the first block and in the second
    bad = tmp_path / "bad.csv"
    pacsv.write_csv(pa.table({**{n: read.features[:, j] for j, n in enumerate(read.feature_names)},
                              "y": labels}), bad)  # fmt: skip
    with pytest.raises(DataError, match="bad.csv: labels the model does not know: early, late"):
        model.evaluate_csv(bad)


def test_a_regression_target_that_is_not_a_number_is_named_by_its_line_in_any_block(tmp_path):
    path = tmp_path / "d.csv"
    pacsv.write_csv(table(70_000, 6, regression=True), path)
    model, _, _ = TabularModel.train_file(path, "y", None, OPTIONS)
    lines = path.read_text().splitlines()
    lines[68_001] = lines[68_001].rsplit(",", 1)[0] + ",n/a?"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match="column 'y' holds 'n/a\\?' at line 68002"):
        model.evaluate_csv(bad)


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_a_feature_whose_spread_overflows_is_named_not_saved(tmp_path, stream):
    """A standard deviation beyond float64's range made a model file no command could
    load (its input_scale infinite), or NaN statistics under --stream."""
    (tmp_path / "d.csv").write_text("a,b,y\n1e300,2,x\n-1e300,3,y\n2,2,x\n3,1,y\n")
    result = run_cli("train", "d.csv", "--target", "y", "--epochs", "1", "-o", "m.st",
                     *stream, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert "d.csv: feature 'a': values too large to standardise" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.st").exists()


def test_arrays_whose_spread_overflows_are_refused_by_name():
    X = np.array([[1.0, 1e300], [2.0, -1e300], [3.0, 5.0], [4.0, 6.0]])
    with pytest.raises(DataError, match="feature 'x1': values too large to standardise"):
        TabularModel.train(X, np.array([0, 1, 0, 1]), options=OPTIONS)

"""``chainrule train --stream`` and the --memory budget: a model trained without loading
the file, that loads and predicts like one trained in memory, reproducible from the seed,
in memory that does not grow with the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chainrule.data.tables import read_table
from chainrule.tabular import TabularModel, TrainOptions

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}


def chainrule(*args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def data(n, seed=0, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.arange(1, d + 1) * 10 + 1000  # a mean far from 0
    y = np.where(X[:, 0] - X[:, 1] / 2 > 500, "yes", "no")
    return X, y


def write_parquet(path: Path, n, group_rows, seed=0, d=4) -> Path:
    X, y = data(n, seed, d)
    columns = {f"x{j}": X[:, j] for j in range(d)}
    pq.write_table(pa.table({**columns, "y": y}), path, row_group_size=group_rows)
    return path


def write_csv(path: Path, n, seed=0) -> Path:
    X, _ = data(n, seed)
    lines = [",".join(f"{v!r}" for v in row) for row in X.tolist()]
    path.write_text("x0,x1,x2,x3\n" + "\n".join(lines) + "\n")
    return path


def weights(path: Path) -> list[np.ndarray]:
    return [p.data for p in TabularModel.load(path).network.parameters()]


def test_a_streamed_parquet_model_loads_predicts_and_standardises_as_in_memory(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 3000, 500)
    result = chainrule("train", data_file, "--target", "y", "--stream", "--epochs", "3",
                       "--quiet", "-o", "m.safetensors", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "statistics of" in result.stdout and "6 blocks" in result.stdout
    model = TabularModel.load(tmp_path / "m.safetensors")
    table = read_table(data_file, "y")
    np.testing.assert_allclose(model.input_mean, table.features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.input_scale, table.features.std(axis=0), rtol=1e-12)
    assert model.classes == ["no", "yes"] and model.summary["samples"] == 3000
    assert (model.predict(table.features) == table.target).mean() > 0.8
    predicted = chainrule("predict", "m.safetensors", data_file, cwd=tmp_path)
    assert predicted.returncode == 0 and predicted.stdout.splitlines()[0] == "prediction"


def test_a_streamed_csv_in_many_blocks_standardises_and_scales_as_in_memory(tmp_path):
    data_file = write_csv(tmp_path / "d.csv", 4000)
    options = TrainOptions(epochs=2, verbose=0, hidden=(8,))
    model, history = TabularModel.train_stream(
        data_file, "x3", "regress", options, block_bytes=20_000
    )
    assert model.summary["streamed"]["blocks"] > 5
    table = read_table(data_file, "x3")
    target = table.numeric_target(data_file, "")
    np.testing.assert_allclose(model.input_mean, table.features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.input_scale, table.features.std(axis=0), rtol=1e-12)
    assert np.isclose(model.target_mean, target.mean(), rtol=1e-12)
    assert np.isclose(model.target_scale, target.std(), rtol=1e-12)
    assert set(history.final()) >= {"loss", "val_loss", "r2", "val_r2", "rmse", "val_rmse"}


def test_two_streamed_runs_with_one_seed_give_the_same_weights(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 2000, 300)
    for out in ("a.safetensors", "b.safetensors", "c.safetensors"):
        seed = "5" if out == "c.safetensors" else "4"
        result = chainrule("train", data_file, "--target", "y", "--stream", "--epochs", "2",
                           "--seed", seed, "--quiet", "-o", out, cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
    a, b, c = (weights(tmp_path / f"{k}.safetensors") for k in "abc")
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_one_block_within_the_buffer_trains_the_in_memory_weights(tmp_path):
    """One row group, a buffer of at least its rows, no validation split: the stream is
    one permutation of the rows from the seed, as in memory, and the statistics of one
    block are NumPy's to the bit."""
    data_file = write_parquet(tmp_path / "d.parquet", 1500, 1500)
    for out, extra in (("streamed.st", ["--stream"]), ("memory.st", [])):
        result = chainrule("train", data_file, "--target", "y", "--epochs", "2", "--quiet",
                           "--validation-split", "0", "-o", out, *extra, cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
    streamed, memory = weights(tmp_path / "streamed.st"), weights(tmp_path / "memory.st")
    assert all(np.array_equal(p, q) for p, q in zip(streamed, memory, strict=True))


def test_a_file_over_the_memory_budget_is_streamed_with_a_message(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 1000, 250)  # 1000 x 4 x 4 = 16 kB
    over = chainrule("train", data_file, "--target", "y", "--epochs", "1", "--quiet",
                     "--memory", "10k", cwd=tmp_path)  # fmt: skip
    assert over.returncode == 0, over.stderr
    assert over.stdout.splitlines()[0] == (
        f"{data_file}: about 15.6 kB as float32, over the memory budget of 10.0 kB "
        "(--memory): training on it streamed (--stream)"
    )
    assert "statistics of" in over.stdout
    under = chainrule("train", data_file, "--target", "y", "--epochs", "1", "--quiet",
                      "--memory", "1M", cwd=tmp_path)  # fmt: skip
    assert under.returncode == 0 and "streamed" not in under.stdout
    bad = chainrule("train", data_file, "--target", "y", "--memory", "lots", cwd=tmp_path)
    assert bad.returncode == 2 and "'lots' is not a memory size" in bad.stderr


def test_stream_refuses_a_test_split_and_a_built_in_data_set(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 200, 100)
    split = chainrule("train", data_file, "--target", "y", "--stream", "--test-split", "0.2",
                      cwd=tmp_path)  # fmt: skip
    assert split.returncode == 1
    assert split.stderr.startswith("chainrule: error: --test-split holds the test rows in memory")
    dataset = chainrule("train", "--dataset", "iris", "--stream", cwd=tmp_path)
    assert dataset.returncode == 1 and "--stream reads a file" in dataset.stderr


def test_ctrl_c_during_a_streamed_run_exits_130_and_writes_nothing(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 2000, 500)
    work = tmp_path / "work"
    work.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", str(data_file), "--target", "y",
         "--stream", "--epochs", "100000", "-o", "m.safetensors", "--plot", "p.png"],
        cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for line in process.stderr:
            if line.startswith("epoch 1/"):
                break
        process.send_signal(signal.SIGINT)
        err = process.stderr.read()
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130
    assert err.strip().splitlines()[-1].endswith(" of 100000; nothing written")
    assert list(work.iterdir()) == []


PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "chainrule", *sys.argv[1:]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, child.stderr.read()
print(usage.ru_maxrss)
"""


def peak_kb_of_streamed_training(data_file: Path, cwd: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "train", str(data_file), "--target", "y", "--stream",
         "--epochs", "1", "--batch-size", "512", "--hidden", "8", "--quiet"],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_streamed_training_memory_does_not_grow_with_the_file(tmp_path):
    """200k and 800k rows (row groups of 50k): the peak resident memory of the whole
    command within 10% (in memory, the 800k rows alone are 26 MB more as float64)."""
    small = write_parquet(tmp_path / "small.parquet", 200_000, 50_000)
    large = write_parquet(tmp_path / "large.parquet", 800_000, 50_000)
    small_kb = peak_kb_of_streamed_training(small, tmp_path)
    large_kb = peak_kb_of_streamed_training(large, tmp_path)
    assert large_kb < 1.1 * small_kb, (small_kb, large_kb)


def test_divergence_early_stopping_and_the_plot_work_as_in_memory(tmp_path):
    data_file = write_parquet(tmp_path / "d.parquet", 2000, 400)
    diverged = chainrule("train", data_file, "--target", "y", "--stream", "--optimizer", "sgd",
                         "--lr", "1e30", "--quiet", "-o", "m.st", cwd=tmp_path)  # fmt: skip
    assert diverged.returncode == 1
    assert diverged.stderr.startswith("chainrule: error: training diverged at epoch 1")
    assert not (tmp_path / "m.st").exists()
    stopped = chainrule("train", data_file, "--target", "y", "--stream", "--early-stopping",
                        "--patience", "1", "--lr", "0.5", "--epochs", "200", "--quiet",
                        "-o", "m.st", "--plot", "p.png", cwd=tmp_path)  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr
    summary = TabularModel.load(tmp_path / "m.st").summary
    assert summary["stopped_early"] and summary["epochs_run"] < 200
    assert summary["final_epoch"] == summary["restored_epoch"]
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_a_word_in_a_streamed_regression_target_is_named_by_its_line(tmp_path):
    data_file = tmp_path / "d.csv"
    rows = [f"{i},{i % 7}.5" for i in range(3000)]
    rows[2500] = "2500,abc"  # line 2502: the header is line 1
    data_file.write_text("a,y\n" + "\n".join(rows) + "\n")
    options = TrainOptions(epochs=1, verbose=0)
    with pytest.raises(ValueError) as error:
        TabularModel.train_stream(data_file, "y", "regress", options, block_bytes=4000)
    assert str(error.value) == (
        f"{data_file}: column 'y' holds 'abc' at line 2502, which is not a number; "
        "regression needs a numeric target"
    )

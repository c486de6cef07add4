"""``mpirun -n N chainrule train data.csv ...``: the same model as one process, printed
and written by rank 0 alone."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from .launch import ROOT, mpirun


def write_data(path, task: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(157, 4))  # 157 rows: unequal shards on 2 and 3 ranks
    if task == "classify":
        y = np.where(X[:, 0] + X[:, 1] > 0, "yes", np.where(X[:, 2] > 0.5, "maybe", "no"))
    else:
        y = 3 * X[:, 0] - X[:, 3] + 10
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", "d", "y"])
        writer.writerows([*x, t] for x, t in zip(X.tolist(), y.tolist(), strict=True))


@pytest.mark.parametrize(("task", "ranks"), [("classify", 2), ("regress", 3)])
def test_train_under_mpirun_writes_the_one_process_model(tmp_path, task, ranks):
    write_data(tmp_path / "data.csv", task)
    common = ["-m", "chainrule", "train", "data.csv", "--target", "y", "--epochs", "4"]
    common += ["--batch-size", "16", "--optimizer", "sgd", "--plot", "curves.png"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    single = subprocess.run(
        [sys.executable, *common, "-o", "one.safetensors", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    job = mpirun(ranks, *common, "-o", "many.safetensors", cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    # rank 0 alone prints (the progress lines included) and writes
    assert job.stdout.count("model written to many.safetensors") == 1
    assert job.stdout.count("training on data.csv: 157 samples") == 1
    assert f"on {ranks} ranks" in job.stdout
    assert job.stderr.count("epoch 4/4") == 1  # the progress display
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "curves.png", "data.csv", "many.safetensors", "one.safetensors",
    ]  # fmt: skip
    one, many = load_file(tmp_path / "one.safetensors"), load_file(tmp_path / "many.safetensors")
    assert sorted(one) == sorted(many)
    for key, value in one.items():
        rtol = 1e-5 if value.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(
            many[key], value, rtol=rtol, atol=rtol * np.abs(value).max(), err_msg=key
        )

"""``mpirun -n N chainrule train|evaluate|predict data.csv ...``: each rank reads its share
of the file; the model, the report and the predictions are one process's, printed and
written by rank 0 alone."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
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


def write_big(
    path, task: str, rows: int = 4000, bad_line: int | None = None, ids: bool = False
) -> None:
    """A file of several blocks per rank (a rank reads about 64 KB at least), with an
    id column to keep if ``ids``; ``bad_line``'s cell of b is not a number."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, 4))
    if task == "classify":
        y = np.where(X[:, 0] + X[:, 1] > 0, "yes", np.where(X[:, 2] > 0.5, "maybe", "no"))
    else:
        y = 3 * X[:, 0] - X[:, 3] + 10
    lines = [("id," if ids else "") + "a,b,c,d,y"]
    for i, (x, t) in enumerate(zip(X.tolist(), y.tolist(), strict=True)):
        cells = [*map(repr, x), str(t)]
        if i + 2 == bad_line:
            cells[1] = "oops"
        lines.append(",".join([f"id {i}"] * ids + cells))
    path.write_text("\n".join(lines) + "\n")


def one_process(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module", params=["classify", "regress"])
def trained(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    write_big(folder / "data.csv", request.param)
    one_process(
        "train", "data.csv", "--target", "y", "--epochs", "2", "--quiet", "--seed", "3",
        "--batch-size", "64",
        "-o", "full.safetensors", cwd=folder,
    )  # fmt: skip
    return folder, request.param


@pytest.mark.parametrize("ranks", [2, 3])
def test_predict_under_mpirun_writes_the_one_process_output(trained, ranks, tmp_path):
    folder, task = trained
    write_big(tmp_path / "data.csv", task, ids=True)
    # row groups of 300 rows: blocks for every rank (a CSV block is 8 MB: one rank's)
    pq.write_table(pacsv.read_csv(tmp_path / "data.csv"), tmp_path / "data.parquet", 300)
    proba = ["--proba"] if task == "classify" else []
    for source in ("data.csv", "data.parquet"):
        common = ["predict", str(folder / "full.safetensors"), source, "--keep", "id", *proba]
        one_process(*common, "-o", "one.csv", cwd=tmp_path)
        one_process(*common, "-o", "one.parquet", cwd=tmp_path)
        for out in ("many.csv", "many.parquet"):
            job = mpirun(ranks, "-m", "chainrule", *common, "-o", out, cwd=tmp_path)
            assert job.returncode == 0, job.stderr
        for out in ("csv", "parquet"):  # the same bytes (as one process's chunks)
            many = (tmp_path / f"many.{out}").read_bytes()
            assert many == (tmp_path / f"one.{out}").read_bytes(), (source, out)
        to_stdout = mpirun(ranks, "-m", "chainrule", *common, cwd=tmp_path)
        assert to_stdout.returncode == 0, to_stdout.stderr
        assert to_stdout.stdout.encode() == (tmp_path / "one.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.csv", "data.parquet", "many.csv", "many.parquet", "one.csv", "one.parquet",
    ]  # fmt: skip


@pytest.mark.parametrize("ranks", [2, 3])
def test_evaluate_under_mpirun_reports_as_one_process(trained, ranks):
    folder, _ = trained
    common = ["evaluate", "full.safetensors", "data.csv"]
    expected = one_process(*common, "--json", cwd=folder).stdout.decode()
    job = mpirun(ranks, "-m", "chainrule", *common, "--json", cwd=folder)
    assert job.returncode == 0, job.stderr
    # printed once, by rank 0: the counts exactly one process's; the figures to the
    # rounding of the outputs (BLAS may round a row differently in another batch)
    assert_same_report(json.loads(job.stdout), json.loads(expected))
    shown = mpirun(ranks, "-m", "chainrule", *common, cwd=folder)
    assert shown.returncode == 0, shown.stderr
    # Open MPI gives a rank's output a terminal, so rich styles it: compare the text
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout)
    assert plain == one_process(*common, cwd=folder).stdout.decode()


def assert_same_report(got, expected) -> None:
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)
    elif isinstance(expected, dict):
        assert sorted(got) == sorted(expected)
        for key in expected:
            assert_same_report(got[key], expected[key])
    elif isinstance(expected, list):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert_same_report(a, b)
    else:
        assert got == expected


def test_train_with_a_test_split_under_mpirun_is_the_one_process_run(tmp_path):
    write_big(tmp_path / "data.csv", "classify", rows=3000)
    common = ["train", "data.csv", "--target", "y", "--epochs", "2", "--batch-size", "32"]
    common += ["--test-split", "0.2", "--seed", "4"]
    single = one_process(*common, "-o", "one.safetensors", cwd=tmp_path).stdout.decode()
    job = mpirun(3, "-m", "chainrule", *common, "-o", "many.safetensors", cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    tested = [line for line in single.splitlines() if line.startswith(("test set", "accuracy"))]
    assert len(tested) == 2
    for line in tested:  # the held-out rows and their report, once
        assert job.stdout.count(line) == 1, job.stdout
    one, many = load_file(tmp_path / "one.safetensors"), load_file(tmp_path / "many.safetensors")
    for key, value in one.items():
        np.testing.assert_allclose(many[key], value, rtol=1e-5, atol=1e-5 * np.abs(value).max())


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_a_bad_cell_in_one_ranks_share_stops_every_rank(trained, tmp_path, command):
    folder, task = trained
    # line 3990 is in the last rank's share
    write_big(tmp_path / "data.csv", task, bad_line=3990, ids=command == "predict")
    args = {
        "train": ["train", "data.csv", "--target", "y", "-o", "m.safetensors"],
        "evaluate": ["evaluate", str(folder / "full.safetensors"), "data.csv"],
        "predict": ["predict", str(folder / "full.safetensors"), "data.csv", "--keep", "id",
                    "-o", "out.csv"],
    }[command]  # fmt: skip
    job = mpirun(3, "-m", "chainrule", *args, cwd=tmp_path, timeout=60)
    assert job.returncode != 0
    assert "Traceback" not in job.stderr
    # every rank stops (none waits in a collective: the job ends within its timeout)
    # with the message of the rank that found the cell; mpirun may end the others
    # before they print theirs
    assert "chainrule: error:" in job.stderr
    message = "data.csv: column 'b' holds 'oops' at line 3990, which is not a number"
    assert message in job.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_the_task_is_guessed_on_every_ranks_rows(tmp_path):
    # 40 whole-number target values, sorted: each of 2 ranks' shares holds 20, few enough
    # to look like classes; all the rows together are a regression, as one process sees
    rng = np.random.default_rng(2)
    lines = ["a,b,y"] + [f"{rng.normal()!r},{rng.normal()!r},{i // 5}" for i in range(200)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    common = ["train", "data.csv", "--target", "y", "--epochs", "1"]
    assert "task regress" in one_process(*common, cwd=tmp_path).stdout.decode()
    job = mpirun(2, "-m", "chainrule", *common, cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    assert "task regress" in job.stdout


def test_ranks_without_rows_train_with_the_others(tmp_path):
    # 4 rows on 6 ranks: two shares are empty; those ranks still take part in every step
    write_big(tmp_path / "data.csv", "classify", rows=4)
    common = ["train", "data.csv", "--target", "y", "--epochs", "3", "--batch-size", "2"]
    one_process(*common, "-o", "one.safetensors", cwd=tmp_path)
    job = mpirun(6, "-m", "chainrule", *common, "-o", "many.safetensors", cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    assert "4 samples, 4 features on 6 ranks" in job.stdout
    one, many = load_file(tmp_path / "one.safetensors"), load_file(tmp_path / "many.safetensors")
    for key, value in one.items():
        np.testing.assert_allclose(many[key], value, rtol=1e-5, atol=1e-5 * np.abs(value).max())

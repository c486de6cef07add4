"""``fit(comm=...)`` under a real ``mpirun``: N ranks with global batch B train to the
weights one process gets with batch B on all the rows in the same order."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from .fit_job import results, train
from .launch import mpirun

BASE = {
    "data_seed": 1,
    "rows": 203,  # not a multiple of the batch or of the ranks: unequal parts everywhere
    "features": 5,
    "task": "classify",
    "dtype": "float64",
    "model_seed": 3,
    "epochs": 3,
    "batch_size": 16,
    "seed": 7,
    "unequal_start": True,  # each rank perturbs its weights: rank 0's must win
}
CONFIGS = {
    "sgd": {"optimizer": "sgd"},  # the prescaled path: backprop seeded with lr x share
    "momentum": {"optimizer": "momentum", "task": "regress"},
    "adam": {"optimizer": "adam", "validation_split": 0.2},
    "sample_weight": {"optimizer": "adam", "weighted": True},
    "float32": {"optimizer": "adam", "dtype": "float32", "validation_split": 0.2},
    "early_stopping": {
        "optimizer": "momentum",
        "validation_split": 0.25,
        "early_stopping": True,
        "epochs": 30,
    },
    "own_shards": {"optimizer": "adam", "own_shards": True, "weighted": True},
}
CASES = [(name, n) for name in CONFIGS for n in (2, 3)] + [("sgd", 1), ("adam", 1)]


def run_job(tmp_path, config: dict, ranks: int) -> dict[str, np.ndarray]:
    path, out = tmp_path / "config.json", tmp_path / "out.npz"
    path.write_text(json.dumps(config))
    job = mpirun(ranks, "-m", "tests.mpi.fit_job", str(path), str(out), cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    # the ranks' lines may interleave: each must be there once
    assert sorted(re.findall(r"rank \d+ of \d+ trained", job.stdout)) == [
        f"rank {r} of {ranks} trained" for r in range(ranks)
    ]
    with np.load(out, allow_pickle=False) as saved:
        return dict(saved)


@pytest.mark.parametrize(("name", "ranks"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_ranks_train_as_one_process(tmp_path, name, ranks):
    config = {**BASE, **CONFIGS[name]}
    expected = results(*train(config))
    got = run_job(tmp_path, config, ranks)
    rtol = 1e-5 if config["dtype"] == "float32" else 1e-12
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(
                got[key], value, rtol=rtol, atol=rtol * np.abs(value).max(), err_msg=key
            )
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=key)
    if name == "early_stopping":  # the case tests a stop every rank agreed on
        assert expected["stopped_early"] and len(expected["epochs"]) < config["epochs"]


def test_bad_data_on_one_rank_stops_every_rank(tmp_path):
    config = {**BASE, **CONFIGS["adam"], "poison_rank": 1}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    job = mpirun(2, "-m", "tests.mpi.fit_job", str(path), str(tmp_path / "out.npz"), cwd=tmp_path)
    assert job.returncode != 0
    # rank 1 found the NaN; rank 0, which did not, stops with rank 1's message
    assert "DataError: X contains nan at row 5, column 2" in job.stderr
    assert "DataError: rank 1: X contains nan at row 5, column 2" in job.stderr
    assert not (tmp_path / "out.npz").exists()


def test_each_rank_checks_only_its_own_rows(tmp_path):
    # every rank is given the whole data (shard=True) with a NaN in row 4, rank 0's:
    # rank 0 alone finds it (no rank checks, or copies, the rows of the others), and
    # rank 1 stops with rank 0's message, which names the row in the whole data
    config = {**BASE, **CONFIGS["adam"], "poison_row": 4}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    job = mpirun(2, "-m", "tests.mpi.fit_job", str(path), str(tmp_path / "out.npz"), cwd=tmp_path)
    assert job.returncode != 0
    assert "DataError: rank 0: X contains nan at row 4, column 2" in job.stderr
    assert not (tmp_path / "out.npz").exists()

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris


def chainrule_command() -> list[str]:
    """The installed console script (what users run), else python -m chainrule."""
    script = shutil.which("chainrule") or str(Path(sys.executable).parent / "chainrule")
    return [script] if Path(script).exists() else [sys.executable, "-m", "chainrule"]


@pytest.fixture
def run(tmp_path):
    def run_cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*chainrule_command(), *map(str, args)], capture_output=True, text=True, cwd=tmp_path
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run_cli


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def iris_csv(tmp_path) -> Path:
    data = load_iris()
    rows = [[*x, data.target_names[t]] for x, t in zip(data.data, data.target, strict=True)]
    return write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], rows)


@pytest.fixture
def regression_csv(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] ** 2 + 0.1 * rng.normal(size=300)
    return write_csv(tmp_path / "reg.csv", ["a", "b", "c", "y"], np.column_stack([X, y]).tolist())


@pytest.fixture
def iris_model(tmp_path, iris_csv, run) -> Path:
    path = tmp_path / "iris.safetensors"
    run(
        "train",
        iris_csv,
        "--target",
        "species",
        "--epochs",
        "60",
        "--quiet",
        "-o",
        path,
        check=True,
    )
    return path


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into (root ignores permission bits, so use /proc)."""
    if os.geteuid() == 0:
        return Path("/proc")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder

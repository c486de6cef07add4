"""Issue 16, section 4: reports that say what happened.  The command line is run as a
user runs it, in a subprocess with its output in pipes, from this tree's sources."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKUP = ["[low]", "[/]", "temp [/C]", "[bold]x"]


def chainrule(cwd: Path, *args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m chainrule ARGS`` on this tree, stdout and stderr in pipes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def markup_csv(tmp_path) -> Path:
    """Four classes named like rich markup, two features named like it too."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 2))
    labels = np.array(MARKUP)[(X[:, 0] > 0) * 2 + (X[:, 1] > 0)]
    rows = [[a, b, label] for (a, b), label in zip(X, labels, strict=True)]
    return write_csv(tmp_path / "[red]data.csv", ["[/]", "temp [/C]", "[bold]lab"], rows)


# ------------------------------------------------------------------------------------------
# user data is printed as text, never as markup
# ------------------------------------------------------------------------------------------


def test_labels_and_columns_that_look_like_markup_are_printed_as_they_are(tmp_path, markup_csv):
    model = tmp_path / "[b]m.safetensors"
    trained = ok(chainrule(tmp_path, "train", markup_csv, "--target", "[bold]lab",
                           "--epochs", "20", "-o", model))  # fmt: skip
    assert f"training on {markup_csv}" in trained.stdout
    assert f"model written to {model}" in trained.stdout

    evaluated = ok(chainrule(tmp_path, "evaluate", model, markup_csv)).stdout
    for label in MARKUP:
        # each label heads a column of the confusion matrix and a row of each table
        assert evaluated.count(label) >= 3, (label, evaluated)

    inspected = ok(chainrule(tmp_path, "inspect", model)).stdout
    assert str(model) in inspected
    assert "features: [/], temp [/C]" in inspected
    assert "classes: " + ", ".join(sorted(MARKUP)) in inspected

    predicted = ok(chainrule(tmp_path, "predict", model, markup_csv, "--proba")).stdout
    header, first = predicted.splitlines()[:2]
    assert header == "prediction," + ",".join(f"p_{c}" for c in sorted(MARKUP))
    assert first.split(",")[0] in MARKUP


# ------------------------------------------------------------------------------------------
# training progress in a pipe or a log file
# ------------------------------------------------------------------------------------------


def test_progress_in_a_pipe_is_one_plain_line_per_epoch(tmp_path, markup_csv):
    result = ok(chainrule(tmp_path, "train", markup_csv, "--target", "[bold]lab",
                          "--epochs", "5"))  # fmt: skip
    lines = result.stderr.splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"epoch {k}/5" for k in range(1, 6)]
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert result.stderr.endswith("\n") and "\n\n" not in result.stderr

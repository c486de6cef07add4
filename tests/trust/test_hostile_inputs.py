"""The generated corpus of hostile CSV files and command lines (``hostile_inputs.py``), run
through the CLI's entry point: every case is refused with one line that names the file or
the option, exit 1 (2 for a usage error), no traceback, and nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chainrule.cli import main

from .hostile_inputs import CSV_CASES, FLAG_CASES, GOOD_ROWS, HEADER, PARQUET_CASES

# cases a prediction does not mind: the target column is not read (not even its cell of
# 200,000 characters: no cell has a size limit, memory follows the data), one row or one
# class is as good as many, and no rows give a header and no predictions (as an empty
# input should)
PREDICTABLE = {
    "missing_target", "one_row", "one_class", "no_features", "header_only", "blank_lines_only",
    "huge_field",
}  # fmt: skip


def _refused(capsys, argv, fragment, code=1):
    exit_code = _run(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert exit_code == code, captured.out + captured.err
    assert lines, "no message"
    message = lines[-1]
    expected_start = "chainrule: error: " if code == 1 else f"chainrule {argv[0]}: error: "
    assert message.startswith(expected_start), captured.err
    assert fragment in message, message
    if code == 1:
        assert len(lines) == 1, captured.err
    return message


def _run(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's usage errors
        return exit.code


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_training_on_a_hostile_csv_is_refused_naming_the_file(case, tmp_path, capsys):
    _, write, fragment = CSV_CASES[case]
    data = write(tmp_path)
    before = _files(tmp_path)
    message = _refused(
        capsys, ["train", data, "--target", "y", "--epochs", "1", "-o", tmp_path / "m.st"], fragment
    )
    assert str(data) in message
    assert _files(tmp_path) == before


@pytest.mark.parametrize("case", sorted(CSV_CASES) + sorted(PARQUET_CASES))
def test_streamed_training_on_a_hostile_file_is_refused_naming_the_file(case, tmp_path, capsys):
    """``train --stream`` reads through block readers and a statistics pass, not
    read_table: the same one-line errors."""
    _, write, fragment = {**CSV_CASES, **PARQUET_CASES}[case]
    data = write(tmp_path)
    before = _files(tmp_path)
    argv = ["train", data, "--target", "y", "--epochs", "1", "--stream", "-o", tmp_path / "m.st"]
    message = _refused(capsys, argv, fragment)
    assert str(data) in message
    assert _files(tmp_path) == before


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    data = folder / "good.csv"
    data.write_text(HEADER + GOOD_ROWS)
    model = folder / "model.safetensors"
    assert _run(["train", data, "--target", "y", "--epochs", "2", "--quiet", "-o", model]) == 0
    return model


@pytest.mark.parametrize("case", sorted(set(CSV_CASES) - PREDICTABLE))
def test_predicting_on_a_hostile_csv_is_refused_naming_the_file(
    case, tmp_path, capsys, trained_model
):
    _, write, fragment = CSV_CASES[case]
    data = write(tmp_path)
    capsys.readouterr()
    before = _files(tmp_path)
    out = tmp_path / "predictions.csv"
    message = _refused(capsys, ["predict", trained_model, data, "-o", out], fragment)
    assert str(data) in message
    assert _files(tmp_path) == before


@pytest.mark.parametrize("case", sorted(PARQUET_CASES))
def test_a_hostile_parquet_file_is_refused_naming_the_file(case, tmp_path, capsys, trained_model):
    """Train, evaluate and predict on each hostile Parquet file: one line naming the file."""
    _, write, fragment = PARQUET_CASES[case]
    data = write(tmp_path)
    capsys.readouterr()
    before = _files(tmp_path)
    commands = [["train", data, "--target", "y", "--epochs", "1", "-o", tmp_path / "m.st"],
                ["evaluate", trained_model, data]]  # fmt: skip
    if case != "parquet_missing_target":  # a prediction does not read the target
        commands.append(["predict", trained_model, data, "-o", tmp_path / "p.csv"])
    for argv in commands:
        wanted = fragment
        if case == "parquet_no_rows" and argv[0] == "predict":
            continue  # no rows, no predictions: a header only, as for CSV
        message = _refused(capsys, argv, wanted)
        assert str(data) in message
        assert _files(tmp_path) == before


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_a_hostile_option_is_refused_naming_it(case, tmp_path, capsys):
    flags, fragment = FLAG_CASES[case]
    data = tmp_path / "good.csv"
    data.write_text(HEADER + GOOD_ROWS)
    argv = ["train", data, "--target", "y", "--epochs", "1", "--quiet", *flags]
    code = 2 if fragment.startswith("--") else 1
    _refused(capsys, [*argv, "-o", tmp_path / "m.st"], fragment, code)
    assert _files(tmp_path) == ["good.csv"]


def test_the_corpus_script_writes_every_case(tmp_path):
    """The corpus can be written out to try by hand: one file per case."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.trust.hostile_inputs", str(tmp_path / "corpus")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in (tmp_path / "corpus").iterdir()) == sorted(
        [*CSV_CASES, *PARQUET_CASES]
    )


def test_the_model_and_the_plot_cannot_be_one_file(tmp_path, capsys):
    data = tmp_path / "good.csv"
    data.write_text(HEADER + GOOD_ROWS)
    same = tmp_path / "out.png"
    argv = ["train", data, "--target", "y", "--epochs", "1", "--quiet", "-o", same]
    _refused(capsys, [*argv, "--plot", tmp_path / "sub" / ".." / "out.png"], "-o and --plot")
    assert _files(tmp_path) == ["good.csv"]

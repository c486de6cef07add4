"""Issue 16, section 4: reports that say what happened.  The command line is run as a
user runs it, in a subprocess with its output in pipes, from this tree's sources."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.command import run_chainrule

MARKUP = ["[low]", "[/]", "temp [/C]", "[bold]x"]


def chainrule(cwd: Path, *args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m chainrule ARGS`` on this tree, stdout and stderr in pipes."""
    return run_chainrule(*args, cwd=cwd, timeout=timeout, env={"COLUMNS": "200"})


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


# ------------------------------------------------------------------------------------------
# --help shows every default
# ------------------------------------------------------------------------------------------


def _option_help(help_text: str, invocation: str) -> str:
    """The help of one option: the text after ``invocation`` up to the next option."""
    text = " ".join(help_text.split())
    match = re.search(re.escape(invocation) + r" (.*?)(?= -{1,2}[a-z][\w-]* |$)", text)
    assert match, (invocation, text)
    return match.group(1)


def test_train_help_shows_the_defaults_one_would_otherwise_find_by_running(tmp_path):
    shown = ok(chainrule(tmp_path, "train", "--help")).stdout
    for invocation, default in [
        ("--hidden HIDDEN", "64"),
        ("--epochs EPOCHS", "50"),
        ("--batch-size BATCH_SIZE", "32"),
        ("--validation-split VALIDATION_SPLIT", "0.2"),
        ("--patience PATIENCE", "10"),
        ("--seed SEED", "0"),
        ("--optimizer {sgd,adam}", "adam"),
        ("--activation ACTIVATION", "relu"),
    ]:
        assert f"(default: {default})" in _option_help(shown, invocation), invocation
    assert "(default: 1e-3 adam, 1e-2 sgd)" in _option_help(shown, "--lr LR")


def test_every_option_with_a_default_shows_it_in_every_subcommand():
    from chainrule.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command")
    checked = 0
    for name, sub in commands.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0 or action.default is None:
                continue
            invocation = sub._get_formatter()._format_action_invocation(action)
            assert f"(default: {action.default})" in _option_help(text, invocation), (
                name,
                invocation,
            )
            checked += 1
    assert checked >= 15


# ------------------------------------------------------------------------------------------
# training without -o says that nothing was saved
# ------------------------------------------------------------------------------------------


def test_training_without_an_output_says_the_model_was_not_saved(tmp_path, markup_csv):
    args = ("train", markup_csv, "--target", "[bold]lab", "--epochs", "2", "--quiet")
    unsaved = ok(chainrule(tmp_path, *args)).stdout
    assert "the model was not saved: add -o model.safetensors" in unsaved
    saved = ok(chainrule(tmp_path, *args, "-o", tmp_path / "m.safetensors")).stdout
    assert "not saved" not in saved


# ------------------------------------------------------------------------------------------
# errors name the file, the column, the line and the option
# ------------------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_a_one_class_file_is_refused_naming_file_and_column(tmp_path):
    path = write_csv(tmp_path / "same.csv", ["a", "b", "kind"], [[i, 2 * i, "x"] for i in range(6)])
    line = error_line(chainrule(tmp_path, "train", path, "--target", "kind"))
    assert line.startswith(f"chainrule: error: {path}: ")
    assert "'kind'" in line and "single class ('x')" in line


def test_a_one_row_file_is_refused_naming_the_file(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["a", "b", "y"], [[1.0, 2.0, 3.5]])
    line = error_line(chainrule(tmp_path, "train", path, "--target", "y", "--task", "regress"))
    assert line.startswith(f"chainrule: error: {path}: ") and "1" in line


def test_regression_on_a_text_column_names_file_column_and_line(tmp_path):
    rows = [[1, 2, "1.5"], [2, 3, "2.5"], [3, 4, "high"], [4, 5, "0.5"]]
    path = write_csv(tmp_path / "text.csv", ["a", "b", "price"], rows)
    line = error_line(chainrule(tmp_path, "train", path, "--target", "price", "--task", "regress"))
    assert line.startswith(f"chainrule: error: {path}: column 'price' holds 'high' at line 4")


def test_evaluating_a_regression_model_on_text_names_file_column_and_line(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    numbers = write_csv(tmp_path / "num.csv", ["a", "b", "price"], np.column_stack([X, X[:, 0]]))
    model = tmp_path / "reg.safetensors"
    ok(chainrule(tmp_path, "train", numbers, "--target", "price", "--epochs", "2", "--quiet",
                 "-o", model))  # fmt: skip
    rows = [[0.1, 0.2, "3"], [0.3, 0.1, "cheap"]]
    text = write_csv(tmp_path / "text.csv", ["a", "b", "price"], rows)
    line = error_line(chainrule(tmp_path, "evaluate", model, text))
    assert line.startswith(f"chainrule: error: {text}: column 'price' holds 'cheap' at line 3")


@pytest.mark.parametrize("value", ["-1", "1.5", "x"])
def test_a_seed_that_is_not_a_non_negative_integer_names_the_option(tmp_path, markup_csv, value):
    result = chainrule(tmp_path, "train", markup_csv, "--target", "[bold]lab", f"--seed={value}")
    assert "argument --seed: expected a non-negative integer" in error_line(result, code=2)


@pytest.mark.parametrize("value", ["0", "-0.1", "nan", "inf", "-inf"])
@pytest.mark.parametrize("command", ["train", "plot"])
def test_a_learning_rate_that_is_not_positive_and_finite_names_the_option(
    tmp_path, markup_csv, value, command
):
    args = (
        ["train", markup_csv, "--target", "[bold]lab"]
        if command == "train"
        else ["plot", "boundary"]
    )
    result = chainrule(tmp_path, *args, f"--lr={value}")
    assert "argument --lr: expected a positive finite number" in error_line(result, code=2)


def test_the_library_does_not_read_a_learning_rate_of_zero_as_the_default():
    from chainrule.tabular import TabularModel, TrainOptions

    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    for optimizer in ("adam", "sgd"):
        with pytest.raises(ValueError, match="learning rate"):
            TabularModel.train(
                X, y, ["a", "b"], "y", None, TrainOptions(optimizer=optimizer, lr=0.0, verbose=0)
            )
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        TrainOptions(seed=-1)


# ------------------------------------------------------------------------------------------
# evaluate: F1 and its averages, log-loss, ROC-AUC; RMSE in the target's units
# ------------------------------------------------------------------------------------------


@pytest.fixture
def markup_model(tmp_path, markup_csv) -> Path:
    model = tmp_path / "markup.safetensors"
    ok(chainrule(tmp_path, "train", markup_csv, "--target", "[bold]lab", "--epochs", "20",
                 "--quiet", "-o", model))  # fmt: skip
    return model


def test_evaluate_reports_f1_averages_log_loss_and_roc_auc(tmp_path, markup_csv, markup_model):
    from sklearn.metrics import f1_score, log_loss, roc_auc_score

    from chainrule.data.tables import read_table
    from chainrule.tabular import TabularModel

    document = json.loads(ok(chainrule(tmp_path, "evaluate", markup_model, markup_csv,
                                       "--json")).stdout)  # fmt: skip
    model = TabularModel.load(markup_model)
    table = read_table(markup_csv, "[bold]lab")
    truth, p = model.class_indices(table.target), model.predict_proba(table.features)
    predicted, labels = p.argmax(axis=1), list(range(len(MARKUP)))
    f1 = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    assert [document["per_class"][str(c)]["f1"] for c in model.classes] == pytest.approx(f1)
    for average in ("macro", "weighted"):
        expected = f1_score(truth, predicted, labels=labels, average=average, zero_division=0)
        assert document["averages"][average]["f1"] == pytest.approx(expected)
    p = p / p.sum(axis=1, keepdims=True)  # float32 softmax: rows sum to 1 within 1e-7
    assert document["log_loss"] == pytest.approx(log_loss(truth, p, labels=labels), rel=1e-6)
    assert document["roc_auc"] == pytest.approx(
        roc_auc_score(truth, p, multi_class="ovr", labels=labels), rel=1e-6
    )

    shown = ok(chainrule(tmp_path, "evaluate", markup_model, markup_csv)).stdout
    assert f"log-loss {document['log_loss']:.4f}" in shown
    assert f"ROC-AUC, one-vs-rest macro {document['roc_auc']:.4f}" in shown
    assert "F1" in shown and "macro average" in shown and "weighted average" in shown


def test_evaluate_says_why_the_roc_auc_is_not_defined(tmp_path, markup_csv, markup_model):
    rows = list(csv.reader(markup_csv.open()))
    only = write_csv(tmp_path / "only.csv", rows[0], [r for r in rows[1:] if r[2] == "[low]"])
    result = ok(chainrule(tmp_path, "evaluate", markup_model, only, "--json"))
    document = json.loads(result.stdout)
    assert document["roc_auc"] is None and "does not occur" in document["roc_auc_undefined"]
    shown = ok(chainrule(tmp_path, "evaluate", markup_model, only)).stdout
    assert "ROC-AUC, one-vs-rest macro n/a (class " in shown


def test_evaluate_of_a_regression_model_reports_rmse_in_the_targets_units(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 2))
    y = 1000 + 300 * X[:, 0]
    path = write_csv(tmp_path / "r.csv", ["a", "b", "y"], np.column_stack([X, y]))
    model = tmp_path / "r.safetensors"
    ok(chainrule(tmp_path, "train", path, "--target", "y", "--epochs", "3", "--quiet",
                 "-o", model))  # fmt: skip
    document = json.loads(ok(chainrule(tmp_path, "evaluate", model, path, "--json")).stdout)
    assert document["rmse"] == pytest.approx(np.sqrt(document["mse"]))
    shown = ok(chainrule(tmp_path, "evaluate", model, path)).stdout
    assert "(in the target's units)" in shown and f"{document['rmse']:.6g}" in shown


def test_training_a_regression_labels_its_loss_and_reports_rmse_in_the_targets_units(tmp_path):
    from chainrule.tabular import TabularModel

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    y = 1000 + 300 * X[:, 0] - 50 * X[:, 1]
    path = write_csv(tmp_path / "r.csv", ["a", "b", "price"], np.column_stack([X, y]))
    model = tmp_path / "r.safetensors"
    shown = ok(chainrule(tmp_path, "train", path, "--target", "price", "--epochs", "4",
                         "--quiet", "-o", model)).stdout  # fmt: skip
    assert "loss (standardised target)" in shown and "rmse (target's units)" in shown
    loaded = TabularModel.load(model)
    final = loaded.summary["final"]
    assert "standardised target" in loaded.summary["loss_on"]
    # the validation loss is the MSE of (y - mean) / scale: rmse = scale * sqrt(val_loss)
    assert final["val_rmse"] == pytest.approx(loaded.target_scale * np.sqrt(final["val_loss"]))
    assert final["val_rmse"] > 10  # in the target's units, not standardised ones
    row = next(line for line in shown.splitlines() if "rmse (target's units)" in line)
    assert f"{final['val_rmse']:.4f}" in row


# ------------------------------------------------------------------------------------------
# predict --keep COL and --ignore COL
# ------------------------------------------------------------------------------------------


@pytest.fixture
def id_csv(tmp_path, markup_csv) -> Path:
    """The training file with an id and a note column around it, more rows than one chunk
    (8192), and a row with a missing feature."""
    rows = list(csv.reader(markup_csv.open()))
    body = [[f"id-{i}", f"n{i % 7}", *rows[1 + i % (len(rows) - 1)]] for i in range(9000)]
    body[4321][2] = ""
    return write_csv(tmp_path / "ids.csv", ["id", "note", *rows[0]], body)


def test_predict_keeps_an_id_column_and_ignores_another(tmp_path, id_csv, markup_model):
    plain = [r[2:4] for r in csv.reader(id_csv.open())]
    features = write_csv(tmp_path / "features.csv", plain[0], plain[1:])
    expected = ok(chainrule(tmp_path, "predict", markup_model, features, "--drop-missing"))
    expected_rows = list(csv.reader(expected.stdout.splitlines()))

    args = ("predict", markup_model, id_csv, "--keep", "id", "--ignore", "note", "--drop-missing")
    shown = list(csv.reader(ok(chainrule(tmp_path, *args)).stdout.splitlines()))
    assert shown[0] == ["id", "prediction"]
    assert [r[0] for r in shown[1:]] == [f"id-{i}" for i in range(9000)]
    assert [r[1:] for r in shown[1:]] == [r or [""] for r in expected_rows[1:]]
    assert shown[1 + 4321] == ["id-4321", ""]  # a row with a missing value keeps its id

    out = tmp_path / "predictions.csv"
    ok(chainrule(tmp_path, *args, "-o", out))
    assert list(csv.reader(out.open())) == shown


def test_predict_takes_column_lists_and_repeated_options(tmp_path, id_csv, markup_model):
    listed = chainrule(tmp_path, "predict", markup_model, id_csv, "--keep", "note,id",
                       "--drop-missing", "--proba")  # fmt: skip
    repeated = chainrule(tmp_path, "predict", markup_model, id_csv, "--keep", "note",
                         "--keep", "id", "--drop-missing", "--proba")  # fmt: skip
    assert ok(listed).stdout == ok(repeated).stdout
    header = listed.stdout.splitlines()[0]
    assert header == "note,id,prediction," + ",".join(f"p_{c}" for c in sorted(MARKUP))
    ignored = ok(chainrule(tmp_path, "predict", markup_model, id_csv, "--ignore", "id,note",
                           "--drop-missing"))  # fmt: skip
    assert ignored.stdout.splitlines()[0] == "prediction"


def test_predict_names_columns_it_cannot_keep_or_ignore(tmp_path, id_csv, markup_model):
    columns = "the columns are: id, note, [/], temp [/C], [bold]lab"
    line = error_line(chainrule(tmp_path, "predict", markup_model, id_csv, "--keep", "idx"))
    assert f"{id_csv}: no column 'idx' to keep; {columns}" in line
    line = error_line(chainrule(tmp_path, "predict", markup_model, id_csv, "--ignore", "x,y"))
    assert f"{id_csv}: no column 'x', 'y' to ignore; {columns}" in line
    line = error_line(chainrule(tmp_path, "predict", markup_model, id_csv, "--ignore", "[/]",
                                "--keep", "id,note"))  # fmt: skip
    assert "cannot ignore '[/]': the model reads it as a feature" in line
    line = error_line(chainrule(tmp_path, "predict", markup_model, id_csv, "--keep", "id"))
    assert "not trained on: note" in line and "--ignore COL" in line and "--keep COL" in line
    clash = write_csv(tmp_path / "clash.csv", ["prediction", "[/]", "temp [/C]"], [[1, 0, 0]])
    out = tmp_path / "out.csv"
    line = error_line(
        chainrule(tmp_path, "predict", markup_model, clash, "--keep", "prediction", "-o", out)
    )
    assert "cannot keep 'prediction': the output has a column of that name" in line
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# train --test-split F
# ------------------------------------------------------------------------------------------


def test_a_held_out_test_set_is_scored_as_evaluate_scores_it(tmp_path, markup_csv):
    from chainrule.holdout import held_out_rows

    rows = list(csv.reader(markup_csv.open()))
    labels = np.array([r[2] for r in rows[1:]])
    train_rows, test_rows = held_out_rows(labels, 0.25, 3, stratify=True)
    assert len(test_rows) == sum(
        min(round(n * 0.25), n - 1) for n in np.unique(labels, return_counts=True)[1]
    )
    assert not set(train_rows) & set(test_rows) and len(train_rows) + len(test_rows) == 160
    model = tmp_path / "held.safetensors"
    shown = ok(chainrule(tmp_path, "train", markup_csv, "--target", "[bold]lab", "--epochs", "10",
                         "--test-split", "0.25", "--seed", "3", "--quiet", "-o", model))  # fmt: skip
    assert f"training on {markup_csv}: {len(train_rows)} samples" in shown.stdout
    assert f"test set: {len(test_rows)} samples held out before training" in shown.stdout
    summary = json.loads(ok(chainrule(tmp_path, "inspect", model, "--json")).stdout)["training"]
    assert summary["test_split"] == 0.25 and summary["samples"] == len(train_rows)

    test_csv = write_csv(tmp_path / "test.csv", rows[0], [rows[1 + i] for i in test_rows])
    evaluated = json.loads(ok(chainrule(tmp_path, "evaluate", model, test_csv, "--json")).stdout)
    assert summary["test"] == evaluated  # the same rows, parsed from the same text
    assert f"accuracy {evaluated['accuracy']:.4f} on {len(test_rows)} samples" in shown.stdout


def test_a_built_in_data_set_can_hold_out_a_test_set(tmp_path):
    model = tmp_path / "diabetes.safetensors"
    shown = ok(chainrule(tmp_path, "train", "--dataset", "diabetes", "--epochs", "3",
                         "--test-split", "0.2", "--quiet", "-o", model)).stdout  # fmt: skip
    assert "training on data set diabetes: 354 samples" in shown  # 442 - round(88.4)
    assert "test set: 88 samples held out before training" in shown
    summary = json.loads(ok(chainrule(tmp_path, "inspect", model, "--json")).stdout)["training"]
    assert summary["test"]["samples"] == 88 and summary["test"]["rmse"] > 1


def test_a_test_split_that_leaves_no_test_rows_is_refused(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", ["a", "y"], [[i, i % 2] for i in range(4)])
    line = error_line(chainrule(tmp_path, "train", path, "--target", "y", "--test-split", "0.1"))
    assert line.startswith(f"chainrule: error: {path}: a test split of 0.1 leaves no test")

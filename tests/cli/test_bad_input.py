"""Bad input, from the outside: a clear one-line message, exit 1 (2 for usage errors),
no traceback, and no output file left behind."""

import pickle

import pytest

from .conftest import read_only_folder, write_csv


def assert_user_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("chainrule: error: ")
    for fragment in fragments:
        assert fragment in message, message


def leftovers(folder):
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix in (".safetensors", ".tmp", ".csv", ".onnx") or p.name.startswith(".")
    )


def test_missing_file(run, tmp_path):
    assert_user_error(
        run("train", tmp_path / "nope.csv", "--target", "y", "-o", tmp_path / "m.safetensors"),
        "nope.csv: no such file",
    )
    assert leftovers(tmp_path) == []


def test_empty_file_and_no_header(run, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_user_error(run("train", empty, "--target", "y"), "empty")
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("1,2,3\n4,5,6\n")
    assert_user_error(
        run("train", numbers, "--target", "y"), "line 1 holds numbers, not column names"
    )


def test_target_column_that_does_not_exist(run, iris_csv):
    assert_user_error(
        run("train", iris_csv, "--target", "colour"),
        "no column 'colour'",
        "sl, sw, pl, pw, species",
    )


def test_non_numeric_feature_names_column_and_first_bad_line(run, tmp_path):
    path = write_csv(
        tmp_path / "d.csv", ["a", "b", "y"], [[1, 2, 0], [3, 4, 1], [5, "five", 0], [6, "six", 1]]
    )
    assert_user_error(run("train", path, "--target", "y"), "column 'b' holds 'five' at line 4")


def test_missing_values_are_named_and_drop_missing_is_offered(run, tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[1, 2, 0], [3, "", 1], [5, 6, 0]])
    assert_user_error(
        run("train", path, "--target", "y"),
        "column 'b' has a missing value (an empty cell) at line 3",
        "--drop-missing",
    )
    nan = write_csv(tmp_path / "n.csv", ["a", "b", "y"], [[1, 2, 0], [3, 4, 1], ["NaN", 6, 0]])
    assert_user_error(
        run("train", nan, "--target", "y"), "column 'a' has a missing value ('NaN') at line 4"
    )


def test_a_single_class(run, tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a", "y"], [[i, "cat"] for i in range(10)])
    assert_user_error(
        run("train", path, "--target", "y", "--task", "classify", "-o", tmp_path / "m.safetensors"),
        "single class ('cat')",
    )
    assert not (tmp_path / "m.safetensors").exists()


def test_predict_file_with_missing_or_extra_columns(run, tmp_path, iris_model):
    missing = write_csv(tmp_path / "missing.csv", ["sl", "sw", "pl"], [[1, 2, 3]])
    out = tmp_path / "out.csv"
    assert_user_error(
        run("predict", iris_model, missing, "-o", out), "missing the model's feature columns: pw"
    )
    extra = write_csv(tmp_path / "extra.csv", ["sl", "sw", "pl", "pw", "colour"], [[1, 2, 3, 4, 5]])
    assert_user_error(
        run("predict", iris_model, extra, "-o", out), "columns the model was not trained on: colour"
    )
    assert not out.exists()


def test_truncated_model_file(run, tmp_path, iris_model, iris_csv):
    data = iris_model.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    assert_user_error(run("predict", truncated, iris_csv), "truncated")
    assert_user_error(run("inspect", truncated), "truncated")


def test_model_file_with_a_changed_tensor_shape(run, tmp_path, iris_model):
    import json

    from safetensors.numpy import load_file, save_file

    tensors = load_file(iris_model)
    with open(iris_model, "rb") as handle:
        import struct

        size = struct.unpack("<Q", handle.read(8))[0]
        metadata = json.loads(handle.read(size))["__metadata__"]
    tensors["layers.0.U"] = tensors["layers.0.U"][:, :10].copy()
    tampered = tmp_path / "tampered.safetensors"
    save_file(tensors, tampered, metadata=metadata)
    assert_user_error(
        run("inspect", tampered), "'layers.0.U' is float32[4, 10]", "needs float32[4, 64]"
    )


def test_a_pickle_posing_as_a_model(run, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Exploit()))
    assert_user_error(run("inspect", path), "pickle")
    assert not marker.exists()


def test_read_only_output_path(run, tmp_path, iris_csv, iris_model):
    folder = read_only_folder(tmp_path)
    target = folder / "model.safetensors"
    assert_user_error(
        run("train", iris_csv, "--target", "species", "--epochs", "1", "--quiet", "-o", target),
        "cannot write",
    )
    assert not target.exists()
    out = folder / "predictions.csv"
    assert_user_error(run("predict", iris_model, iris_csv, "-o", out), "cannot write")
    assert not out.exists()
    assert_user_error(run("export", iris_model, folder / "m.onnx"), "cannot write")


def test_usage_errors_exit_2(run):
    for args in (
        ["train", "--hidden", "a,b"],
        ["fly"],
        ["train", "--epochs", "0", "--dataset", "iris"],
        [],
    ):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["train"], ["train", "x.csv", "--dataset", "iris"]])
def test_data_source_must_be_one_of_file_or_dataset(run, args):
    assert_user_error(run(*args), "give a CSV file or --dataset")

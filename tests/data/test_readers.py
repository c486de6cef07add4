"""The Arrow-based readers from the outside: labels keep their identity, missing values are
what the user says, .csv.gz, Parquet files and folders, predictions written as CSV or
Parquet, and the same numbers whatever the format."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chainrule.data.tables import DataFileError, iter_chunks, read_table
from chainrule.tabular import TabularModel, TrainOptions, encode_labels, guess_task

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def chainrule(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def test_labels_with_leading_zeros_stay_text_and_round_trip(tmp_path):
    codes = ["01", "02", "007"]
    rows = "".join(f"{i % 5},{(i * 7) % 3},{codes[i % 3]}\n" for i in range(60))
    data = tmp_path / "codes.csv"
    data.write_text("a,b,code\n" + rows)
    model = tmp_path / "m.safetensors"
    ok(chainrule("train", data, "--target", "code", "--epochs", "2", "--quiet", "-o", model,
                 cwd=tmp_path))  # fmt: skip
    assert TabularModel.load(model).classes == ["007", "01", "02"]
    out = tmp_path / "p.csv"
    ok(chainrule("predict", model, data, "-o", out, cwd=tmp_path))
    assert set(out.read_text().splitlines()[1:]) <= set(codes)
    report = ok(chainrule("evaluate", model, data, "--json", cwd=tmp_path)).stdout
    assert '"007"' in report


def test_labels_differing_by_spaces_are_two_classes_and_na_words_are_labels(tmp_path):
    data = tmp_path / "d.csv"
    labels = [" a", "a ", "NA", "none", "null", "?"]
    data.write_text("x,y\n" + "".join(f'{i},"{labels[i % len(labels)]}"\n' for i in range(60)))
    table = read_table(data, "y")
    classes, index = encode_labels(table.target)
    assert classes == sorted(labels)
    assert guess_task(table.target) == "classify"
    assert [classes[i] for i in index[: len(labels)]] == labels


def test_plain_numbers_are_numbers_and_text_numbers_are_not():
    assert encode_labels(np.array(["1", "1.0", "3"], dtype=object))[0] == [1, 3]
    assert encode_labels(np.array(["1", "01"], dtype=object))[0] == ["01", "1"]
    assert encode_labels(np.array(["+1", "2"], dtype=object))[0] == ["+1", "2"]
    assert guess_task(np.array([f"{i:03d}" for i in range(40)], dtype=object)) == "classify"
    assert guess_task(np.array([str(i) for i in range(40)], dtype=object)) == "regress"


def test_missing_values_are_what_the_user_says(tmp_path, capsys):
    from chainrule.cli import main

    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{i},{'cat' if i % 2 else 'dog'}\n" for i in range(20))
                    + "5,-\n6,NA\n")  # fmt: skip
    table = read_table(data, "y")  # NA is a label, '-' too
    assert list(table.target[-2:]) == ["-", "NA"]
    dropped = read_table(data, "y", drop_missing=True, na_values=["-", "NA"])
    assert dropped.dropped_lines == [22, 23] and len(dropped.features) == 20
    with pytest.raises(DataFileError, match=r"column 'y' has a missing value \('-'\) at line 22"):
        read_table(data, "y", na_values=["-"])
    features = tmp_path / "f.csv"
    features.write_text("a,y\n1,cat\n-999,dog\n3,cat\n")
    with pytest.raises(DataFileError, match=r"column 'a' has a missing value \('-999'\) at line 3"):
        read_table(features, "y", na_values=["-999"])
    code = main(["train", str(data), "--target", "y", "--na-values=-,NA", "--epochs", "1",
                 "--quiet"])  # fmt: skip
    assert code == 1
    assert "column 'y' has a missing value ('-') at line 22" in capsys.readouterr().err


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return X, y


def _write_csv(path, X, y):
    lines = ["a,b,c,y"] + [",".join([*map(repr, r.tolist()), t]) for r, t in zip(X, y, strict=True)]
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _table(X, y):
    return pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})


def test_csv_gzip_parquet_and_a_folder_of_parquet_read_the_same(tmp_path):
    X, y = _frame()
    plain = read_table(_write_csv(tmp_path / "d.csv", X, y), "y")
    packed = read_table(_write_csv(tmp_path / "d.csv.gz", X, y), "y")
    pq.write_table(_table(X, y), tmp_path / "d.parquet", row_group_size=64)
    single = read_table(tmp_path / "d.parquet", "y")
    folder = tmp_path / "parts"
    folder.mkdir()
    for k, start in enumerate(range(0, 300, 100)):
        pq.write_table(_table(X[start : start + 100], y[start : start + 100]),
                       folder / f"part-{k}.parquet")  # fmt: skip
    parts = read_table(folder, "y")
    for table in (plain, packed, single, parts):
        np.testing.assert_array_equal(table.features, X)
        assert list(table.target) == list(y)
    assert parts.unit == "row" and plain.unit == "line"


def test_parquet_target_keeps_its_type_and_numbers_name_the_row(tmp_path):
    X, _ = _frame(50)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "y": pa.array(np.arange(50) % 3, pa.int64())}), path)
    table = read_table(path, "y")
    assert table.target.dtype.kind == "i"
    assert encode_labels(table.target)[0] == [0, 1, 2]


def test_predict_writes_parquet_or_csv_by_the_name_with_kept_columns(tmp_path):
    X, y = _frame()
    ids = [f"id{i:04d}" for i in range(300)]
    model, _ = TabularModel.train(
        X, y, ["a", "b", "c"], "y", None, TrainOptions(epochs=2, verbose=0)
    )
    source = tmp_path / "in.parquet"
    pq.write_table(_table(X, y).append_column("id", pa.array(ids)), source, row_group_size=100)
    model.predict_csv(source, tmp_path / "out.parquet", proba=True, keep=["id"])
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.column_names == ["id", "prediction", "p_no", "p_yes"]
    assert written.column("id").to_pylist() == ids
    assert written.column("prediction").to_pylist() == list(model.predict(X))
    np.testing.assert_allclose(
        np.column_stack([written.column("p_no"), written.column("p_yes")]),
        model.predict_proba(X), rtol=1e-6,
    )  # fmt: skip
    model.predict_csv(source, tmp_path / "out.csv", keep=["id"])
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "id,prediction" and lines[1] == f"id0000,{model.predict(X[:1])[0]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.csv", "out.parquet"]


def test_cli_trains_evaluates_and_predicts_on_parquet(tmp_path):
    X, y = _frame()
    pq.write_table(_table(X, y), tmp_path / "d.parquet")
    model = tmp_path / "m.safetensors"
    ok(chainrule("train", "d.parquet", "--target", "y", "--epochs", "2", "--quiet", "-o", model,
                 cwd=tmp_path))  # fmt: skip
    assert (
        '"accuracy"' in ok(chainrule("evaluate", model, "d.parquet", "--json", cwd=tmp_path)).stdout
    )
    ok(chainrule("predict", model, "d.parquet", "-o", "p.parquet", cwd=tmp_path))
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 300


def test_a_bad_value_late_in_a_large_csv_names_its_line(tmp_path):
    rows = [f"{i},{i % 7}.5,{'cat' if i % 2 else 'dog'}" for i in range(300_000)]
    rows[250_123] = rows[250_123].replace(".5,", ".5x,")
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataFileError, match="column 'b' holds '6.5x' at line 250125"):
        read_table(path, "y")
    rows[250_123] = rows[250_123].replace(".5x,", ".5,")
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    chunks = [chunk for _, chunk in iter_chunks(path, "y", chunk_rows=100_000)]
    assert [len(c) for c in chunks][:3] == [100_000, 100_000, 100_000]
    assert chunks[0].lines[0] == 2 and chunks[-1].lines[-1] == 300_001


def test_quoted_line_ends_and_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,y\n1,"two\nlines"\n\n2,plain\n3,"x"\n  \n4,z\nfour,w\n')
    with pytest.raises(DataFileError, match="column 'a' holds 'four' at line 9"):
        read_table(path, "y")
    path.write_text('a,y\n1,"two\nlines"\n\n2,plain\n3,"x"\n  \n4,z\n')
    table = read_table(path, "y")
    assert list(table.lines) == [3, 5, 6, 8]
    assert list(table.target) == ["two\nlines", "plain", "x", "z"]


@pytest.mark.parametrize("at", [10, 30_000, 59_990])
def test_a_quoted_line_end_in_a_large_block_is_read_as_one_cell(tmp_path, at):
    """Arrow parses without newlines in values (faster): a quoted line end anywhere in
    a block of several MB, parsed in two threaded halves, still reads as one cell, and
    the lines after it keep their numbers."""
    rows = [f'{i}.25,{i % 7},"label {i % 3}"' for i in range(60_000)]
    rows[at] = f'{at}.25,1,"two\nlines"'
    path = tmp_path / "q.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 1 << 20
    table = read_table(path, "y")
    assert len(table.target) == 60_000 and table.target[at] == "two\nlines"
    # a record is numbered by the line it ends on (as in the small case above)
    assert table.lines[at - 1] == at + 1 and table.lines[at] == at + 3
    assert table.lines[at + 1] == at + 4
    assert table.features[-1, 0] == 59_999.25


def test_counting_a_byte_is_bytes_count():
    from chainrule.data.csv_blocks import count_byte

    rng = np.random.default_rng(0)
    for size in (0, 5, 1 << 16, (1 << 20) + 3):
        data = bytes(rng.choice(list(b'ab\n"'), size))
        for byte in (b"\n", b'"', b"z"):
            assert count_byte(data, byte) == data.count(byte)

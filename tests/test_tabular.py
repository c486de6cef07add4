"""Label encoding, task guessing, and chunked CSV reading."""

import numpy as np
import pytest

from chainrule.data.tables import CsvError, iter_chunks, read_table
from chainrule.tabular import encode_labels, guess_task


def test_labels_keep_their_natural_type():
    assert encode_labels(np.array(["b", "a", "b"]))[0] == ["a", "b"]
    classes, index = encode_labels(np.array(["1", "1.0", "3"]))
    assert classes == [1, 3] and list(index) == [0, 0, 1]
    assert encode_labels(np.array(["0.5", "1.5"]))[0] == [0.5, 1.5]
    assert encode_labels(np.array([2, 0, 2]))[0] == [0, 2]


def test_task_guess():
    assert guess_task(np.array(["cat", "dog"])) == "classify"
    assert guess_task(np.array(["0", "1", "1"])) == "classify"
    assert guess_task(np.linspace(0, 1, 50).astype(str)) == "regress"
    assert guess_task(np.arange(100)) == "regress"


def test_chunks_cover_the_file_with_file_line_numbers(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{2 * i},{i % 2}\n" for i in range(25)))
    chunks = [chunk for _, chunk in iter_chunks(path, "y", chunk_rows=10)]
    assert [len(c.features) for c in chunks] == [10, 10, 5]
    assert chunks[0].lines[0] == 2 and chunks[-1].lines[-1] == 26
    table = read_table(path, "y")
    np.testing.assert_array_equal(table.features[:, 1], 2 * np.arange(25))
    assert table.feature_names == ["a", "b"]


def test_ragged_rows_and_duplicate_columns(tmp_path):
    ragged = tmp_path / "r.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(CsvError, match="line 3 has 1 cells, the header has 2"):
        read_table(ragged, None)
    twice = tmp_path / "t.csv"
    twice.write_text("a,a\n1,2\n")
    with pytest.raises(CsvError, match="names a column twice: a"):
        read_table(twice, None)

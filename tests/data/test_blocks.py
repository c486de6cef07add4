"""Block readers: blocks read in any order give every row once, with its global index;
the one-pass statistics equal NumPy's on the whole data."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.data.blocks import BlockReader, open_block_reader, statistics
from chainrule.data.csv_blocks import _has_blank_line


def _data(n=5000, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1, 10, 0.1, 1] + [0, 1e6, -3, 5]
    y = np.array(["a", "b", "007", "NA"], dtype=object)[rng.integers(0, 4, n)]
    return X, y


@pytest.fixture(params=["csv", "parquet"])
def reader_and_data(request, tmp_path):
    X, y = _data()
    if request.param == "csv":
        path = tmp_path / "d.csv"
        body = "".join(
            ",".join([*map(repr, r.tolist()), t]) + "\n" for r, t in zip(X, y, strict=True)
        )
        path.write_text('f0,f1,f2,f3,"label"\n' + body)
        reader = open_block_reader(path, "label", block_bytes=20_000)
    else:
        path = tmp_path / "d.parquet"
        table = pa.table({**{f"f{j}": X[:, j] for j in range(4)}, "label": y.astype(str)})
        pq.write_table(table, path, row_group_size=700)
        reader = open_block_reader(path, "label")
    return reader, X, y


def test_blocks_in_any_order_cover_every_row_once(reader_and_data):
    reader, X, y = reader_and_data
    assert isinstance(reader, BlockReader)
    assert reader.feature_names == ["f0", "f1", "f2", "f3"] and reader.n_blocks > 3
    order = np.random.default_rng(0).permutation(reader.n_blocks)
    seen = np.zeros(len(X), dtype=int)
    for i in order:
        features, target, rows = reader.read_block(int(i))
        assert features.dtype == np.float64 and rows.dtype == np.int64
        np.testing.assert_array_equal(features, X[rows])
        assert list(target) == list(y[rows])
        seen[rows] += 1
    assert (seen == 1).all()


def test_statistics_are_numpys_in_one_pass(reader_and_data):
    reader, X, y = reader_and_data
    stats = statistics(reader)
    assert stats.rows == len(X)
    np.testing.assert_allclose(stats.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.std, X.std(axis=0), rtol=1e-9)
    labels, counts = np.unique(y, return_counts=True)
    assert stats.labels == dict(zip(labels.tolist(), counts.tolist(), strict=True))


def test_csv_blocks_count_rows_across_quotes_and_blank_lines(tmp_path):
    path = tmp_path / "q.csv"
    rows = [f'{i},"x\n{i}"' if i % 50 == 0 else f"{i},y{i}" for i in range(2000)]
    path.write_text("a,t\n" + "\n\n".join(rows) + "\n")
    reader = open_block_reader(path, "t", block_bytes=1000)
    got = {}
    for i in reversed(range(reader.n_blocks)):
        features, _, rows_read = reader.read_block(i)
        got.update(zip(rows_read.tolist(), features[:, 0].tolist(), strict=True))
    assert got == {i: float(i) for i in range(2000)}


@given(st.lists(st.sampled_from([b"a", b"1", b" ", b"\t", b"\r", b"\n", b","]), max_size=12))
def test_the_fast_blank_line_search_finds_what_the_line_by_line_pattern_finds(parts):
    body = b"".join(parts)
    slow = re.compile(rb"(?:^|\n)[ \t\r]*(?:\n|\Z)")
    assert _has_blank_line(body) == bool(slow.search(body))

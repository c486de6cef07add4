"""A data file's rows shared out among ranks: the shares, end to end in rank order, are
the file's rows as read_table reads them, and a rank parses only the blocks of its share."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chainrule.data import shares
from chainrule.data.shares import SharedFile, read_share, share
from chainrule.data.tables import Source, read_table


def write_csv(path, rows: int) -> None:
    rng = np.random.default_rng(5)
    lines = ["a,b,y"]
    for i in range(rows):
        cell = "" if i % 97 == 13 else f"{rng.normal():.6f}"  # some missing values
        lines.append(f"{cell},{i},{'yes' if i % 3 else 'no'}")
    path.write_text("\n".join(lines) + "\n")


def write_parquet(path, rows: int) -> None:
    table = pa.table({"a": np.arange(rows) * 0.5, "b": np.arange(rows), "y": np.arange(rows) % 4})
    pq.write_table(table, path, row_group_size=113)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_shares_end_to_end_are_the_file(tmp_path, monkeypatch, kind, size):
    monkeypatch.setattr(shares, "MIN_BLOCK_BYTES", 512)  # many blocks from a small file
    path = tmp_path / f"data.{kind}"
    (write_csv if kind == "csv" else write_parquet)(path, 1000)
    whole = read_table(path, "y", drop_missing=True)
    parts = [read_share(path, "y", rank, size, drop_missing=True) for rank in range(size)]
    assert {rows for _, rows in parts} == {1000}
    tables = [table for table, _ in parts]
    np.testing.assert_array_equal(np.concatenate([t.features for t in tables]), whole.features)
    np.testing.assert_array_equal(np.concatenate([t.target for t in tables]), whole.target)
    np.testing.assert_array_equal(np.concatenate([t.lines for t in tables]), whole.lines)
    assert [line for t in tables for line in t.dropped_lines] == whole.dropped_lines
    # no two shares differ by more than a row (before dropping)
    assert (
        max(len(t.features) + len(t.dropped_lines) for t in tables)
        - min(len(t.features) + len(t.dropped_lines) for t in tables)
        <= 1
    )


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_rank_parses_only_the_blocks_of_its_share(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(shares, "MIN_BLOCK_BYTES", 512)
    path = tmp_path / f"data.{kind}"
    (write_csv if kind == "csv" else write_parquet)(path, 1000)
    source = Source(path)
    opened = SharedFile(source, source.columns("y", None, allow_missing=True), ranks=4)
    assert len(opened.blocks) >= 8
    read = []
    original = SharedFile._read
    monkeypatch.setattr(SharedFile, "_read", lambda self, b: read.append(b) or original(self, b))
    start, stop = share(opened.rows, 1, 4)
    rows = np.concatenate([chunk.rows for chunk in opened.chunks(start, stop)])
    np.testing.assert_array_equal(rows, np.arange(start, stop))
    overlapping = [b for b in opened.blocks if b.first_row < stop and b.first_row + b.rows > start]
    assert read == overlapping
    assert len(read) < len(opened.blocks) / 2  # a quarter of the rows, give or take an edge

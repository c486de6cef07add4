"""Reading a table and training on it in memory copy the data no more than needed: the
peak of the arrays allocated (NumPy's allocations, traced by tracemalloc) beside the data
already held.  The feature matrix is read into its place (not stacked from blocks at the
end: twice the data), and training standardises it block by block straight into the
network's float32 (not through float64 temporaries of the whole matrix)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from chainrule.data.moments import column_mean_and_std, standardised
from chainrule.data.tables import TABLE_BLOCK_BYTES, read_table
from chainrule.tabular import TabularModel, TrainOptions

ROWS, FEATURES = 60_000, 20


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES)) * 10 + 3
    y = np.array(["red", "green", "blue"])[(X[:, 0] > 3).astype(int) + (X[:, 1] > 13)]
    path = tmp_path_factory.mktemp("memory") / "data.csv"
    columns = {f"f{j}": X[:, j] for j in range(FEATURES)}
    pacsv.write_csv(pa.table({**columns, "y": y}), path)
    return path


def traced_peak(function):
    """(result, the peak of traced memory above what was held before the call)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = function()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_table_is_read_without_stacking_copies(table_file, tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("a,y\n1,x\n")
    read_table(small, "y")  # the modules Arrow imports on first use are not the data
    table, peak = traced_peak(lambda: read_table(table_file, "y"))
    data = table.features.nbytes
    assert data == ROWS * FEATURES * 8
    # the matrix, the labels (a pointer and a small str each: 0.4x here), the lines, and
    # a few blocks of text at a time; stacking the blocks at the end held the data twice
    assert peak < 1.6 * data + 4 * TABLE_BLOCK_BYTES, f"peak {peak / data:.2f}x the data"


def test_training_in_memory_copies_the_data_once_into_float32(table_file):
    table = read_table(table_file, "y")
    options = TrainOptions(epochs=1, verbose=0, hidden=(8,), batch_size=256)

    def train():
        names = table.feature_names
        return TabularModel.train(table.features, table.target, names, "y", None, options)

    _, peak = traced_peak(train)
    float32 = ROWS * FEATURES * 4
    # the float32 matrix, the labels' codes, the validation split's row indices and a
    # block's temporaries: 1.44x; copying out the training and validation rows, 2.3x
    assert peak < 1.6 * float32, f"peak {peak / float32:.2f}x the float32 data"


@pytest.mark.parametrize("rows", [1, 3, 1000, 40_001])
@pytest.mark.parametrize("block_rows", [1, 7, 4096])
def test_block_by_block_statistics_are_numpys_bit_for_bit(rows, block_rows):
    rng = np.random.default_rng(rows + block_rows)
    X = rng.normal(size=(rows, 6)) * np.exp(rng.normal(size=6) * 4) + rng.normal(size=6) * 1e3
    mean, std = column_mean_and_std(X, block_rows)
    assert mean.tobytes() == X.mean(axis=0).tobytes()
    assert std.tobytes() == X.std(axis=0).tobytes()
    scale = np.where(std > 0, std, 1.0)
    expected = ((X - mean) / scale).astype(np.float32)
    assert standardised(X, mean, scale, np.float32, block_rows).tobytes() == expected.tobytes()
    assert (
        standardised(X, None, None, np.float32, block_rows).tobytes()
        == X.astype(np.float32).tobytes()
    )


@pytest.mark.parametrize("rows", [70_000, 300_000])
def test_one_column_has_numpys_statistics_bit_for_bit(rows):
    """NumPy sums one column pairwise (it is contiguous along the axis summed), not row
    after row: blocks of 65,536 rows gave other bits from there on."""
    X = np.random.default_rng(rows).normal(size=(rows, 1)) * 1e3 + 7
    mean, std = column_mean_and_std(X)
    assert mean.tobytes() == X.mean(axis=0).tobytes()
    assert std.tobytes() == X.std(axis=0).tobytes()


def test_text_labels_are_shared_str_objects(table_file, tmp_path):
    """A str object per row (~55 bytes) would outweigh the row's float32 features (80)."""
    table = read_table(table_file, "y")
    parquet = tmp_path / "data.parquet"
    pq.write_table(pacsv.read_csv(table_file), parquet, row_group_size=10_000)
    for target in (table.target, read_table(parquet, "y").target):
        assert sorted(set(target)) == ["blue", "green", "red"]
        # at most one object per label and block read (CSV: of 2 MB; Parquet: row group)
        blocks = table_file.stat().st_size // TABLE_BLOCK_BYTES + 2
        assert len({id(label) for label in target}) <= 3 * blocks < ROWS / 100

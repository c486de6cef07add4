"""StreamingSource: blocks through a bounded shuffle buffer, from the seed.

What equals what: one block and a buffer at least the data's size give the weights of the
arrays in memory, bit for bit (the same permutation from the same seed); more blocks give
another order, the same on every run with the seed, each training row once per epoch."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import load_digits

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.checks import DataError
from chainrule.data.rows import validation_mask
from chainrule.data.streaming import StreamingSource
from chainrule.training.progress import ProgressDisplay

from .blocks import ArrayBlocks, ParquetBlocks, write_parquet


def digits(n=600):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def weights_after(X, y, epochs=3, **kwargs):
    model = nn.MLP([64, 16, 10], "relu", "softmax", seed=7)
    history = cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=epochs, batch_size=32, verbose=0, seed=11, **kwargs,
    )  # fmt: skip
    return [p.data.copy() for p in model.parameters()], history


def same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_one_block_and_a_buffer_of_all_rows_train_as_the_arrays_do():
    X, y = digits()
    expected, _ = weights_after(X, y)
    assert same(weights_after(ArrayBlocks(X, y, len(X)), None)[0], expected)
    source = StreamingSource(ArrayBlocks(X, y, len(X)), 32, buffer_rows=len(X), seed=11)
    assert same(weights_after(source, None)[0], expected)
    # a smaller buffer mixes in steps: another order, other weights
    smaller = StreamingSource(ArrayBlocks(X, y, len(X)), 32, buffer_rows=100, seed=11)
    assert not same(weights_after(smaller, None)[0], expected)


def test_blocks_train_the_same_weights_from_the_same_seed():
    X, y = digits()

    def run(seed):
        source = StreamingSource(ArrayBlocks(X, y, 64), 32, buffer_rows=128, seed=seed)
        return weights_after(source, None)[0]

    assert same(run(5), run(5))
    assert not same(run(5), run(6))


def rows_of(batches):
    """The row numbers of batches whose feature 0 is the row number."""
    return np.concatenate([xb[:, 0] for xb, _ in batches]).astype(np.int64)


@pytest.mark.parametrize("buffer_rows", [1, 50, 256, 10_000])
def test_every_training_row_is_in_one_batch_per_epoch_and_validation_rows_in_none(buffer_rows):
    n = 1000
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=(n, 3))])
    reader = ArrayBlocks(X, np.arange(n) % 3, 97)
    source = StreamingSource(reader, 16, buffer_rows, seed=2, validation_split=0.2, split_seed=9)
    held = validation_mask(np.arange(n), 0.2, 9)
    orders = []
    for _ in range(3):
        batches = list(source)
        rows = rows_of(batches)
        np.testing.assert_array_equal(np.sort(rows), np.flatnonzero(~held))
        assert source.expected_batches() == len(batches)
        orders.append(rows)
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(
        np.sort(rows_of(source.validation_batches(64))), np.flatnonzero(held)
    )


def test_shuffling_mixes_rows_across_blocks_and_visits_blocks_in_a_new_order():
    n = 2000
    X = np.arange(n, dtype=np.float64).reshape(-1, 1)
    reader = ArrayBlocks(X, np.zeros(n), 100)
    source = StreamingSource(reader, 50, buffer_rows=400, seed=1)
    first = [rows_of([b]) // 100 for b in source]
    assert sorted(reader.reads) == list(range(20)) and reader.reads != list(range(20))
    # a batch of 50 draws from several blocks (a buffer of 400 rows spans 4 and more)
    assert np.mean([len(np.unique(blocks)) for blocks in first]) > 3
    reader.reads.clear()
    list(source)
    second_order = list(reader.reads)
    reader.reads.clear()
    list(source)
    assert second_order != reader.reads


def test_unshuffled_streaming_keeps_the_file_order():
    n = 300
    X = np.arange(n, dtype=np.float64).reshape(-1, 1)
    source = StreamingSource(ArrayBlocks(X, np.zeros(n), 70), 32, shuffle=False)
    batches = list(source)
    np.testing.assert_array_equal(rows_of(batches), np.arange(n))
    assert [len(b[0]) for b in batches][:-1] == [32] * (len(batches) - 1)


def test_validation_rows_kept_from_the_first_epoch_or_read_again_are_the_same():
    X, y = digits()
    kept = StreamingSource(ArrayBlocks(X, y, 50), 32, buffer_rows=10_000, validation_split=0.25)
    reread = StreamingSource(ArrayBlocks(X, y, 50), 32, buffer_rows=20, validation_split=0.25)
    for source in (kept, reread):
        list(source)
    reads = len(reread.reader.reads)
    got = [np.concatenate([xb for xb, _ in s.validation_batches(1000)]) for s in (kept, reread)]
    np.testing.assert_array_equal(got[0], got[1])
    assert len(kept.reader.reads) == 12 and len(reread.reader.reads) == reads + 12
    _, history = weights_after(kept, None, metrics=["accuracy"])
    assert np.isfinite(history["val_loss"]).all() and len(history["val_accuracy"]) == 3


def test_a_transform_standardises_and_encodes_each_block():
    X, y = digits()
    labels = np.array([f"digit {d}" for d in y], dtype=object)
    classes = sorted(set(labels))
    mean, std = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1)

    def transform(features, target):
        return (features - mean) / std, np.searchsorted(classes, target)

    source = StreamingSource(ArrayBlocks(X, labels, len(X)), 32, seed=11, transform=transform)
    expected, _ = weights_after((X - mean) / std, np.searchsorted(classes, labels))
    assert same(weights_after(source, None)[0], expected)
    with pytest.raises(
        DataError, match=r"block \d+: the target holds object values; pass a transform"
    ):
        list(StreamingSource(ArrayBlocks(X, labels, 100)))


def test_a_missing_value_is_named_by_its_global_row():
    X, y = digits(300)
    X[257, 3] = np.nan
    with pytest.raises(DataError, match=r"block 2: row 257, column 3 holds nan"):
        list(StreamingSource(ArrayBlocks(X, y, 100), shuffle=False))


def test_parquet_row_groups_stream_as_the_same_blocks_in_memory(tmp_path):
    X, y = digits()
    write_parquet(tmp_path / "digits.parquet", X, y, row_group_rows=64)
    parquet = ParquetBlocks(tmp_path / "digits.parquet")
    assert parquet.n_blocks == 10 and parquet.feature_names[0] == "f0"
    from_file = StreamingSource(parquet, 32, buffer_rows=200, seed=4, validation_split=0.1)
    in_memory = StreamingSource(
        ArrayBlocks(X, y, 64), 32, buffer_rows=200, seed=4, validation_split=0.1
    )
    a, history = weights_after(from_file, None)
    b, _ = weights_after(in_memory, None)
    assert same(a, b)
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_the_progress_estimate_follows_the_rows_read():
    X, y = digits()
    source = StreamingSource(ArrayBlocks(X, y, 100), 10, buffer_rows=50)
    assert source.expected_batches() is None
    batches = iter(source)
    next(batches)
    assert source.expected_batches() == 60  # 100 rows per block read, 6 blocks
    rest = sum(1 for _ in batches)
    assert source.expected_batches() == rest + 1
    display = ProgressDisplay(1, 1, source.expected_batches)
    assert display.batches is None and display.estimate() == 60


class GeneratedBlocks:
    """Blocks made on demand from their index (the data never sits in memory whole)."""

    def __init__(self, n_blocks, block_rows=8192, d=20):
        self.n_blocks, self.block_rows, self.d = n_blocks, block_rows, d
        self.feature_names = [f"f{j}" for j in range(d)]

    def read_block(self, i):
        rng = np.random.default_rng(i)
        rows = np.arange(i * self.block_rows, (i + 1) * self.block_rows, dtype=np.int64)
        return rng.normal(size=(self.block_rows, self.d)), rng.integers(0, 2, self.block_rows), rows


def peak_bytes_of_an_epoch(n_blocks, validation_split=0.0):
    source = StreamingSource(GeneratedBlocks(n_blocks), 256, buffer_rows=16384, seed=0,
                             validation_split=validation_split)  # fmt: skip
    tracemalloc.start()
    try:
        rows = sum(len(xb) for xb, _ in source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, rows


def test_memory_is_bounded_by_the_buffer_and_a_block_not_by_the_data():
    small, rows_small = peak_bytes_of_an_epoch(8)
    large, rows_large = peak_bytes_of_an_epoch(64)  # 524,288 rows, 84 MB as float64
    assert rows_large > 7 * rows_small
    # the same bound whatever the blocks' number; the next block is read in a thread
    # while the pool is batched, so whether the two coincide at the peak varies by up
    # to a block read (float64) and its float32 copy; the data grow by 73 MB
    block = 8192 * 20 * (8 + 4)
    assert large < small + 2 * block
    # buffer (16384) + block (8192) float32 rows, the block as read (float64) and the
    # next, the copies a concatenation and a permutation make, and validation rows kept
    # up to a buffer's worth: under 12 MB, never the data's 84 MB
    held_out, _ = peak_bytes_of_an_epoch(64, validation_split=0.1)
    assert large < 12e6 and held_out < 12e6


class RecordedBlocks:
    """Blocks of an array whose reads are recorded with their thread; block ``fail`` is
    a DataError."""

    def __init__(self, n_blocks: int, fail: int | None = None) -> None:
        self.n_blocks, self.fail = n_blocks, fail
        self.reads: list[tuple[int, str]] = []

    def __call__(self, i: int) -> int:
        import threading

        self.reads.append((i, threading.current_thread().name))
        if i == self.fail:
            raise DataError(f"block {i} is bad")
        return i * 10


def test_read_ahead_reads_the_next_block_in_another_thread_in_order():
    from chainrule.data.streaming import read_ahead

    blocks = RecordedBlocks(6)
    got = list(read_ahead(blocks, [3, 0, 5, 1, 4, 2]))
    assert got == [30, 0, 50, 10, 40, 20]
    assert [i for i, _ in blocks.reads] == [3, 0, 5, 1, 4, 2]
    assert all(name.startswith("chainrule-read-ahead") for _, name in blocks.reads)


def test_read_ahead_raises_a_blocks_error_when_that_block_is_reached():
    from chainrule.data.streaming import read_ahead

    blocks = RecordedBlocks(4, fail=2)
    got = []
    with pytest.raises(DataError, match="block 2 is bad"):
        for value in read_ahead(blocks, range(4)):
            got.append(value)
    assert got == [0, 10]  # the blocks before it were given


def test_a_read_ahead_stopped_early_leaves_no_thread_behind():
    import threading

    from chainrule.data.streaming import read_ahead

    blocks = RecordedBlocks(100)
    reading = read_ahead(blocks, range(100))
    assert next(reading) == 0
    reading.close()  # the caller stopped (early stopping, an error, Ctrl-C)
    assert not [t for t in threading.enumerate() if t.name.startswith("chainrule-read-ahead")]
    assert len(blocks.reads) <= 2


def test_read_ahead_reads_in_the_callers_context():
    """NumPy's error state and Dask's current client live in context variables: a
    background read sees the caller's."""
    import contextvars

    from chainrule.data.streaming import read_ahead

    current = contextvars.ContextVar("current", default="none")
    current.set("caller's")
    assert list(read_ahead(lambda i: (i, current.get()), range(3))) == [
        (0, "caller's"), (1, "caller's"), (2, "caller's")
    ]  # fmt: skip


class ThreadBoundBlocks(ArrayBlocks):
    """A reader that works only in the thread that made it (as an sqlite connection)."""

    def __init__(self, *args) -> None:
        import threading

        super().__init__(*args)
        self.owner = threading.get_ident()

    def read_block(self, i):
        import threading

        if threading.get_ident() != self.owner:
            raise RuntimeError("read from another thread")
        return super().read_block(i)


def test_a_reader_that_does_not_allow_background_reads_is_read_in_the_callers_thread():
    X, y = digits()
    weights, _ = weights_after(StreamingSource(ThreadBoundBlocks(X, y, 100), 32, seed=0), None)
    assert all(np.isfinite(w).all() for w in weights)

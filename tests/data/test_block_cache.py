"""The block cache of streamed training: each block read from the file once, then from a
temporary file that nothing can leave behind, the same numbers either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import chainrule.tabular_files as tabular_files
from chainrule.data.block_cache import BlockCache, cache_bytes
from chainrule.tabular import TabularModel, TrainOptions

from .blocks import ArrayBlocks

ROOT = Path(__file__).resolve().parents[2]


def scaled(features, target):
    return (features - 1.5) / 3.0, (target * 2).astype(np.int64)


def test_each_block_is_read_once_then_from_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1000, 6)), rng.integers(0, 3, 1000)
    blocks = ArrayBlocks(X, y, 128)
    with BlockCache(blocks, scaled, np.float32, tmp_path) as cache:
        assert os.listdir(tmp_path) == []  # the file has no name to leave behind
        for epoch in range(3):
            for i in np.random.default_rng(epoch).permutation(cache.n_blocks):
                features, target, rows = cache.read_block(int(i))
                start = int(i) * 128
                expected_X, expected_y = scaled(X[start : start + 128], y[start : start + 128])
                assert features.dtype == np.float32
                assert features.tobytes() == expected_X.astype(np.float32).tobytes()
                assert np.array_equal(target, expected_y)
                assert np.array_equal(rows, np.arange(start, start + len(rows)))
        assert sorted(blocks.reads) == list(range(cache.n_blocks))  # once each
        assert cache.size == cache_bytes(1000, 6)
    assert cache.file.closed


def write_csv(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(rows)
    X = rng.normal(size=(rows, 8)) * 5 + 2
    y = np.where(X[:, 0] - X[:, 3] > 0, "up", "down")
    pacsv.write_csv(pa.table({**{f"f{j}": X[:, j] for j in range(8)}, "y": y}), path)
    return path


OPTIONS = TrainOptions(hidden=(8,), epochs=3, batch_size=64, verbose=0, seed=2)


def test_a_cached_stream_trains_the_weights_of_an_uncached_one(tmp_path):
    path = write_csv(tmp_path / "d.csv", 6000)  # several blocks of 64 kB
    lines = []
    kept, _ = TabularModel.train_stream(path, "y", None, OPTIONS, block_bytes=1 << 16,
                                        buffer_rows=1000, notify=lines.append)  # fmt: skip
    again, _ = TabularModel.train_stream(path, "y", None, OPTIONS, block_bytes=1 << 16,
                                         buffer_rows=1000, cache=False)  # fmt: skip
    assert any("keeps the parsed rows" in line for line in lines)
    assert kept.summary["streamed"]["blocks"] > 4
    for p, q in zip(kept.network.parameters(), again.network.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)


def test_without_room_on_the_disk_every_epoch_reads_the_file(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "d.csv", 2000)
    monkeypatch.setattr(tabular_files, "free_bytes", lambda where: 1 << 20)
    opened = []
    monkeypatch.setattr(tabular_files, "BlockCache", lambda *a: opened.append(a))
    lines = []
    TabularModel.train_stream(path, "y", None, OPTIONS, notify=lines.append)
    assert not opened
    assert any(line.startswith("not caching the parsed rows") for line in lines)


@pytest.mark.parametrize("extra", [[], ["--no-cache"]])
def test_the_cache_folder_is_left_empty(tmp_path, extra):
    write_csv(tmp_path / "d.csv", 3000)
    folder = tmp_path / "cache"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "d.csv", "--target", "y", "--stream",
         "--epochs", "2", "--cache-dir", str(folder), *extra],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ("keeps the parsed rows in " + str(folder) in result.stdout) == (not extra)
    assert list(folder.iterdir()) == []


def test_a_compressed_file_is_cached_in_one_pass_and_trains_as_the_plain_one(tmp_path):
    import gzip

    plain = write_csv(tmp_path / "d.csv", 6000)
    packed = tmp_path / "d.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    options = TrainOptions(hidden=(8,), epochs=1, batch_size=64, verbose=0, seed=2)
    lines: list[str] = []
    kwargs = {"block_bytes": 1 << 16, "buffer_rows": 1000}
    from_gzip, _ = TabularModel.train_stream(packed, "y", None, options, notify=lines.append,
                                             **kwargs)  # fmt: skip
    from_plain, _ = TabularModel.train_stream(plain, "y", None, options, **kwargs)
    assert any(line.startswith("reading the compressed file once") for line in lines)
    for p, q in zip(from_gzip.network.parameters(), from_plain.network.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)


def test_blocks_of_no_rows_are_cached_too(tmp_path):
    """An empty Parquet row group (Dask and Spark write them) or a CSV block whose rows
    were all dropped for missing values: memoryview refuses to cast an empty array."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": (X[:, 0] > 0) * 1})
    folder = tmp_path / "parts"
    folder.mkdir()
    with pq.ParquetWriter(folder / "part-0.parquet", table.schema) as writer:
        for part in (table.slice(0, 0), table.slice(0, 60), table.slice(0, 0), table.slice(60)):
            writer.write_table(part)
    model, history = TabularModel.train_stream(folder, "y", None, OPTIONS)
    assert len(history.epochs) == 3 and model.summary["samples"] == 200
    empty = ArrayBlocks(np.empty((0, 2)), np.empty(0, dtype=np.int64), 10)
    empty.starts, empty.n_blocks = [0, 0], 1
    with BlockCache(empty, scaled, np.float32, tmp_path) as cache:
        for _ in range(2):
            features, target, rows = cache.read_block(0)
            assert features.shape == (0, 2) and len(target) == len(rows) == 0


def test_a_compressed_file_is_never_reached_block_by_block(tmp_path, monkeypatch):
    """A .csv.gz block is reached by decompressing all before it: every pass over the
    file (statistics, the rows, the cache's fill) goes through it once, in order."""
    import gzip

    from chainrule.data.blocks import CsvBlockReader

    plain = write_csv(tmp_path / "d.csv", 4000)
    packed = tmp_path / "d.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))

    def refused(self, i):
        raise AssertionError(f"block {i} read on its own")

    monkeypatch.setattr(CsvBlockReader, "read_chunk", refused)
    options = TrainOptions(hidden=(4,), epochs=2, batch_size=64, verbose=0, seed=1)
    _, _, report = TabularModel.train_file(packed, "y", None, options, test_split=0.2,
                                               block_bytes=1 << 14)  # fmt: skip
    assert report is not None and report.samples == 800
    TabularModel.train_stream(packed, "y", None, options, block_bytes=1 << 14)


def test_a_cache_folder_in_memory_is_not_the_default(tmp_path):
    from chainrule.data.block_cache import in_memory

    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/vdb /tmp/big\\040disk xfs rw 0 0\n"
    )
    assert in_memory("/tmp/x", str(mounts))
    assert not in_memory("/tmp/big disk/x", str(mounts))  # the longest mount point wins
    assert not in_memory("/home", str(mounts))
    assert not in_memory("/tmpfoo", str(mounts))
    assert not in_memory("/tmp/x", str(tmp_path / "absent"))  # unknown: not in memory


def test_cache_options_without_streaming_say_so(tmp_path):
    write_csv(tmp_path / "d.csv", 300)
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "d.csv", "--target", "y", "--epochs",
         "1", "--no-cache"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--cache-dir and --no-cache go with --stream" in result.stdout

"""Block readers for the tests: one over arrays in memory, one over a Parquet file's row
groups (pyarrow.parquet, one row group per block, nothing pre-buffered)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ArrayBlocks:
    """The BlockReader interface over (X, y) in memory, in blocks of ``block_rows``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, block_rows: int) -> None:
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.starts = [*range(0, len(self.X), block_rows), len(self.X)]
        self.n_blocks = len(self.starts) - 1
        self.feature_names = [f"f{j}" for j in range(self.X.shape[1])]
        self.reads: list[int] = []

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.reads.append(i)
        start, stop = self.starts[i], self.starts[i + 1]
        rows = np.arange(start, stop, dtype=np.int64)
        return self.X[start:stop].copy(), self.y[start:stop].copy(), rows


def write_parquet(path: Path, X: np.ndarray, y: np.ndarray, row_group_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    columns["target"] = y
    pq.write_table(pa.table(columns), path, row_group_size=row_group_rows)


class ParquetBlocks:
    """The BlockReader interface over a Parquet file: block i is row group i."""

    def __init__(self, path: Path, target: str = "target") -> None:
        import pyarrow.parquet as pq

        self.file = pq.ParquetFile(path, pre_buffer=False)
        metadata = self.file.metadata
        self.n_blocks = metadata.num_row_groups
        self.offsets = np.cumsum(
            [0] + [metadata.row_group(i).num_rows for i in range(self.n_blocks)]
        )
        self.target = target
        self.feature_names = [n for n in self.file.schema_arrow.names if n != target]

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        table = self.file.read_row_group(i)
        features = np.empty((table.num_rows, len(self.feature_names)), dtype=np.float64)
        for j, name in enumerate(self.feature_names):
            features[:, j] = table.column(name).to_numpy()
        target = table.column(self.target).to_numpy()
        rows = np.arange(self.offsets[i], self.offsets[i + 1], dtype=np.int64)
        return features, target, rows

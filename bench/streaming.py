"""Streamed training against in-memory training on the same Parquet file, and the peak
memory of streaming as the file grows.

For each size (rows x 20 float64 features, a binary target, row groups of 65,536 rows) a
file is written once, then each case runs in its own process (one BLAS thread):

  memory  the whole file read into arrays (pyarrow), then one epoch of cr.fit on them
  stream  one epoch of cr.fit on a StreamingSource over the file's row groups
          (pyarrow.parquet.ParquetFile(pre_buffer=False).read_row_group: one group at a
          time; a 65,536-row shuffle buffer; blocks in a shuffled order)

Both train a 20-64-2 ReLU network with Adam, batches of 256, on the same rows, and report
training rows per second (reading included for the stream, excluded for memory: the
in-memory loader's time is before fit) and the process's peak resident memory (ru_maxrss).

At the size given by --memory-rows the two modes take turns --rounds times (medians
compared); the other sizes run the stream once, for its peak memory.

``--cli`` measures the command line instead, as a user runs it:

  cli-memory  ``chainrule train data.parquet --target target --epochs 1`` (reads the file
              into arrays, then trains)
  cli-stream  the same with ``--stream`` (statistics pass, then one streamed epoch)

with the defaults' 20% validation split, batches of 256 and a 64-unit hidden layer; rows
per second are the file's rows over the whole command's wall time (reading, statistics,
validation included), peak memory the command's (``os.wait4``).

``--format csv`` runs the command line on the same rows written as CSV, and ``--epochs N``
trains N epochs per run (rows per second are then rows x N over the wall time).

Run: python bench/streaming.py [--rows 1000000 2000000 4000000 8000000] [--rounds 5]
     [--cli [--format csv] [--epochs N]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = 20
GROUP_ROWS = 1 << 16


def write_file(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    w = rng.normal(size=FEATURES)
    names = [f"f{j}" for j in range(FEATURES)]
    schema = pa.schema([*(pa.field(n, pa.float64()) for n in names), ("target", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, GROUP_ROWS):
            n = min(GROUP_ROWS, rows - start)
            X = rng.normal(size=(n, FEATURES))
            y = (X @ w + rng.normal(size=n) > 0).astype(np.int64)
            columns = {name: X[:, j] for j, name in enumerate(names)}
            writer.write_table(pa.table({**columns, "target": y}, schema=schema))


class ParquetRowGroups:
    """A block reader over a Parquet file: block i is row group i, read alone."""

    def __init__(self, path: Path, target: str = "target") -> None:
        import numpy as np
        import pyarrow.parquet as pq

        self.file = pq.ParquetFile(path, pre_buffer=False)
        meta = self.file.metadata
        self.n_blocks = meta.num_row_groups
        sizes = [meta.row_group(i).num_rows for i in range(self.n_blocks)]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.target = target
        self.feature_names = [n for n in self.file.schema_arrow.names if n != target]

    def read_block(self, i: int):
        import numpy as np

        table = self.file.read_row_group(i)
        features = np.empty((table.num_rows, len(self.feature_names)))
        for j, name in enumerate(self.feature_names):
            features[:, j] = table.column(name).to_numpy()
        target = table.column(self.target).to_numpy()
        return features, target, np.arange(self.offsets[i], self.offsets[i + 1])


def child(mode: str, path: Path) -> dict:
    """One case, in this process: rows per second of training and peak RSS."""
    import numpy as np
    import pyarrow.parquet as pq

    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.data.streaming import StreamingSource

    model = nn.MLP([FEATURES, 64, 2], "relu", "softmax", seed=0)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    if mode == "memory":
        table = pq.read_table(path)
        names = [n for n in table.column_names if n != "target"]
        X = np.column_stack([table.column(n).to_numpy() for n in names])
        y = table.column("target").to_numpy()
        del table
        rows, data = len(X), (X, y)
    else:
        reader = ParquetRowGroups(path)
        rows = int(reader.offsets[-1])
        data = (StreamingSource(reader, 256, buffer_rows=GROUP_ROWS, seed=0), None)
    started = time.perf_counter()
    history = cr.fit(
        model, "cross_entropy", opt, *data, epochs=1, batch_size=256, verbose=0, seed=0
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows_per_s": rows / seconds, "peak_mb": peak_mb, "loss": history["loss"][-1]}


def run_child(mode: str, path: Path) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True, text=True, env=env, timeout=3600, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def as_csv(path: Path) -> Path:
    """The Parquet file's rows written as CSV beside it, row group by row group."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = path.with_suffix(".csv")
    source = pq.ParquetFile(path)
    with pacsv.CSVWriter(out, source.schema_arrow) as writer:
        for i in range(source.num_row_groups):
            writer.write_table(source.read_row_group(i))
    return out


def run_cli(mode: str, path: Path, rows: int, epochs: int) -> dict:
    """``chainrule train`` on the file, in memory or --stream: rows per second of the
    whole command (rows x epochs over its wall time) and its peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
    command = [sys.executable, "-m", "chainrule", "train", str(path), "--target", "target",
               "--epochs", str(epochs), "--batch-size", "256", "--quiet"]  # fmt: skip
    if mode == "cli-stream":
        command.append("--stream")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out = process.stdout.read().decode() if process.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(process.stderr.read().decode() if process.stderr else "failed")
    loss = next((line.split()[3] for line in out.splitlines() if "│ loss" in line), "nan")
    return {"rows_per_s": rows * epochs / seconds, "peak_mb": usage.ru_maxrss / 1024,
            "loss": float(loss)}  # fmt: skip


def median_run(runs: list[dict]) -> dict:
    """The run of median rows per second (its peak memory and loss with it)."""
    return sorted(runs, key=lambda r: r["rows_per_s"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1_000_000, 2_000_000, 4_000_000, 8_000_000]
    )
    parser.add_argument("--memory-rows", type=int, default=1_000_000,
                        help="the size at which in-memory training is timed too")  # fmt: skip
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="turns at the timed size")
    parser.add_argument(
        "--cli", action="store_true", help="time chainrule train (in memory and --stream)"
    )
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="the file's format (--cli only)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (--cli only)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"{'rows':>10} {'mode':>10} {'rows/s':>10} {'peak MB':>8} {'loss':>7}")
        results = {}
        for rows in args.rows:
            path = Path(tmp) / f"data_{rows}.parquet"
            write_file(path, rows)
            if args.cli and args.format == "csv":
                parquet, path = path, as_csv(path)
                parquet.unlink()
            timed = rows == args.memory_rows
            memory, stream = ("cli-memory", "cli-stream") if args.cli else ("memory", "stream")
            modes = [memory, stream] if timed else [stream]
            # on a shared machine one run each drifts by tens of percent: at the timed
            # size the two take turns, --rounds times, and the medians are compared
            runs = {mode: [] for mode in modes}
            for _ in range(args.rounds if timed else 1):
                for mode in modes:
                    if args.cli:
                        runs[mode].append(run_cli(mode, path, rows, args.epochs))
                    else:
                        runs[mode].append(run_child(mode, path))
            for mode in modes:
                r = results[rows, mode] = median_run(runs[mode])
                line = f"{rows:>10,} {mode:>10} {r['rows_per_s']:>10,.0f} {r['peak_mb']:>8.0f}"
                print(f"{line} {r['loss']:>7.4f}")
            path.unlink()
        memory = results.get((args.memory_rows, modes_of(args)[0]))
        if memory:
            streamed = results[args.memory_rows, modes_of(args)[1]]
            ratio = streamed["rows_per_s"] / memory["rows_per_s"]
            print(f"streamed / in-memory rows per second at {args.memory_rows:,} rows: {ratio:.0%}")
        peaks = [results[r, modes_of(args)[1]]["peak_mb"] for r in args.rows]
        spread = max(peaks) / min(peaks) - 1
        print(
            f"streamed peak memory from {args.rows[0]:,} to {args.rows[-1]:,} rows: "
            f"{min(peaks):.0f}-{max(peaks):.0f} MB ({spread:+.0%})"
        )


def modes_of(args: argparse.Namespace) -> tuple[str, str]:
    return ("cli-memory", "cli-stream") if args.cli else ("memory", "stream")


if __name__ == "__main__":
    main()

"""Data speed: ``chainrule predict`` on CSV and Parquet beside the reader before Arrow and a
hand-written floor, and the memory of in-memory ``train``, side by side in one run.

Peers, each a fresh process (wall time and peak resident memory from ``os.wait4``):
  predict       ``python -m chainrule predict model data.csv -o out.csv`` (this tree)
  predict-old   the same command on the code before Arrow (``git archive BASE``), where it
                finishes in time (by default up to 1M rows: it reads ~28k rows/s)
  floor         pyarrow.csv.read_csv, the model's matrix products in NumPy, the labels by
                argmax, pyarrow.csv.write_csv: no checks, the whole file in memory
  predict-pq    ``chainrule predict`` on the same rows as Parquet (CSV out)
  train         ``chainrule train`` (1 epoch) in memory, this tree and the code before
                Arrow, peak memory beside the float32 data and three baselines: python
                importing chainrule's CLI; python holding what train loads before it
                reads a row (chainrule.tabular, pyarrow's CSV reader, and pandas, which
                pyarrow imports on its first conversion); and the same train command on
                the file's first 1,000 rows (everything train takes whatever the data)

The data: 20 standard-normal features, 3 classes; the model: 20-64-3, trained on 20k rows.
Files go to a temporary folder (8M rows of CSV are ~3.3 GB: the script checks the free
space and drops the sizes that do not fit).  About 5-8 minutes on a 2-core machine.

Run: python bench/data_speed.py [--rows 250k,1M,2M,8M] [--old-up-to 1M] [--base REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 20

FLOOR = """
import sys, numpy as np, pyarrow as pa, pyarrow.csv as pacsv
from chainrule.tabular import TabularModel
model = TabularModel.load(sys.argv[1])
table = pacsv.read_csv(sys.argv[2])
X = np.column_stack([table.column(n).to_numpy() for n in model.feature_names])
X = (X - model.input_mean) / model.input_scale
h = X.astype(np.float32)
layers = model.network.linear_layers
for layer, act in zip(layers, model.network.activations + [None]):
    h = h @ layer.U.data + layer.b.data
    if act == "relu":
        h = np.maximum(h, 0)
labels = pa.array(model.classes).take(pa.array(h.argmax(axis=1)))
pacsv.write_csv(pa.table({"prediction": labels}), sys.argv[3])
"""

BASELINE = "import chainrule.cli"
LOADED = (
    "import chainrule.cli, chainrule.tabular, chainrule.data.tables, pyarrow as pa, numpy;"
    " pa.array(numpy.zeros(1))"
)


def parse_rows(text: str) -> int:
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def run(command: list[str], pythonpath: Path, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a child process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {error[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def write_data(folder: Path, rows: int) -> tuple[Path, Path]:
    """A CSV and a Parquet file of ``rows`` rows, written by a child process: a child's
    peak memory (``ru_maxrss``) starts at its parent's, so the parent stays small."""
    subprocess.run([sys.executable, __file__, "--write", str(folder), str(rows)], check=True)
    return folder / f"data{rows}.csv", folder / f"data{rows}.parquet"


def _write_data(folder: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv_path, parquet_path = folder / f"data{rows}.csv", folder / f"data{rows}.parquet"
    rng = np.random.default_rng(rows)
    names = [f"f{j}" for j in range(FEATURES)]
    schema = pa.schema([(n, pa.float64()) for n in names] + [("y", pa.string())])
    with (
        pacsv.CSVWriter(csv_path, schema) as csv_out,
        pq.ParquetWriter(parquet_path, schema) as pq_out,
    ):
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            X = rng.normal(size=(n, FEATURES))
            y = np.array(["red", "green", "blue"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
            table = pa.table({**{c: X[:, j] for j, c in enumerate(names)}, "y": y}, schema=schema)
            csv_out.write_table(table)
            pq_out.write_table(table, row_group_size=128_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="250k,1M,2M,8M")
    parser.add_argument("--old-up-to", default="1M", help="largest size the old reader runs")
    parser.add_argument("--base", default="88ce09e", help="the commit before Arrow")
    parser.add_argument("--train-rows", default="200k")
    args = parser.parse_args()
    sizes = [parse_rows(r) for r in args.rows.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="chainrule-data-speed-"))
    try:
        free = shutil.disk_usage(folder).free
        fitting = [n for n in sizes if n * 420 * 2.2 < free]  # CSV ~410 B/row, Parquet, output
        if fitting != sizes:
            print(f"disk: {free / 1e9:.0f} GB free; dropping sizes {set(sizes) - set(fitting)}")
        old = folder / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        python = sys.executable
        model = folder / "model.safetensors"
        train_csv, _ = write_data(folder, parse_rows(args.train_rows))
        tiny_csv = folder / "tiny.csv"
        with train_csv.open() as rows, tiny_csv.open("w") as tiny:
            tiny.writelines(line for _, line in zip(range(1001), rows, strict=False))
        train = ["-m", "chainrule", "train", "--target", "y", "--epochs", "1", "--quiet",
                 "--hidden", "64"]  # fmt: skip
        train_seconds, train_peak = run(
            [python, *train, str(train_csv), "-o", str(model)], ROOT, folder
        )
        old_train_seconds, old_train_peak = run([python, *train, str(train_csv)], old, folder)
        _, tiny_peak = run([python, *train, str(tiny_csv)], ROOT, folder)
        _, baseline = run([python, "-c", BASELINE], ROOT, folder)
        _, loaded = run([python, "-c", LOADED], ROOT, folder)
        float32_mb = parse_rows(args.train_rows) * FEATURES * 4 / 2**20
        rows_out = []
        for n in fitting:
            csv_path, parquet_path = write_data(folder, n)
            out = folder / "out.csv"
            new = run([python, "-m", "chainrule", "predict", str(model), str(csv_path), "-o",
                       str(out)], ROOT, folder)  # fmt: skip
            floor = run([python, "-c", FLOOR, str(model), str(csv_path), str(out)], ROOT, folder)
            pq_run = run([python, "-m", "chainrule", "predict", str(model), str(parquet_path),
                          "-o", str(out)], ROOT, folder)  # fmt: skip
            before = None
            if n <= parse_rows(args.old_up_to):
                before = run([python, "-m", "chainrule", "predict", str(model), str(csv_path),
                              "-o", str(out)], old, folder)  # fmt: skip
            rows_out.append((n, csv_path.stat().st_size, new, floor, pq_run, before))
            csv_path.unlink()
            parquet_path.unlink()
        print(f"\npredict, {FEATURES} features, model 20-64-3, CSV -> CSV (Parquet -> CSV)")
        print(f"{'rows':>9} {'CSV MB':>7} | {'predict s':>9} {'MB':>6} | {'floor s':>7} "
              f"{'MB':>6} | {'x floor':>7} | {'old s':>7} {'MB':>6} {'speed-up':>8} | "
              f"{'parquet s':>9} {'MB':>6}")  # fmt: skip
        for n, size, new, floor, pq_run, before in rows_out:
            old_cells = (f"{before[0]:7.1f} {before[1]:6.0f} {before[0] / new[0]:7.1f}x"
                         if before else f"{'-':>7} {'-':>6} {'-':>8}")  # fmt: skip
            print(f"{n:>9,} {size / 2**20:7.0f} | {new[0]:9.2f} {new[1]:6.0f} | {floor[0]:7.2f} "
                  f"{floor[1]:6.0f} | {new[0] / floor[0]:6.2f}x | {old_cells} | "
                  f"{pq_run[0]:9.2f} {pq_run[1]:6.0f}")  # fmt: skip
        print(
            f"\ntrain, {parse_rows(args.train_rows):,} rows x {FEATURES}, 1 epoch, float32 data "
            f"{float32_mb:.1f} MB\n"
            f"  this tree: {train_seconds:.2f} s, peak {train_peak:.0f} MB; before Arrow: "
            f"{old_train_seconds:.2f} s, peak {old_train_peak:.0f} MB\n"
            "  (peak - baseline) / float32 data, by baseline:"
        )
        for name, base in (
            ("python importing chainrule's CLI", baseline),
            ("python holding what train loads before it reads a row", loaded),
            ("the same train on the file's first 1,000 rows", tiny_peak),
        ):
            print(
                f"    {name} ({base:.0f} MB): {(train_peak - base) / float32_mb:.2f}x "
                f"(before Arrow {(old_train_peak - base) / float32_mb:.2f}x)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        _write_data(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()

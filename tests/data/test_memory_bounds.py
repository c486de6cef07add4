"""Memory follows the data, not its longest cell nor its width: cases that made the old
reader ask for 64 GiB (one 100,000-character cell in 10,000 rows), 10 GB (a 5,000-character
cell in a 1.5 MB file) and 3.8 GB (10,000 columns) train under an address-space limit of
1.5 GB, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1536 << 20

# RLIMIT_AS bounds address space, which allocators reserve per thread without using it:
# fewer glibc arenas and Arrow on the system allocator keep the limit about memory used
RESERVING_LESS = {"MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system",
                  "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip

RUN_LIMITED = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
from chainrule.cli import main
sys.exit(main(sys.argv[1:]))
"""


def train_limited(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_LIMITED, "train", str(data), "--target", "y", "--epochs", "1",
         "--quiet", "--hidden", "4", *args],
        cwd=data.parent, env={**os.environ, "PYTHONPATH": str(ROOT), **RESERVING_LESS},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _rows(n: int, label) -> str:
    return "".join(f"{i % 13},{i % 7},{label(i)}\n" for i in range(n))


@pytest.mark.parametrize(
    ("name", "cell", "rows"),
    [("long_label", 100_000, 10_000), ("medium_label", 5_000, 150_000)],
)
def test_a_long_cell_does_not_size_the_memory(tmp_path, name, cell, rows):
    data = tmp_path / f"{name}.csv"
    data.write_text("a,b,y\n" + _rows(rows, lambda i: "x" * cell if i == 7 else "ab"[i % 2]))
    result = train_limited(data, "--test-split", "0.2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 classes" in result.stdout


def test_ten_thousand_columns(tmp_path):
    data = tmp_path / "wide.csv"
    width = 10_000
    header = ",".join(f"f{j}" for j in range(width)) + ",y\n"
    row = ",".join(str(j % 10) for j in range(width))
    data.write_text(header + "".join(f"{row},{i % 2}\n" for i in range(3000)))
    result = train_limited(data)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3000 samples, 10000 features" in result.stdout

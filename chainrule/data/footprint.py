"""Whether a data file fits in memory: its size as float32 arrays, estimated without reading
it, against a memory budget.

The estimate is rows x features x 4 bytes (the float32 matrix training works on):

* Parquet: rows and columns from the files' metadata (exact);
* CSV: the columns from the header; the rows from the file's size divided by the mean
  length of the first records (up to 1 MB of them); for ``.csv.gz``, the compressed size
  is first scaled by the compression ratio of those bytes.

Training in memory holds that matrix once, plus its labels and fit's working arrays: up
to twice the estimate at its peak (:mod:`chainrule.tabular_files`), so the default
budget, :data:`DEFAULT_FRACTION` of the machine's memory (or of the process's cgroup
limit when that is lower), leaves room for it and for the rest of the machine.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

from .tables import Source

#: the share of the machine's memory the data (as float32) may take in memory by default
DEFAULT_FRACTION = 0.25
SAMPLE_BYTES = 1 << 20

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``512M``, ``2G``, ``1.5GB``, ``800k`` or ``1000000`` (units
    in powers of 1024); a ValueError names anything else."""
    found = _SIZE.fullmatch(text)
    if not found:
        raise ValueError(f"'{text}' is not a memory size (e.g. 512M, 2G)")
    size = int(float(found.group(1)) * _UNITS[found.group(2).lower()])
    if size <= 0:
        raise ValueError(f"'{text}' is not a memory size above 0")
    return size


def machine_memory() -> int:
    """Bytes of physical memory, or the cgroup's limit (v2 ``memory.max``) when lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def default_budget() -> int:
    return int(machine_memory() * DEFAULT_FRACTION)


def estimated_bytes(path: str | os.PathLike) -> int:
    """The file's features as a float32 matrix: rows x (columns - 1) x 4 bytes (one column
    being the target), the rows counted (Parquet) or estimated (CSV)."""
    source = Source(path)
    width = max(len(source.header) - 1, 1)
    if source.parquet is not None:
        return source.parquet.num_rows * width * 4
    return _csv_rows(source) * width * 4


def _csv_rows(source: Source) -> int:
    layout = source.csv
    assert layout is not None
    size = source.path.stat().st_size
    with source.path.open("rb") as raw:
        if layout.compressed:
            with gzip.GzipFile(fileobj=raw) as stream:
                sample = stream.read(layout.data_start + SAMPLE_BYTES)
                consumed = max(raw.tell(), 1)
            size = int(size * len(sample) / consumed)  # the decompressed size, roughly
        else:
            sample = raw.read(layout.data_start + SAMPLE_BYTES)
    data = sample[layout.data_start :]
    lines = data.count(b"\n")
    if lines == 0:
        return 1 if data.strip() else 0
    return int((size - layout.data_start) / (len(data) / lines))

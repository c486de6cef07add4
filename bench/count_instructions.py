"""Instructions per training step of the notes' 3-5-4-2 network, counted by valgrind.

Wall-clock timings of a 100 us step swing by 10-50% on a shared virtual machine; the
number of instructions executed does not.  This script runs the step (forward, backward,
SGD update, batch 1 by default) N and N + 1000 times under ``valgrind --tool=callgrind``
and prints the difference / 1000 for chainrule (the step by ``value_and_grad``, and by
the recorded graph and ``backward()``), for the hand-written NumPy step of
``engine_overhead.py`` and, with ``--by-library``, how the count splits between the
Python interpreter, NumPy and the rest.  Use it to compare two versions of the code:
a change that removes Python bookkeeping shows here even when wall time is noise.

Needs valgrind (Debian: apt-get install valgrind).  About a minute per peer.

Run: python bench/count_instructions.py [--batch 1] [--by-library]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PEERS = ("chainrule", "chainrule-graph", "numpy")
WARM, EXTRA = 300, 1000


def _step(peer: str, batch: int):
    """One training step of ``peer`` on the notes' network, as a function of no arguments."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import engine_overhead

    if peer == "numpy":
        return engine_overhead.numpy_step(batch)
    return engine_overhead.chainrule_step(batch, graph=peer == "chainrule-graph")


def _worker(peer: str, batch: int, repeats: int) -> None:
    step = _step(peer, batch)
    for _ in range(repeats):
        step()


def _callgrind(peer: str, batch: int, repeats: int, out: Path) -> None:
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--worker",
        peer,
        "--batch",
        str(batch),
        "--repeats",
        str(repeats),
    ]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    subprocess.run(command, check=True, env=env, capture_output=True)


def _costs(path: Path) -> dict[str, int]:
    """Instructions by function ("file:function [library]") from callgrind_annotate."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    costs = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
        if match and "PROGRAM TOTALS" not in line:
            costs[match.group(2)] = int(match.group(1).replace(",", ""))
    return costs


def _library(function: str) -> str:
    match = re.search(r"\[(.*)\]$", function)
    name = match.group(1).rsplit("/", 1)[-1] if match else "python (inlined)"
    if "multiarray" in name or "umath" in name:  # before "python": cpython-311-...so
        return "NumPy"
    if "python" in name:
        return "Python interpreter"
    return name


def count(peer: str, batch: int) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        runs = {n: Path(folder, f"{n}.out") for n in (WARM, WARM + EXTRA)}
        for n, path in runs.items():
            _callgrind(peer, batch, n, path)
        before, after = (_costs(path) for path in runs.values())
    per_step = {k: (after.get(k, 0) - before.get(k, 0)) / EXTRA for k in set(before) | set(after)}
    libraries: dict[str, float] = collections.Counter()
    for function, cost in per_step.items():
        libraries[_library(function)] += cost
    return sum(per_step.values()), dict(libraries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--by-library", action="store_true")
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.batch, args.repeats)
        return
    if shutil.which("valgrind") is None:
        sys.exit("count_instructions.py needs valgrind (Debian: apt-get install valgrind)")
    print(f"instructions per 3-5-4-2 training step, batch {args.batch} (valgrind callgrind)")
    for peer in PEERS:
        total, libraries = count(peer, args.batch)
        print(f"{peer:10s} {total:12,.0f}")
        if args.by_library:
            for library, cost in sorted(libraries.items(), key=lambda kv: -kv[1])[:4]:
                print(f"{'':10s}   {cost:10,.0f}  {library}")


if __name__ == "__main__":
    main()

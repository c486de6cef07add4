"""Shared benchmark machinery: each peer in its own process, peers interleaved over
rounds (A B C, B C A, C A B, ...), medians with min-max, ratios to chainrule, JSON output.

A benchmark script defines ``RUNNERS = {peer: function}`` where each function returns
``{workload: value}`` (lower is better), and calls :func:`main`.  Run as a worker, the
same script prints one JSON line for one peer; the driver starts the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Runner = Callable[[argparse.Namespace], dict[str, float]]


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    if threads == 1:  # XLA (JAX) has its own thread pool
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def matmul_gflops(threads: int) -> float:
    """A 512x512 float32 matrix product's speed in this environment: the machine probe."""
    code = (
        "import numpy as np, timeit; a = np.random.default_rng(0).random((512, 512), "
        "dtype=np.float32); n, t = timeit.Timer(lambda: a @ a).autorange(); "
        "print(2 * 512**3 * n / min(timeit.repeat(lambda: a @ a, number=n, repeat=5)) / 1e9)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=thread_env(threads)
    )
    return float(out.stdout.strip() or "nan")


def run_worker(script: str, peer: str, argv: list[str], threads: int) -> dict[str, float] | str:
    result = subprocess.run(
        [sys.executable, script, "--worker", peer, *argv],
        capture_output=True,
        text=True,
        env=thread_env(threads),
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["failed"]
        return f"skipped: {lines[-1][:70]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(
    description: str,
    runners: dict[str, Runner],
    workloads: list[str],
    unit: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    default_threads: int = 1,
) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=default_threads, choices=[1, 2])
    parser.add_argument("--peers", help="comma-separated subset of: " + ", ".join(runners))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(runners[args.worker](args)))
        return None

    script = str(Path(sys.argv[0]).resolve())
    worker_argv = _worker_argv(sys.argv[1:])
    peers = args.peers.split(",") if args.peers else list(runners)
    samples: dict[str, dict[str, list[float]]] = {p: {w: [] for w in workloads} for p in peers}
    skipped: dict[str, str] = {}
    probe_before = matmul_gflops(args.threads)
    started = time.perf_counter()
    for round_index in range(args.rounds):
        for peer in rotated(peers, round_index):
            if peer in skipped:
                continue
            outcome = run_worker(script, peer, worker_argv, args.threads)
            if isinstance(outcome, str):
                skipped[peer] = outcome
                continue
            for workload, value in outcome.items():
                samples[peer].setdefault(workload, []).append(value)
    probe_after = matmul_gflops(args.threads)
    results = _table(samples, skipped, peers, workloads, unit)
    report = {
        "description": description,
        "threads": args.threads,
        "rounds": args.rounds,
        "unit": unit,
        "matmul_512_gflops_before": probe_before,
        "matmul_512_gflops_after": probe_after,
        "seconds": time.perf_counter() - started,
        "results": results,
        "samples": samples,
        "skipped": skipped,
    }
    print(
        f"{description}\n{args.threads} thread(s), {args.rounds} interleaved rounds; "
        f"machine probe (512x512 float32 matmul): {probe_before:.1f} GFLOP/s before, "
        f"{probe_after:.1f} after"
    )
    print(_render(results, skipped, peers, workloads, unit))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


_DRIVER_OPTIONS = ("--json", "--rounds", "--peers")


def _worker_argv(argv: list[str]) -> list[str]:
    """The command line minus the options only the driver uses (and their values)."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
            continue
        name = arg.split("=", 1)[0]
        if name in _DRIVER_OPTIONS:
            skip_value = "=" not in arg
            continue
        kept.append(arg)
    return kept


def rotated(peers: list[str], round_index: int) -> list[str]:
    """The peers in the order they run in this round: each round starts one peer later
    (A B C, B C A, C A B, ...), so that no peer always runs first, after the machine
    probe, or always right after the same neighbour."""
    k = round_index % len(peers)
    return peers[k:] + peers[:k]


def summarize(values_by_peer: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Each peer's median, min and max over the rounds of one workload (value i of every
    list from round i); beside chainrule's, the ratio of the medians and the paired
    ratio: the median over rounds of peer / chainrule in the same round, which cancels
    the machine's drift from round to round (it moves both alike)."""
    base = values_by_peer.get("chainrule") or []
    cells: dict[str, dict[str, float]] = {}
    for peer, values in values_by_peer.items():
        if not values:
            continue
        median = statistics.median(values)
        cell = {"median": median, "min": min(values), "max": max(values)}
        if base:
            cell["ratio_to_chainrule"] = median / statistics.median(base)
            pairs = [v / b for v, b in zip(values, base, strict=False)]
            cell["paired_ratio_to_chainrule"] = statistics.median(pairs)
        cells[peer] = cell
    return cells


def ratio_text(cell: dict[str, float]) -> str:
    """' x1.23 p1.20': the ratio of medians, then the paired ratio (see summarize)."""
    if "ratio_to_chainrule" not in cell:
        return ""
    return f" x{cell['ratio_to_chainrule']:.2f} p{cell['paired_ratio_to_chainrule']:.2f}"


RATIO_LEGEND = (
    "x = peer median / chainrule median; p = median over rounds of peer / chainrule in the "
    "same round (above 1: chainrule is faster or smaller)"
)


def _table(samples, skipped, peers, workloads, unit) -> dict[str, dict[str, dict[str, float]]]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for workload in workloads:
        by_peer = {p: samples[p].get(workload) or [] for p in peers if p not in skipped}
        for peer, cell in summarize(by_peer).items():
            table.setdefault(peer, {})[workload] = cell
    return table


def _render(results, skipped, peers, workloads, unit) -> str:
    width = 38
    lines = [f"{'peer':<12}" + "".join(f"{w + ' (' + unit + ')':>{width}}" for w in workloads)]
    lines.append("-" * len(lines[0]))
    for peer in peers:
        if peer in skipped:
            lines.append(f"{peer:<12}  {skipped[peer]}")
            continue
        cells = []
        for w in workloads:
            e = results.get(peer, {}).get(w)
            if e is None:
                cells.append(f"{'-':>{width}}")
                continue
            ratio = ratio_text(e) if peer != "chainrule" else ""
            cells.append(f"{e['median']:.1f} ({e['min']:.1f}-{e['max']:.1f}){ratio}".rjust(width))
        lines.append(f"{peer:<12}" + "".join(cells))
    lines.append(RATIO_LEGEND)
    return "\n".join(lines)


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)

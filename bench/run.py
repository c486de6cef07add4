"""Every performance workload in one run, each peer in its own process, peers interleaved
over rounds (A B C, B C A, C A B, ...):

  engine   per-op overhead and the notes' 3-5-4-2 training step (bench/engine_overhead.py)
  train    one MNIST-shaped epoch, SGD and Adam (bench/train_mlp.py)
  memory   how far that SGD epoch raises peak resident memory (a fresh process each)
  fit      MLPClassifier / MLPRegressor fits on the parity data sets (bench/parity.py settings)

Each round runs the peers in a rotated order.  Prints one table: per workload the median
(min-max) of each peer and its ratios to chainrule (of the medians, and paired: the
median of the per-round ratios), with a machine probe (512x512 float32 matmul GFLOP/s)
before and after, and writes the same, with every round's figures, as JSON.  Peers that
are not installed are listed as skipped.

Run: python bench/run.py [--threads 1|2] [--quick] [--rounds 3] [--json results.json]
Peers: pip install -e ".[bench]"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import engine_overhead
import harness
import train_mlp

GROUPS = {
    "engine": (
        ["chainrule", "torch", "autograd", "jax", "numpy"],
        engine_overhead.WORKLOADS,
        "us",
    ),
    "train": (
        ["chainrule", "torch", "sklearn", "jax", "numpy"],
        [f"epoch-{w}" for w in train_mlp.WORKLOADS],
        "ms",
    ),
    "memory": (["chainrule", "torch", "sklearn", "jax", "numpy"], ["epoch-sgd-peak"], "MB"),
    "fit": (["chainrule", "sklearn"], None, "s"),
}
FIT_DATASETS = ["digits", "iris", "wine", "breast_cancer", "diabetes", "mnist5k"]


def fit_datasets(quick: bool) -> list[str]:
    return [d for d in FIT_DATASETS if not (quick and d == "mnist5k")]


def run_fits(peer: str, args) -> dict[str, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from chainrule import datasets

    if peer == "chainrule":
        from chainrule.sklearn import MLPClassifier, MLPRegressor
    else:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = {}
    for name in fit_datasets(args.quick):
        data = datasets.load(name)
        classify = data.task == "classify"
        X_train, _, y_train, _ = train_test_split(
            data.X,
            data.y,
            test_size=0.25,
            random_state=args.seed,
            stratify=data.y if classify else None,
        )
        if name != "mnist5k":
            X_train = StandardScaler().fit_transform(X_train)
        if classify:
            estimator = MLPClassifier(random_state=args.seed)
        else:
            y_train = (y_train - y_train.mean()) / y_train.std()
            estimator = MLPRegressor(
                random_state=args.seed, learning_rate_init=0.01, max_iter=500, early_stopping=True
            )
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        results[f"fit-{name}"] = time.perf_counter() - start
    return results


def worker(group: str, peer: str, args) -> dict[str, float]:
    if group == "engine":
        return engine_overhead.RUNNERS[peer](args)
    if group == "train":
        return {f"epoch-{k}": v for k, v in train_mlp.RUNNERS[peer](args).items()}
    if group == "memory":
        return {"epoch-sgd-peak": train_mlp.peak_memory_mb(train_mlp.EPOCHS[peer], args)}
    return run_fits(peer, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, choices=[1, 2])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 samples, no mnist5k fit, 1 round"
    )
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        group, peer = args.worker.split(":")
        print(json.dumps(worker(group, peer, args)))
        return

    rounds = args.rounds or (1 if args.quick else 3)
    groups = args.groups.split(",")
    script = str(Path(__file__).resolve())
    samples: dict[str, dict[str, list[float]]] = {}
    skipped: dict[str, str] = {}
    probe_before = harness.matmul_gflops(args.threads)
    started = time.perf_counter()
    for round_index in range(rounds):
        for group in groups:
            peers, _, _ = GROUPS[group]
            for peer in harness.rotated(peers, round_index):  # interleaved, order rotating
                key = f"{group}:{peer}"
                if key in skipped:
                    continue
                extra = ["--seed", str(round_index)] + (["--quick"] if args.quick else [])
                outcome = harness.run_worker(script, key, extra, args.threads)
                if isinstance(outcome, str):
                    skipped[key] = outcome
                    continue
                for workload, value in outcome.items():
                    samples.setdefault(workload, {}).setdefault(peer, []).append(value)
        print(f"round {round_index + 1}/{rounds} done", file=sys.stderr)
    probe_after = harness.matmul_gflops(args.threads)

    rows = []
    units = {}
    for group in groups:
        _, workloads, unit = GROUPS[group]
        for workload in workloads or [f"fit-{d}" for d in fit_datasets(args.quick)]:
            units[workload] = unit
            if workload in samples:
                rows.append(workload)
    peers_seen = [
        p
        for p in ["chainrule", "torch", "sklearn", "autograd", "jax", "numpy"]
        if any(p in samples[w] for w in rows)
    ]
    table = {workload: harness.summarize(samples[workload]) for workload in rows}

    print(
        f"chainrule benchmarks: {args.threads} thread(s), {rounds} round(s), "
        f"{'quick (10,000 samples)' if args.quick else '60,000 samples'}; machine probe "
        f"(512x512 float32 matmul): {probe_before:.1f} GFLOP/s before, {probe_after:.1f} after"
    )
    width = 38
    header = f"{'workload':<22}{'unit':<5}" + "".join(f"{p:>{width}}" for p in peers_seen)
    print(header)
    print("-" * len(header))
    for workload in rows:
        line = f"{workload:<22}{units[workload]:<5}"
        for peer in peers_seen:
            cell = table[workload].get(peer)
            if cell is None:
                line += f"{'-':>{width}}"
                continue
            ratio = harness.ratio_text(cell) if peer != "chainrule" else ""
            text = f"{cell['median']:.1f} ({cell['min']:.1f}-{cell['max']:.1f}){ratio}"
            if units[workload] == "s":
                text = f"{cell['median']:.3f} ({cell['min']:.3f}-{cell['max']:.3f}){ratio}"
            line += f"{text:>{width}}"
        print(line)
    print(harness.RATIO_LEGEND)
    for key, reason in skipped.items():
        print(f"skipped {key}: {reason}")
    if args.json:
        report = {
            "threads": args.threads,
            "rounds": rounds,
            "quick": args.quick,
            "matmul_512_gflops_before": probe_before,
            "matmul_512_gflops_after": probe_after,
            "seconds": time.perf_counter() - started,
            "units": units,
            "results": table,
            "samples": samples,
            "skipped": skipped,
        }
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

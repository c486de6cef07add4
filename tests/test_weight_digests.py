"""Pinned weight digests: the same seed gives the same weights, bit for bit, release to release.

Each case trains a network from a seed and hashes the bytes of every weight (SHA-256, in
the order of ``state_dict``).  The digests were taken before the engine's restructuring
(one forward plan, one formula per gate, ownership instead of reference counts) and must
not move with a refactor: a change of number is a change of behaviour and has to say so.

The bytes depend on the BLAS kernels, so the digests hold on the project's machines (the
developers' and CI's, which are of one kind); on another processor, regenerate them with
``python tests/test_weight_digests.py`` from a commit that is known to be right.
"""

from __future__ import annotations

import hashlib
import sys
import warnings

import numpy as np
import pytest
from safetensors.numpy import load_file
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main


def digest(arrays) -> str:
    """SHA-256 of the arrays' dtypes, shapes and bytes, in the order given."""
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()[:24]


def model_digest(model) -> str:
    return digest(p.data for p in model.parameters())


def _digits(n=600):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def _fit_case(case: str) -> str:
    """Train the network of ``case`` from its seed; return the digest of its weights."""
    dtype = "float64" if "f64" in case else "float32"
    dropout = 0.2 if "dropout" in case else 0.0
    if case.startswith("bce"):
        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        model = nn.MLP([30, 16, 1], "tanh", "sigmoid", dropout=dropout, seed=3, dtype=dtype)
        loss, opt = "binary_cross_entropy", optim.Adam(model.parameters(), lr=1e-2)
    elif case.startswith("mse"):
        X, y = load_diabetes(return_X_y=True)
        X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
        model = nn.MLP([10, 24, 12, 1], "relu", "identity", dropout=dropout, seed=4, dtype=dtype)
        loss, opt = "mse", optim.SGD(model.parameters(), lr=1e-2, momentum=0.5)
    else:
        X, y = _digits()
        activation = "tanh" if "tanh" in case else "relu"
        model = nn.MLP(
            [64, 32, 16, 10], activation, "softmax", dropout=dropout, seed=7, dtype=dtype
        )
        if case.startswith("sgd"):
            opt = optim.SGD(model.parameters(), lr=0.1)
        elif case.startswith("momentum"):
            opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov="nesterov" in case)
        else:
            opt = optim.Adam(model.parameters(), lr=3e-3)
        loss = "cross_entropy"
    cr.fit(model, loss, opt, X, y, epochs=3, batch_size=32, verbose=0, seed=11)
    return model_digest(model)


FIT_DIGESTS = {
    "sgd-f32": "8969c2aac2f97bbc55f99c0a",
    "sgd-f64-dropout": "34610473a19a51fd27db1905",
    "momentum-f32-dropout": "1ddf087f5bf71be0927a40dd",
    "momentum-nesterov-f64": "ea4fba5ed397ebfe80651c42",
    "adam-f32": "5a7589c85208db73cedfae95",
    "adam-f64-dropout-tanh": "9446c4264cd22b08cb0af685",
    "adam-f32-dropout": "f69b40682b602b485dd96a61",
    "bce-adam-f32": "d09f7ce0576ba42b661919a5",
    "mse-momentum-f64": "10d457eb1323a9010d20d431",
}


@pytest.mark.parametrize("case", sorted(FIT_DIGESTS))
def test_fit_weights_are_pinned(case):
    assert _fit_case(case) == FIT_DIGESTS[case]


def _cli_case(seed: int, tmp_path) -> str:
    out = tmp_path / f"digits-{seed}.safetensors"
    argv = ["train", "--dataset", "digits", "--seed", str(seed), "--epochs", "3", "--quiet"]
    assert main([*argv, "-o", str(out)]) == 0
    tensors = load_file(str(out))
    return digest(tensors[name] for name in sorted(tensors))


CLI_DIGESTS = {
    0: "7c0a571037d2fa54d03a46d4",
    1: "31cee995836c355d79077361",
}


@pytest.mark.parametrize("seed", sorted(CLI_DIGESTS))
def test_cli_train_weights_are_pinned(seed, tmp_path):
    assert _cli_case(seed, tmp_path) == CLI_DIGESTS[seed]


def _estimator_case(solver: str) -> str:
    from chainrule.sklearn import MLPClassifier

    X, y = _digits(400)
    clf = MLPClassifier(hidden_layer_sizes=(20,), solver=solver, max_iter=15, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 15 iterations: on purpose
        clf.fit(X, y)
    return digest([*clf.coefs_, *clf.intercepts_])


ESTIMATOR_DIGESTS = {
    "adam": "2ff87e327599886fd6741967",
    "sgd": "9f0ddf7ef13c9ecff244ae99",
    "lbfgs": "3403e5d626889fd5a83c936b",
}


@pytest.mark.parametrize("solver", sorted(ESTIMATOR_DIGESTS))
def test_estimator_weights_are_pinned(solver):
    assert _estimator_case(solver) == ESTIMATOR_DIGESTS[solver]


if __name__ == "__main__":  # print the digests of this commit, to paste above
    import pathlib
    import tempfile

    print({case: _fit_case(case) for case in sorted(FIT_DIGESTS)})
    with tempfile.TemporaryDirectory() as folder:
        print({seed: _cli_case(seed, pathlib.Path(folder)) for seed in sorted(CLI_DIGESTS)})
    print({solver: _estimator_case(solver) for solver in sorted(ESTIMATOR_DIGESTS)})
    sys.exit(0)

"""Issue 16, section 5: the Python API takes what a user would pass."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.training.loop import fit


def _classification_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def _trained(loss, output="softmax", seed=3, y=None, **kwargs):
    X, labels = _classification_data()
    model = nn.MLP([4, 5, 3], activation="tanh", output=output, dtype="float64", seed=seed)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, loss, opt, X, labels if y is None else y, epochs=3, batch_size=16,
                  seed=1, verbose=0, **kwargs)  # fmt: skip
    return model, history


@pytest.mark.parametrize(
    ("function", "name", "output"),
    [
        (F.cross_entropy, "cross_entropy", "softmax"),
        (F.binary_cross_entropy_with_logits, "binary_cross_entropy", "sigmoid"),
        (F.mse, "mse", "identity"),
    ],
)
def test_the_librarys_functional_losses_train_as_their_names_do(function, name, output):
    """F.cross_entropy given to fit is the fused, stable loss the name gives: the same
    weights to the last bit."""
    _, labels = _classification_data()
    y = labels if name == "cross_entropy" else np.eye(3)[labels]
    by_function, _ = _trained(function, output, y=y)
    by_name, _ = _trained(name, output, y=y)
    for a, b in zip(by_function.parameters(), by_name.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_users_loss_function_trains_as_the_closed_form_gradient_says():
    """A linear model (no hidden layer, identity output) trained with a hand-written
    mean squared error by full-batch SGD, against gradient descent written out in NumPy: dL/dU = (2/N) X^T (XU + b - y) / D, dL/db = (2/N) sum (XU + b - y) / D."""

    def mean_squared(prediction, target):
        return ((prediction - target) ** 2).mean()

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    model = nn.MLP([3, 2], output="identity", dtype="float64", seed=0)
    U, b = (p.data.copy() for p in model.parameters())
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    fit(model, mean_squared, opt, X, Y, epochs=4, batch_size=20, shuffle=False, verbose=0)
    n, d = Y.shape
    for _ in range(4):
        residual = X @ U + b - Y
        U = U - 0.05 * (2.0 / (n * d)) * X.T @ residual
        b = b - 0.05 * (2.0 / (n * d)) * residual.sum(axis=0)
    trained_U, trained_b = (p.data for p in model.parameters())
    np.testing.assert_allclose(trained_U, U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trained_b, b, rtol=1e-12, atol=1e-14)


def test_a_users_loss_receives_the_sample_weights_as_its_third_argument():
    seen = []

    def weighted(prediction, target, sample_weight):
        seen.append(np.asarray(sample_weight).copy())
        return F.cross_entropy(cr.log(prediction + 1e-12), target, sample_weight)

    X, _ = _classification_data()
    weights = np.linspace(0.5, 2.0, len(X))
    _trained(weighted, sample_weight=weights)
    assert sorted(np.concatenate(seen)[: len(X)].tolist()) == sorted(weights.tolist())


def test_a_loss_without_a_weight_parameter_says_so_when_given_weights():
    def unweighted(prediction, target):
        return F.nll(cr.log(prediction), target)

    X, _ = _classification_data()
    with pytest.raises(TypeError, match=r"unweighted\(prediction, target\) takes no sample_w"):
        _trained(unweighted, sample_weight=np.ones(len(X)))


def plain(prediction, target):
    return ((prediction - target) ** 2).sum(axis=1)  # not reduced to one number


def test_a_loss_that_is_not_one_number_is_refused_naming_it():
    _, labels = _classification_data()
    with pytest.raises(
        nn.LossInputError, match=r"loss plain must return a one-element Tensor.*\(16,\)"
    ):
        _trained(plain, output="identity", y=np.eye(3)[labels])


@pytest.mark.parametrize("loss", [3, None, ["mse"]])
def test_a_loss_that_is_neither_name_loss_nor_function_is_refused(loss):
    with pytest.raises(TypeError, match="loss must be a name, a Loss, or a function"):
        _trained(loss)

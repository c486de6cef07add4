"""Built-in data sets load offline with the documented shapes."""

import numpy as np
import pytest

from chainrule import datasets


@pytest.mark.parametrize(
    ("name", "shape", "task", "n_classes"),
    [
        ("digits", (1797, 64), "classify", 10),
        ("iris", (150, 4), "classify", 3),
        ("wine", (178, 13), "classify", 3),
        ("breast_cancer", (569, 30), "classify", 2),
        ("diabetes", (442, 10), "regress", None),
    ],
)
def test_scikit_learn_data_sets(name, shape, task, n_classes):
    data = datasets.load(name)
    assert data.X.shape == shape and data.task == task and len(data.feature_names) == shape[1]
    if n_classes:
        assert len(np.unique(data.y)) == n_classes


def test_mnist5k_is_the_real_file_scaled_to_unit_interval():
    data = datasets.load("mnist5k")
    assert data.X.shape == (5000, 784)
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    assert sorted(np.unique(data.y)) == list(range(10))


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        datasets.load("cifar")

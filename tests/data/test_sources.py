"""fit's inputs besides arrays: DataFrames (the same weights as their arrays), iterables of
batches (lists, functions, one-shot iterators), and TabularModel on DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.datasets import load_digits

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.checks import DataError
from chainrule.data.rows import validation_mask
from chainrule.data.sources import IterableSource
from chainrule.tabular import TabularModel, TrainOptions


def digits(n=300):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def trained(X, y, epochs=2, **kwargs):
    model = nn.MLP([64, 16, 10], "relu", "softmax", seed=7)
    history = cr.fit(
        model, "cross_entropy", optim.Adam(model.parameters(), lr=3e-3), X, y,
        epochs=epochs, batch_size=32, verbose=0, seed=11, **kwargs,
    )  # fmt: skip
    return [p.data.copy() for p in model.parameters()], history


def same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def frame(X, y, kind):
    columns = {f"pixel{j}": X[:, j] for j in range(X.shape[1])}
    columns["digit"] = y
    return pd.DataFrame(columns) if kind == "pandas" else pl.DataFrame(columns)


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_a_dataframe_trains_to_the_weights_of_its_array(kind):
    X, y = digits()
    expected, _ = trained(X, y, validation_split=0.2)
    df = frame(X, y, kind)
    by_name, _ = trained(df, "digit", validation_split=0.2)
    assert same(by_name, expected)
    features = df.drop("digit") if kind == "polars" else df.drop(columns="digit")
    by_series, _ = trained(features, df["digit"], validation_split=0.2)
    assert same(by_series, expected)


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_a_dataframe_with_a_missing_or_text_column_is_named(kind):
    X, y = digits(40)
    df = frame(X, y, kind)
    with pytest.raises(DataError, match=r"target column 'label' is not in the DataFrame.*pixel0"):
        trained(df, "label")
    text = (
        df.with_columns(pl.lit("a").alias("pixel3")) if kind == "polars" else df.assign(pixel3="a")
    )
    with pytest.raises(DataError, match="column 'pixel3' holds"):
        trained(text, "digit")


def test_a_list_of_batches_trains_as_the_arrays_do_unshuffled():
    X, y = digits()
    expected, _ = trained(X, y, shuffle=False, epochs=3)
    batches = [(X[s : s + 32], y[s : s + 32]) for s in range(0, len(X), 32)]
    got, history = trained(batches, None, epochs=3)
    assert same(got, expected)
    assert len(history.epochs) == 3


def test_a_function_gives_a_fresh_iterable_each_epoch():
    X, y = digits()
    calls = []

    def batches():
        calls.append(1)
        return ((X[s : s + 32], y[s : s + 32]) for s in range(0, len(X), 32))

    expected, _ = trained(X, y, shuffle=False, epochs=3)
    got, _ = trained(batches, None, epochs=3)
    assert len(calls) == 3
    assert same(got, expected)


def test_a_one_shot_iterator_serves_one_epoch_and_says_so_for_the_second():
    X, y = digits()

    def generator():
        return ((X[s : s + 32], y[s : s + 32]) for s in range(0, len(X), 32))

    trained(generator(), None, epochs=1)
    with pytest.raises(DataError, match=r"one-shot iterator .* no.* epoch 2"):
        trained(generator(), None, epochs=2)


def test_batches_with_sample_weights_train_as_arrays_with_them():
    X, y = digits()
    w = np.linspace(0.5, 2.0, len(X))
    expected, _ = trained(X, y, shuffle=False, sample_weight=w)
    batches = [(X[s : s + 32], y[s : s + 32], w[s : s + 32]) for s in range(0, len(X), 32)]
    got, _ = trained(batches, None)
    assert same(got, expected)
    with pytest.raises(DataError, match="sample_weight goes with arrays"):
        trained(batches, None, sample_weight=w)


def test_a_validation_split_of_batches_holds_out_the_rule_s_rows():
    X, y = digits()
    batches = [(X[s : s + 32], y[s : s + 32]) for s in range(0, len(X), 32)]
    source = IterableSource(batches, np.float64, validation_split=0.3, split_seed=5)
    trained_rows = np.concatenate([xb for xb, _ in source])
    held = validation_mask(np.arange(len(X)), 0.3, 5)
    assert 0 < held.sum() < len(X)
    np.testing.assert_array_equal(trained_rows, X[~held])
    held_rows = np.concatenate([xb for xb, _ in source.validation_batches(1000)])
    np.testing.assert_array_equal(held_rows, X[held])
    _, history = trained(batches, None, validation_split=0.3, metrics=["accuracy"])
    assert np.isfinite(history["val_loss"][-1])
    assert 0 <= history["val_accuracy"][-1] <= 1


def test_a_bad_batch_is_named():
    X, y = digits(64)
    batches = [(X[:32], y[:32]), (X[32:], y[32:40])]
    with pytest.raises(DataError, match="batch 1: y has 8 rows but X has 32"):
        trained(batches, None)
    with pytest.raises(DataError, match="batch 0 of X is a int"):
        trained([3], None)


def test_tabular_model_takes_a_dataframe_and_its_column_names():
    X, y = digits(200)
    options = TrainOptions(hidden=(8,), epochs=2, verbose=0, seed=3)
    names = [f"pixel{j}" for j in range(64)]
    expected, _ = TabularModel.train(X, y, names, options=options)
    df = frame(X, y, "pandas")
    model, _ = TabularModel.train(df, "digit", options=options)
    assert model.feature_names == names and model.target_name == "digit"
    assert same([p.data for p in model.network.parameters()],
                [p.data for p in expected.network.parameters()])  # fmt: skip
    # prediction reads the columns by name, whatever their order in the frame
    shuffled = df[list(reversed(df.columns))]
    np.testing.assert_array_equal(model.predict(shuffled), expected.predict(X))
    assert model.evaluate(shuffled, "digit").to_dict() == expected.evaluate(X, y).to_dict()
    with pytest.raises(DataError, match=r"column 'pixel5' is not in the DataFrame"):
        model.predict(df.drop(columns="pixel5"))

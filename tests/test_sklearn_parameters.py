"""chainrule.sklearn's parameter table: every row rejects what it should, with a message
naming the parameter, what it must be and what it got; the constraints in isolation."""

import numpy as np
import pytest

from chainrule._sklearn_params import (
    NONE,
    Each,
    Interval,
    InvalidParameterError,
    Options,
    Satisfies,
    expected,
    validate_parameters,
)
from chainrule.sklearn import MLPClassifier, MLPRegressor

ESTIMATORS = [MLPClassifier, MLPRegressor]

# A value of the right type but outside the row, for each checked parameter
BAD_VALUES = {
    "hidden_layer_sizes": (10, 0),
    "activation": "swish",
    "solver": "newton",
    "alpha": -1e-4,
    "batch_size": 0,
    "learning_rate": "cosine",
    "learning_rate_init": 0.0,
    "max_iter": 0,
    "tol": -1.0,
    "momentum": 1.5,
    "validation_fraction": 1.0,
    "beta_1": 1.0,
    "beta_2": -0.1,
    "n_iter_no_change": 0,
    "max_fun": -5,
    "dropout": 1.0,
    "dtype": "int64",
    "class_weight": "uniform",
}

# Values at the edges that every row must keep accepting
GOOD_VALUES = {
    "hidden_layer_sizes": [5, 5.0, (), [3, 2], np.array([4, 3])],
    "activation": ["tanh", ["relu"], ("gelu",)],
    "alpha": [0, 0.0, np.float32(1e-3)],
    "batch_size": ["auto", 1, 16.0, np.int64(8)],
    "tol": [0],
    "momentum": [0, 1],
    "validation_fraction": [1e-9, 0.999],
    "beta_1": [0.0],
    "n_iter_no_change": [np.inf, 2.5],
    "dropout": [0, 0.5],
    "dtype": ["float32", np.float64, "f8"],
    "class_weight": [None, "balanced", {0: 2.0}],
}


def _checked_rows(estimator):
    return [name for name, constraints in estimator._parameter_rules.items() if constraints]


def _cases(values):
    return [
        pytest.param(estimator, name, id=f"{estimator.__name__}-{name}")
        for estimator in ESTIMATORS
        for name in _checked_rows(estimator)
        if name in values
    ]


class _Anything:
    """A value of a type no row accepts."""


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_the_table_has_a_row_for_every_parameter(estimator):
    assert set(estimator._parameter_rules) == set(estimator().get_params(deep=False))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_checked_row_has_a_bad_value_here(estimator):
    assert set(_checked_rows(estimator)) <= set(BAD_VALUES)


@pytest.mark.parametrize(("estimator", "name"), _cases(BAD_VALUES))
@pytest.mark.parametrize("kind", ["value", "type"])
def test_every_row_rejects_a_bad_value_naming_the_parameter(estimator, name, kind):
    bad = BAD_VALUES[name] if kind == "value" else _Anything()
    model = estimator(**{name: bad})
    pattern = rf"The '{name}' parameter of {estimator.__name__} must be .+\. Got .+ instead\."
    with pytest.raises(InvalidParameterError, match=pattern) as raised:
        model.fit(np.ones((4, 2)), [0, 1, 0, 1])
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, TypeError)
    assert repr(bad)[:20] in str(raised.value)


@pytest.mark.parametrize(("estimator", "name"), _cases(GOOD_VALUES))
def test_every_row_accepts_the_values_at_its_edges(estimator, name):
    for good in GOOD_VALUES[name]:
        validate_parameters(
            estimator.__name__,
            estimator(**{name: good}).get_params(deep=False),
            estimator._parameter_rules,
        )


def test_partial_fit_validates_too_and_dropout_needs_a_stochastic_solver():
    with pytest.raises(InvalidParameterError, match="'momentum' parameter of MLPRegressor"):
        MLPRegressor(momentum=-1).partial_fit(np.ones((4, 2)), [0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="'dropout' parameter .* solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(np.ones((4, 2)), [0, 1, 0, 1])


@pytest.mark.parametrize(
    ("interval", "inside", "outside", "words"),
    [
        (Interval(0, 1, closed="both"), [0, 0.5, 1], [-0.1, 1.1, np.nan], "a number in [0, 1]"),
        (Interval(0, 1, closed="neither"), [0.5], [0, 1], "a number in (0, 1)"),
        (Interval(0, 1, closed="left"), [0], [1], "a number in [0, 1)"),
        (Interval(0, 1, closed="right"), [1], [0], "a number in (0, 1]"),
        (Interval(0, None, closed="neither"), [np.inf], [0, None, "1"], "a number in (0, inf)"),
        (Interval(1, None, closed="left", whole=True), [1, 3.0], [2.5, np.inf, 0], "a whole"),
    ],
)
def test_interval_ends_and_words(interval, inside, outside, words):
    assert all(interval.accepts(value) for value in inside)
    assert not any(interval.accepts(value) for value in outside)
    assert str(interval).startswith(words)


def test_options_each_none_satisfies_and_the_words_joined():
    assert Options("a", "b").accepts("b") and not Options("a", "b").accepts(["a"])
    assert str(Options("auto")) == "'auto'" and str(Options("a", "b")) == "one of 'a', 'b'"
    assert Each(Options("a")).accepts(("a", "a")) and Each(Options("a")).accepts([])
    assert not Each(Options("a")).accepts("a") and not Each(Options("a")).accepts(3)
    assert NONE.accepts(None) and not NONE.accepts(0)
    even = Satisfies(lambda value: value % 2 == 0, "an even number")
    assert even.accepts(4) and not even.accepts(3)
    assert expected([NONE]) == "None"
    assert expected([NONE, even, Options("x")]) == "None, an even number or 'x'"


def test_the_first_failing_row_in_table_order_is_reported():
    table = {"a": [NONE], "b": [], "c": [NONE]}
    validate_parameters("Thing", {"a": None, "b": object(), "c": None}, table)
    with pytest.raises(InvalidParameterError, match="'a' parameter of Thing must be None"):
        validate_parameters("Thing", {"a": 1, "b": None, "c": 2}, table)

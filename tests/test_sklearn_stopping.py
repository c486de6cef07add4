"""scikit-learn's n_iter_no_change rule as chainrule.sklearn keeps it: the counter, the best
value and the best weights, alone and inside a fit."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from chainrule.sklearn import MLPClassifier, MLPRegressor, _NoImprovement


class _Weights:
    """A stand-in model whose state_dict is the number of the epoch it is at."""

    def __init__(self):
        self.epoch = 0

    def state_dict(self):
        return {"epoch": self.epoch}


def _feed(rule, values, tol):
    model, counts = _Weights(), []
    for epoch, value in enumerate(values):
        model.epoch = epoch
        rule.update(value, tol, model)
        counts.append(rule.no_improvement_count)
    return counts


def test_the_loss_counts_epochs_not_below_the_best_minus_tol():
    rule = _NoImprovement("loss")
    counts = _feed(rule, [1.0, 0.95, 0.8, 0.79, 0.85], tol=0.1)
    assert counts == [0, 1, 0, 1, 2]
    assert rule.best == 0.79 and rule.best_state is None  # the loss keeps no weights


def test_the_score_keeps_the_weights_of_the_best_even_within_tol():
    rule = _NoImprovement("score")
    counts = _feed(rule, [0.5, 0.55, 0.4, 0.7], tol=0.1)
    assert counts == [0, 1, 2, 0]
    assert rule.best == 0.7 and rule.best_state == {"epoch": 3}
    rule = _NoImprovement("score")
    _feed(rule, [0.5, 0.55, 0.4], tol=0.1)
    assert rule.best == 0.55 and rule.best_state == {"epoch": 1}


def test_patience_runs_out_after_more_than_n_iter_no_change_and_restarts():
    rule = _NoImprovement("loss")
    _feed(rule, [1.0, 1.5, 2.0], tol=0.0)
    assert rule.no_improvement_count == 2
    assert rule.exhausted(1) and not rule.exhausted(2) and not rule.exhausted(np.inf)
    rule.restart_count()
    assert rule.no_improvement_count == 0 and not rule.exhausted(0) and rule.best == 1.0


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_fit_that_stops_ran_out_of_patience_and_reports_the_rules_best(early_stopping):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(
        hidden_layer_sizes=(8,),
        early_stopping=early_stopping,
        n_iter_no_change=3,
        tol=1e-2,
        learning_rate_init=0.05,
        max_iter=500,
        random_state=0,
    ).fit((X - X.mean(0)) / X.std(0), y)
    rule = clf._no_improvement
    assert clf.n_iter_ < 500 and rule.no_improvement_count == 4
    if early_stopping:
        assert clf.best_validation_score_ == rule.best == max(clf.validation_scores_)
        assert clf.best_loss_ is None
    else:
        assert clf.best_loss_ == rule.best == min(clf.loss_curve_)


def test_partial_fit_carries_the_count_from_call_to_call():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            clf.partial_fit(X, y, classes=[0, 1, 2])
    # tol=10 is beyond reach: the first epoch sets the best, the next two do not improve
    assert clf._no_improvement.no_improvement_count == 2 and clf.n_iter_ == 3


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_refuses_early_stopping_before_training(estimator):
    X, y = load_iris(return_X_y=True)
    model = estimator(early_stopping=True)
    extra = {"classes": [0, 1, 2]} if estimator is MLPClassifier else {}
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        model.partial_fit(X, y, **extra)
    assert not hasattr(model, "network_")


def test_the_best_loss_is_kept_epoch_by_epoch_as_scikit_learn_keeps_it():
    """A callback sees best_loss_ as the best so far at the end of every epoch, not only
    after fit (the estimator's own epoch end runs after the user's callbacks, so theirs
    sees the epochs recorded before this one)."""
    from chainrule.training import Callback

    X, y = load_iris(return_X_y=True)
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, state, epoch, logs):
            seen.append((clf.best_loss_, min(clf.loss_curve_, default=np.inf)))

    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=12, random_state=0, callbacks=[Watch()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert len(seen) == 12 and seen[-1][0] < seen[1][0]
    for best, lowest in seen:
        assert best == lowest


def test_an_estimator_pickled_before_the_rule_existed_fits_on():
    """An estimator unpickled from an earlier version has no no-improvement rule: a
    warm start or partial_fit makes one instead of failing."""
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        del clf.__dict__["_no_improvement"]  # as a pickle from before has it
        clf.fit(X, y)
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 7

"""chainrule.sklearn: scikit-learn's own estimator checks, the ecosystem (Pipeline,
GridSearchCV, cross_val_score, clone, a dask cluster), and what goes beyond."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_methods_subset_invariance,
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from chainrule.sklearn import MLPClassifier, MLPRegressor

# The checks scikit-learn's own MLP passes only with special settings, and why:
EXPECTED_FAILURES = {
    # float32 matrix products round differently for different batch sizes (~1e-7): the
    # float64 estimators pass it (test_subset_invariance_in_float64 below)
    "check_methods_subset_invariance": "float32 rounding may differ with the batch size",
    # shuffled minibatches see a repeated row twice per epoch, a weighted one once;
    # scikit-learn runs this check on its MLPs with lbfgs only, and so do we (below)
    "check_sample_weight_equivalence_on_dense_data": "stochastic minibatches; lbfgs passes",
}


@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES,
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [MLPClassifier(dtype="float64", max_iter=50), MLPRegressor(dtype="float64", max_iter=50)],
)
def test_subset_invariance_in_float64(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_methods_subset_invariance(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator",
    [MLPClassifier(solver="lbfgs", random_state=0), MLPRegressor(solver="lbfgs", random_state=0)],
)
def test_sample_weight_equivalence_with_lbfgs(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def _iris_split():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    return train_test_split(
        StandardScaler().fit_transform(X), labels, test_size=0.3, random_state=0, stratify=labels
    )


def test_string_labels_probabilities_and_attributes():
    X_train, X_test, y_train, y_test = _iris_split()
    clf = MLPClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0
    )
    clf.fit(X_train, y_train)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(X_test, y_test) >= 0.9
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(proba))
    assert clf.predict(X_test).dtype.kind in "UO"
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 3)] and [
        b.shape for b in clf.intercepts_
    ] == [(16,), (3,)]
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert (
        clf.n_features_in_ == 4
        and clf.n_iter_ == len(clf.loss_curve_)
        and clf.t_ == clf.n_iter_ * len(X_train)
    )
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)


def test_binary_and_multilabel():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, y)
    assert (
        clf.out_activation_ == "logistic"
        and clf.n_outputs_ == 1
        and clf.predict_proba(X).shape == (len(X), 2)
    )
    Y = np.column_stack([y, 1 - y, (X[:, 0] > 0).astype(int)])
    multi = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == Y.shape and multi.out_activation_ == "logistic"
    assert multi.score(X, Y) > 0.8  # subset accuracy


def test_regressor_objective_is_scikit_learns_half_squared_error():
    """One full-batch epoch with a negligible step: loss_ is the objective at the initial
    weights, ((y - y_hat)^2).mean() / 2 over samples and outputs, as scikit-learn's."""
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, -y]) / 100
    reg = MLPRegressor(hidden_layer_sizes=(5,), alpha=0.0, max_iter=1, batch_size=len(X), shuffle=False,
                       learning_rate_init=1e-12, random_state=0, dtype="float64")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, Y)
    assert reg.loss_ == pytest.approx(((Y - reg.predict(X)) ** 2).mean() / 2, rel=1e-6)


def test_l2_term_is_alpha_over_2n_sum_of_squared_weights():
    X, y = load_iris(return_X_y=True)
    kwargs = dict(
        hidden_layer_sizes=(4,),
        max_iter=1,
        batch_size=len(X),
        shuffle=False,
        random_state=0,
        learning_rate_init=1e-12,
        dtype="float64",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPClassifier(alpha=0.0, **kwargs).fit(X, y)
        penalised = MLPClassifier(alpha=0.5, **kwargs).fit(X, y)
    squares = sum((w**2).sum() for w in penalised.coefs_)
    assert penalised.loss_ - plain.loss_ == pytest.approx(0.5 * squares / (2 * len(X)), rel=1e-6)


def test_not_fitted_convergence_warning_and_bad_input():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.ones((2, 3)))
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(max_iter=3).fit(X, y)
    clf = MLPClassifier(max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        clf.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(np.ones((4, 2)), [1, 1, 1, 1])


def test_partial_fit_needs_classes_first_and_learns():
    X_train, X_test, y_train, y_test = _iris_split()
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_train, y_train)
    clf.partial_fit(X_train[:10], y_train[:10], classes=np.unique(y_train))
    for _ in range(60):
        clf.partial_fit(X_train, y_train)
    assert clf.n_iter_ == 61 and clf.score(X_test, y_test) >= 0.85


def test_beyond_scikit_learn():
    from chainrule.training import Callback

    X_train, X_test, y_train, y_test = _iris_split()
    seen = []

    class Count(Callback):
        def on_epoch_end(self, state, epoch, logs):
            seen.append(epoch)

    clf = MLPClassifier(
        hidden_layer_sizes=(12, 8),
        activation=["relu", "tanh"],
        dropout=0.1,
        class_weight="balanced",
        max_iter=50,
        random_state=0,
        callbacks=[Count()],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train, X_val=X_test, y_val=y_test)
    assert clf.network_.activations == ["relu", "tanh"] and clf.network_.dropout == 0.1
    assert len(clf.validation_loss_curve_) == clf.n_iter_ == len(seen)
    assert set(clf.history_) >= {"loss", "val_loss", "lr"}
    assert [h.shape for h in clf.hidden_activations(X_test)] == [
        (len(X_test), 12),
        (len(X_test), 8),
    ]
    assert clf.coefs_[0].dtype == np.float32
    weights = np.where(y_train == "setosa", 5.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPClassifier(max_iter=20, random_state=0).fit(
            X_train, y_train, sample_weight=weights
        )
    assert weighted.score(X_test, y_test) > 0.6


def test_early_stopping_restores_the_best_validation_weights():
    X_train, _, y_train, _ = _iris_split()
    clf = MLPClassifier(
        early_stopping=True,
        n_iter_no_change=5,
        max_iter=500,
        random_state=0,
        learning_rate_init=0.01,
    ).fit(X_train, y_train)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ < 500
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.parametrize("task", ["strings", "multilabel", "regression", "two_outputs"])
def test_validation_scores_are_scikit_learns_accuracy_and_r2(task):
    """The per-epoch validation score is computed without scikit-learn's metrics (they
    cost a millisecond a call); the restored best weights must score the same by them."""
    from sklearn.metrics import accuracy_score, r2_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    if task == "strings":
        y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    elif task == "multilabel":
        y = (X[:, :3] > 0).astype(int)
    elif task == "regression":
        y = X @ rng.normal(size=4) + 0.1 * rng.normal(size=120)
    else:
        y = X[:, :2] * 2.0 - X[:, 2:]
    Estimator = MLPRegressor if task in ("regression", "two_outputs") else MLPClassifier
    model = Estimator(hidden_layer_sizes=(8,), early_stopping=True, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[:80], y[:80], X_val=X[80:], y_val=y[80:])
    metric = r2_score if Estimator is MLPRegressor else accuracy_score
    assert model.best_validation_score_ == pytest.approx(
        metric(y[80:], model.predict(X[80:])), abs=1e-12
    )


def test_pipeline_grid_search_cross_val_score_clone():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=200, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    grid = GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__alpha": [1e-4, 1e-2]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_score_ > 0.85 and len(grid.cv_results_["params"]) == 4
    twin = clone(MLPRegressor(hidden_layer_sizes=(7,), activation=["tanh"], dropout=0.2))
    assert twin.get_params()["activation"] == ["tanh"] and twin.dropout == 0.2


def test_grid_search_on_a_dask_cluster():
    """How a user who outgrows one machine spreads a search: joblib's dask backend on a
    LocalCluster (here two worker processes bound to 127.0.0.1)."""
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = load_iris(return_X_y=True)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(
            MLPClassifier(max_iter=50, random_state=0),
            {"hidden_layer_sizes": [(4,), (8,)]},
            cv=2,
            n_jobs=-1,
        ).fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.best_estimator_.n_iter_ > 0


@pytest.mark.parametrize("hidden", [(8,), (8, 4), (6, 5, 4)])
def test_a_fitted_estimator_of_any_depth_survives_pickling(hidden):
    """joblib and scikit-learn's parallel tools pickle fitted estimators (say,
    cross_validate(return_estimator=True, n_jobs=2)); a network that has trained holds
    fused gates, which pickle by their name in the gate table."""
    import pickle

    X, y = load_iris(return_X_y=True)
    model = MLPClassifier(hidden_layer_sizes=hidden, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        copy.partial_fit(X, y)  # and it trains on
        model.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))

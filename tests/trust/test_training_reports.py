"""Issue 16, section 4 (and 5): training reports that say what happened.

* early stopping's restored epoch is named, and its figures are the ones reported;
* a diverging run stops at the first non-finite loss, with a message and exit 1, and
  writes nothing; outputs that overflow are an error naming the rows;
* training metrics come from the batches' own forward passes, with no extra pass.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.errors import TrainingDiverged
from chainrule.tabular import OutputOverflow, TabularModel, TrainOptions
from chainrule.training import Callback, EarlyStopping, History, TerminateOnNaN, accuracy
from tests.command import run_chainrule


def chainrule_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    """This tree's command line (``python -m chainrule``), whatever is installed."""
    return run_chainrule(*args, cwd=cwd)


def _blobs(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


# Early stopping: which epoch's weights, and whose figures ------------------------------


def _early_stopped_iris(tmp_path: Path):
    """A CLI run on iris that stops early and restores an epoch before its last."""
    from sklearn.datasets import load_iris

    data = load_iris()
    path = tmp_path / "iris.csv"
    rows = [",".join([*map(str, x), str(t)]) for x, t in zip(data.data, data.target, strict=True)]
    path.write_text("a,b,c,d,species\n" + "\n".join(rows) + "\n")
    result = chainrule_cli(
        "train", path, "--target", "species", "--epochs", "400", "--early-stopping",
        "--patience", "4", "--lr", "0.05", "-o", "m.safetensors", "--plot", "c.png",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def test_the_summary_reports_the_restored_epoch_and_its_figures():
    X, _ = _blobs(200)
    rule = (X[:, 0] > 0).astype(int)
    model, history = TabularModel.train(
        X,
        np.where(rule == 1, "yes", "no"),
        ["a", "b", "c", "d"],
        "t",
        "classify",
        TrainOptions(hidden=(32,), epochs=300, early_stopping=True, patience=3, lr=0.05, verbose=0),
    )
    assert history.stopped_early
    best = int(np.argmin(history["val_loss"]))
    assert history.restored_epoch == history.epochs[best] < history.epochs[-1]
    summary = model.summary
    assert summary["restored_epoch"] == summary["final_epoch"] == history.epochs[best]
    assert summary["epochs_run"] == history.epochs[-1]
    assert summary["final"]["val_loss"] == history["val_loss"][best]
    assert summary["final"]["loss"] == history["loss"][best]
    assert summary["final"]["val_loss"] < history["val_loss"][-1]


def test_cli_names_the_restored_epoch_and_prints_and_stores_its_figures(tmp_path):
    result = _early_stopped_iris(tmp_path)
    inspected = chainrule_cli("inspect", "m.safetensors", "--json", cwd=tmp_path)
    summary = json.loads(inspected.stdout)["training"]
    ran, restored = summary["epochs_run"], summary["restored_epoch"]
    assert restored is not None and restored < ran
    title = f"after {ran} epochs (stopped early; weights of epoch {restored} restored)"
    assert title in result.stdout
    figures = summary["final"]
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ loss"))
    assert f"{figures['loss']:.4f}" in row and f"{figures['val_loss']:.4f}" in row
    assert "train: running mean over the epoch's batches" in result.stdout


def test_the_plot_marks_the_restored_epoch(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from chainrule import plots

    history = History()
    for epoch in range(1, 9):
        history.record(epoch, {"loss": 1 / epoch, "val_loss": 1 / epoch + epoch / 20})
    history.stopped_early, history.restored_epoch = True, 4
    lines = []
    plt = plots.pyplot()
    original = plt.Axes.axvline

    def spy(ax, x=0, *args, **kwargs):
        lines.append((x, kwargs.get("label")))
        return original(ax, x, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "axvline", spy)
    plots.plot_history(history, tmp_path / "curves.png")
    assert lines == [(4, "weights restored (epoch 4)")]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Divergence --------------------------------------------------------------------------


class LossLog(Callback):
    def __init__(self):
        self.losses = []

    def on_batch_end(self, state, batch, loss):
        self.losses.append(loss)


@pytest.mark.parametrize("lr", [100.0, 1e300])
def test_fit_stops_at_the_first_non_finite_loss(lr):
    X, y = _blobs(64)
    model = nn.MLP([4, 16, 2], output="softmax", seed=0)
    log = LossLog()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(TrainingDiverged) as caught:
            cr.fit(
                model,
                "cross_entropy",
                optim.SGD(model.parameters(), lr=lr),
                X * 100,
                y,
                epochs=50,
                batch_size=8,
                callbacks=[log],
                verbose=0,
                seed=0,
            )
    error = caught.value
    assert isinstance(error, ValueError)
    assert all(np.isfinite(log.losses))  # every batch before it was finite
    assert (error.epoch - 1) * 8 + error.batch == len(log.losses) + 1
    assert str(error).startswith(
        f"training diverged at epoch {error.epoch}, batch {error.batch}: the loss is "
    )
    assert str(error).endswith(f"lower the learning rate (it is {lr:g})")
    assert error.history.epochs == list(range(1, error.epoch))
    assert model.training  # the model is left in the mode it was in


def test_a_loss_that_overflows_before_any_update_blames_the_data():
    X, y = _blobs(16)
    model = nn.MLP([4, 8, 2], output="softmax", seed=0)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as caught:
        cr.fit(model, "cross_entropy", optim.SGD(model.parameters(), 0.1), X * 3e38, y, verbose=0)
    assert "epoch 1, batch 1" in str(caught.value)
    message = str(caught.value)  # X * 3e38 has values beyond float32's range
    assert "before any update, so the data overflow the network's float32" in message
    assert message.endswith("scale them") and "learning rate" not in message


def test_an_infinite_parameter_is_found_at_the_end_of_the_epoch():
    """A ReLU unit whose bias is -inf outputs 0: the loss stays finite, the weight is not."""
    X, y = _blobs(32)
    model = nn.MLP([4, 8, 2], output="softmax", seed=0)
    model.linear_layers[0].b.data[3] = -np.inf
    log = LossLog()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as caught:
        cr.fit(
            model,
            "cross_entropy",
            optim.SGD(model.parameters(), 0.1),
            X,
            y,
            epochs=5,
            callbacks=[log],
            verbose=0,
        )
    assert all(np.isfinite(log.losses)) and len(log.losses) == 1  # one batch of 32
    assert caught.value.epoch == 1 and caught.value.batch is None
    assert "parameter 'layers.0.b' holds inf" in str(caught.value)


def test_terminate_on_nan_still_returns_and_the_bad_step_is_not_applied():
    """The first batch's loss overflows with the initial, finite weights: TerminateOnNaN
    stops there, and the weights are still the initial ones (not NaN)."""
    X, y = _blobs(64)
    model = nn.MLP([4, 16, 2], output="softmax", seed=0)
    initial = [p.data.copy() for p in model.parameters()]
    with np.errstate(all="ignore"):
        history = cr.fit(
            model,
            "cross_entropy",
            optim.SGD(model.parameters(), lr=0.1),
            X * 3e38,
            y,
            epochs=5,
            batch_size=8,
            callbacks=[TerminateOnNaN()],
            verbose=0,
        )
    assert history.terminated_on_nan and history.epochs == [1]
    assert not np.isfinite(history["loss"][0])
    for now, then in zip(model.parameters(), initial, strict=True):
        np.testing.assert_array_equal(now.data, then)


def test_cli_refuses_a_diverging_run_and_writes_nothing(tmp_path):
    result = chainrule_cli(
        "train", "--dataset", "iris", "--optimizer", "sgd", "--lr", "100",
        "-o", "model.safetensors", "--plot", "curves.png", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors[-1].startswith("chainrule: error: training diverged at epoch ")
    assert errors[-1].endswith("lower the learning rate (it is 100)")
    assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
    assert "model written" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_scikit_learn_estimators_refuse_a_diverging_fit_as_scikit_learn_does():
    """scikit-learn's MLPClassifier raises ValueError ("Solver produced non-finite
    parameter weights"); chainrule's says where it diverged."""
    from chainrule.sklearn import MLPClassifier

    X, y = _blobs(100)
    estimator = MLPClassifier(solver="sgd", learning_rate_init=1e300, max_iter=5, random_state=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="training diverged"):
            estimator.fit(X * 100, y)


# Outputs that overflow -----------------------------------------------------------------


@pytest.fixture
def iris_model():
    from sklearn.datasets import load_iris

    data = load_iris()
    names = ["a", "b", "c", "d"]
    labels = data.target_names[data.target]
    model, _ = TabularModel.train(
        data.data, labels, names, "species", "classify", TrainOptions(epochs=3, verbose=0)
    )
    return model


def test_predicting_rows_whose_outputs_overflow_names_them(iris_model):
    X = np.tile([5.0, 3.0, 1.5, 0.2], (9, 1))
    X[2, 0] = X[7, 3] = 1e300
    for predict in (iris_model.predict, iris_model.predict_proba):
        with pytest.raises(OutputOverflow) as caught:
            predict(X)
        assert str(caught.value).startswith(
            "rows 2, 7 (counted from 0): the network's outputs overflow (features up to 1e+300"
        )
    np.testing.assert_array_equal(iris_model.predict(X[:2]), iris_model.predict(X[3:5]))


def _write_rows(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_predict_and_evaluate_csv_name_the_lines_that_overflow(tmp_path, iris_model):
    model_path = tmp_path / "iris.safetensors"
    iris_model.save(model_path)
    rows = ["5,3,1.5,0.2,setosa"] * 8
    rows[1] = "1e300,3,1.5,0.2,setosa"  # line 3
    rows[6] = "5,3,-1e300,0.2,setosa"  # line 8
    data = _write_rows(tmp_path / "new.csv", "a,b,c,d,species", rows)
    predicted = chainrule_cli("predict", model_path, data, "-o", "out.csv", cwd=tmp_path)
    assert predicted.returncode == 1
    assert predicted.stderr.startswith(
        f"chainrule: error: {data}: lines 3, 8: the network's outputs overflow "
    )
    assert len(predicted.stderr.splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()
    evaluated = chainrule_cli("evaluate", model_path, data, cwd=tmp_path)
    assert evaluated.returncode == 1
    assert evaluated.stderr.startswith(f"chainrule: error: {data}: lines 3, 8: ")


# Training metrics from the batches' own forward passes ----------------------------------


def _models():
    return {
        "mlp (chain walker)": nn.MLP([4, 8, 2], activation="tanh", output="softmax", seed=1),
        "sequential (graph)": nn.Sequential(
            nn.Linear(4, 8, rng=1), nn.Tanh(), nn.Linear(8, 2, rng=2), nn.Softmax()
        ),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_training_accuracy_is_the_batch_weighted_mean_of_the_batches_accuracies(name):
    """Each batch's accuracy is computed here independently: the weights before its
    step (kept by a callback) on that batch (in order, no shuffle: 7 + 7 + ... + 1)."""
    model = _models()[name]
    X, y = _blobs(50, seed=3)
    params = model.parameters()
    before = [[p.data.copy() for p in params]]

    class Keep(Callback):
        def on_batch_end(self, state, batch, loss):
            before.append([p.data.copy() for p in params])

    history = cr.fit(
        model,
        "cross_entropy",
        optim.SGD(params, lr=0.5),
        X,
        y,
        epochs=3,
        batch_size=7,
        metrics=["accuracy"],
        callbacks=[Keep()],
        shuffle=False,
        verbose=0,
    )
    final = [p.data.copy() for p in params]
    starts = list(range(0, 50, 7))
    for epoch in range(3):
        correct = 0.0
        for k, start in enumerate(starts):
            for p, value in zip(params, before[epoch * len(starts) + k], strict=True):
                p.data[...] = value
            xb, yb = X[start : start + 7], y[start : start + 7]
            correct += accuracy(yb, model.predict(xb)) * len(xb)
        assert history["accuracy"][epoch] == pytest.approx(correct / 50, abs=1e-12)
    for p, value in zip(params, final, strict=True):
        p.data[...] = value
    # not the accuracy of the weights after the epoch on the whole set
    assert history["accuracy"][0] != accuracy(y, model.predict(X))


def test_metrics_need_no_forward_pass_beyond_training_and_the_validation_loss(monkeypatch):
    """Every forward pass enters through the first layer (the chain walker and the graph
    alike): the rows it sees are the training batches and the validation set, once per
    epoch each, plus the one row fit uses to learn the output's width."""
    model = nn.MLP([4, 8, 2], output="softmax", seed=0)
    first = model.layers[0]
    seen = []
    for method in ("input_array", "checked_input"):
        original = getattr(first, method)

        def counted(x, original=original):
            seen.append(len(x))
            return original(x)

        monkeypatch.setattr(first, method, counted)
    X, y = _blobs(60)
    X_val, y_val = _blobs(25, seed=1)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.Adam(model.parameters(), 0.01),
        X,
        y,
        epochs=4,
        batch_size=16,
        validation_data=(X_val, y_val),
        metrics=["accuracy"],
        verbose=0,
    )
    assert set(history.history) >= {"accuracy", "val_accuracy"}
    assert sum(seen) == 1 + 4 * (60 + 25)


def test_validation_metrics_are_those_of_the_model_after_the_epoch():
    model = nn.MLP([4, 8, 2], output="softmax", seed=0)
    X, y = _blobs(60)
    X_val, y_val = _blobs(25, seed=1)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.Adam(model.parameters(), 0.01),
        X,
        y,
        epochs=2,
        validation_data=(X_val, y_val),
        metrics=["accuracy"],
        verbose=0,
    )
    assert history["val_accuracy"][-1] == accuracy(y_val, model.predict(X_val))


def test_early_stopping_history_still_restores(tmp_path):
    """The callbacks' view is unchanged: EarlyStopping restores, and fit says which."""
    X, y = _blobs(80)
    X_val = X[:30]
    y_val = 1 - y[:30]
    model = nn.MLP([4, 16, 2], activation="tanh", output="softmax", seed=0)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.Adam(model.parameters(), 0.01),
        X,
        y,
        epochs=50,
        validation_data=(X_val, y_val),
        callbacks=[EarlyStopping(patience=2)],
        verbose=0,
    )
    assert history.final_epoch == history.restored_epoch
    assert history.final()["val_loss"] == min(history["val_loss"])

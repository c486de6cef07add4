"""value_and_grad: the loss and every parameter's gradient in one call.

A network that is a chain of gates is backpropagated without a graph
(autodiff.chain).  Its gradients are checked against central differences in float64
(an oracle outside the engine), and its values and gradients against the recorded
graph's, bit for bit, since both must apply the same gates to the same arrays.
Whatever is not a chain takes the graph, and the tests check that it does."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autodiff.chain import value_and_grad_of_chain
from chainrule.nn import losses as losses_module

rng = np.random.default_rng(3)
X = rng.normal(size=(7, 3))
LABELS = rng.integers(0, 2, size=7)
BINARY = rng.integers(0, 2, size=(7, 2))
VALUES = rng.normal(size=(7, 2))
WEIGHTS = rng.uniform(0.5, 2.0, size=7)

# output layer, loss, targets
PAIRS = [
    ("softmax", "cross_entropy", LABELS),
    ("softmax", "cross_entropy", np.eye(2)[LABELS] * 0.8 + 0.1),  # probability rows
    ("identity", "cross_entropy", LABELS),  # an identity output is read as logits
    ("sigmoid", "binary_cross_entropy", BINARY),
    ("identity", "mse", VALUES),
    ("identity", "half_mse", VALUES),
    ("sigmoid", "mse", BINARY * 0.5 + 0.25),  # the sigmoid output is a link of the chain
]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "gelu", "identity"]


@pytest.fixture
def chain_calls(monkeypatch):
    """How many times value_and_grad took the graph-free chain."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return value_and_grad_of_chain(*args, **kwargs)

    monkeypatch.setattr(losses_module, "value_and_grad_of_chain", spy)
    return calls


def twin_models(**kwargs):
    return nn.MLP([3, 5, 4, 2], seed=0, **kwargs), nn.MLP([3, 5, 4, 2], seed=0, **kwargs)


def graph_value_and_grads(model, loss, x, y, sample_weight=None, gradient=None):
    value = nn.objective(model, loss)(x, y, sample_weight)
    value.backward(gradient)
    return value.item(), [p.grad for p in model.parameters()]


def assert_same_bits(chain_model, graph_model):
    for (name, a), b in zip(chain_model.named_parameters(), graph_model.parameters(), strict=True):
        assert a.grad is not None and b.grad is not None, name
        assert a.grad.dtype == b.grad.dtype and np.array_equal(a.grad, b.grad), name


@pytest.mark.parametrize("output,loss,target", PAIRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_chain_equals_the_recorded_graph_bit_for_bit(chain_calls, output, loss, target, weighted):
    chained, recorded = twin_models(activation="tanh", output=output, dtype="float32")
    weights = WEIGHTS if weighted else None
    value = nn.value_and_grad(chained, loss)(X, target, weights)
    expected, _ = graph_value_and_grads(recorded, loss, X, target, weights)
    assert chain_calls == [1]
    assert value == expected
    assert_same_bits(chained, recorded)


@pytest.mark.parametrize("output,loss,target", PAIRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_a_gradient_scale_seeds_backpropagation(chain_calls, output, loss, target, weighted):
    """grad_scale=c: every gradient is c times the gradient (the graph seeded with c,
    bit for bit), and the loss returned is the loss itself."""
    scale = 0.37
    chained, recorded = twin_models(activation="tanh", output=output, dtype="float32")
    weights = WEIGHTS if weighted else None
    value = nn.value_and_grad(chained, loss)(X, target, weights, grad_scale=scale)
    expected, _ = graph_value_and_grads(recorded, loss, X, target, weights, gradient=scale)
    assert chain_calls == [1]
    assert value == expected
    assert_same_bits(chained, recorded)
    model = nn.MLP([3, 5, 4, 2], activation="tanh", output=output, seed=0, dtype="float64")
    step = nn.value_and_grad(model, loss)
    value = step(X, target, weights, grad_scale=scale)
    scaled = [p.grad for p in model.parameters()]
    model.zero_grad()
    assert step(X, target, weights) == value
    for got, unscaled in zip(scaled, [p.grad for p in model.parameters()], strict=True):
        np.testing.assert_allclose(got, scale * unscaled, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("batch", [1, 7])
def test_every_hidden_activation_chains_bit_for_bit(chain_calls, activation, batch):
    chained, recorded = twin_models(activation=activation, output="softmax")
    value = nn.value_and_grad(chained, "cross_entropy")(X[:batch], LABELS[:batch])
    expected, _ = graph_value_and_grads(recorded, "cross_entropy", X[:batch], LABELS[:batch])
    assert chain_calls == [1]
    assert value == expected
    assert_same_bits(chained, recorded)


def central_differences(f, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step.flat[i] = h
        grad.flat[i] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("output,loss,target", PAIRS)
def test_chain_gradients_match_central_differences(chain_calls, output, loss, target):
    model = nn.MLP([3, 5, 4, 2], activation="gelu", output=output, seed=1, dtype="float64")
    step = nn.value_and_grad(model, loss)
    step(X, target, WEIGHTS)
    assert chain_calls == [1]
    for p in model.parameters():

        def loss_at(values, p=p):
            kept = p.data.copy()
            p.data[...] = values
            with cr.no_grad():
                value = nn.objective(model, loss)(X, target, WEIGHTS).item()
            p.data[...] = kept
            return value

        numerical = central_differences(loss_at, p.data.copy())
        np.testing.assert_allclose(p.grad, numerical, rtol=1e-6, atol=1e-8)


def test_gradients_accumulate_across_calls_as_backward_does(chain_calls):
    chained, recorded = twin_models(activation="relu", output="softmax")
    step = nn.value_and_grad(chained, "cross_entropy")
    step(X, LABELS)
    step(X[:4], LABELS[:4])
    graph_value_and_grads(recorded, "cross_entropy", X, LABELS)
    graph_value_and_grads(recorded, "cross_entropy", X[:4], LABELS[:4])
    assert chain_calls == [1, 1]
    assert_same_bits(chained, recorded)


def test_frozen_parameters_get_no_gradient(chain_calls):
    chained, recorded = twin_models(activation="tanh", output="softmax")
    for model in (chained, recorded):
        for p in model.linear_layers[0].parameters():
            p.requires_grad = False
    nn.value_and_grad(chained, "cross_entropy")(X, LABELS)
    graph_value_and_grads(recorded, "cross_entropy", X, LABELS)
    assert chain_calls == [1]
    for a, b in zip(chained.parameters(), recorded.parameters(), strict=True):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert np.array_equal(a.grad, b.grad)
    assert chained.linear_layers[0].U.grad is None


def test_a_model_with_nothing_to_train_is_an_error(chain_calls):
    model = nn.MLP([3, 4, 2], output="softmax", seed=0)
    for p in model.parameters():
        p.requires_grad = False
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        nn.value_and_grad(model, "cross_entropy")(X, LABELS)


def test_a_replaced_parameter_is_the_one_used(chain_calls):
    chained, recorded = twin_models(activation="tanh", output="softmax")
    for model in (chained, recorded):
        model.linear_layers[1].U = nn.Parameter(np.full((5, 4), 0.3))
    nn.value_and_grad(chained, "cross_entropy")(X, LABELS)
    graph_value_and_grads(recorded, "cross_entropy", X, LABELS)
    assert chain_calls == [1]
    assert_same_bits(chained, recorded)


@pytest.mark.parametrize(
    "target,message",
    [
        (np.array([0, 1, 2, 0, 1, 0, 1]), "class label 2 at row 2 is out of range"),
        (LABELS[:5], "5 targets for 7 samples"),
    ],
)
def test_bad_targets_give_the_graph_paths_errors(chain_calls, target, message):
    model = nn.MLP([3, 4, 2], output="softmax", seed=0)
    with pytest.raises(nn.LossInputError, match=message):
        nn.value_and_grad(model, "cross_entropy")(X, target)
    with pytest.raises(nn.LossInputError, match=message):
        nn.objective(model, "cross_entropy")(X, target)


def test_a_wrong_input_width_names_the_shapes(chain_calls):
    model = nn.MLP([4, 3, 2], output="softmax", seed=0)
    with pytest.raises(ValueError, match=r"expects inputs with 4 features.*\(7, 3\)"):
        nn.value_and_grad(model, "cross_entropy")(X, LABELS)


class _Doubled(nn.MLP):
    def forward(self, x):
        return super().forward(x) * 2.0


def _not_a_chain(case):
    """(model, loss, x, y) for a case that value_and_grad must send down the graph."""
    if case == "subclass":
        model = _Doubled([3, 5, 2], output="softmax", seed=0)
    elif case == "sequential":
        return nn.Sequential(nn.Linear(3, 2, rng=0), nn.Tanh()), "mse", X, VALUES
    elif case == "nll":  # a loss of several gates, with no one-gate form
        log_p = -np.abs(X[:, :2])
        return nn.MLP([2, 2], output="identity", seed=0), "nll", log_p, LABELS
    else:
        model = nn.MLP([3, 5, 2], output="softmax", seed=0)
    return model, "cross_entropy", X, LABELS


@pytest.mark.parametrize("case", ["subclass", "sequential", "nll", "anomaly"])
def test_what_is_not_a_plain_chain_takes_the_graph(chain_calls, case):
    model, loss, x, y = _not_a_chain(case)
    step = nn.value_and_grad(model, loss)
    if case == "anomaly":
        with cr.detect_anomaly():
            step(x, y)
    else:
        step(x, y)
    assert chain_calls == []
    assert all(p.grad is not None for p in model.parameters())


def test_an_input_tensor_that_wants_a_gradient_gets_it_through_the_graph(chain_calls):
    model = nn.MLP([3, 5, 2], output="softmax", seed=0, dtype="float64")
    x = cr.tensor(X, requires_grad=True)
    nn.value_and_grad(model, "cross_entropy")(x, LABELS)
    assert chain_calls == []
    assert x.grad is not None and x.grad.shape == X.shape


def test_a_1d_input_gets_the_graph_paths_error(chain_calls):
    model = nn.MLP([3, 5, 2], output="softmax", seed=0)
    with pytest.raises(nn.LossInputError, match="logits of shape"):
        nn.value_and_grad(model, "cross_entropy")(X[0], LABELS[:1])
    assert chain_calls == []


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_in_training_draws_the_graphs_masks_and_chains_bit_for_bit(chain_calls, dtype):
    chained, recorded = twin_models(activation="relu", output="softmax", dropout=0.4, dtype=dtype)
    step = nn.value_and_grad(chained, "cross_entropy")
    for batch in (7, 3):  # two calls: the masks of the second depend on the first's draws
        value = step(X[:batch], LABELS[:batch])
        expected, _ = graph_value_and_grads(recorded, "cross_entropy", X[:batch], LABELS[:batch])
        assert value == expected
    assert chain_calls == [1, 1]
    assert_same_bits(chained, recorded)
    dropouts = [m for m in chained.layers if isinstance(m, nn.Dropout)]
    twins = [m for m in recorded.layers if isinstance(m, nn.Dropout)]
    for ours, theirs in zip(dropouts, twins, strict=True):  # both drew the same numbers
        assert ours.rng.random() == theirs.rng.random()


def test_dropout_off_in_eval_mode_chains(chain_calls):
    chained, recorded = twin_models(activation="relu", output="softmax", dropout=0.5)
    chained.eval()
    recorded.eval()
    nn.value_and_grad(chained, "cross_entropy")(X, LABELS)
    graph_value_and_grads(recorded, "cross_entropy", X, LABELS)
    assert chain_calls == [1]
    assert_same_bits(chained, recorded)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fit_trains_through_the_chain_and_the_same_as_the_graph(
    monkeypatch, chain_calls, optimizer
):
    """fit() takes the chain; forcing the graph instead gives the same weights (with
    plain SGD, both seeded with the step size)."""
    data_x = rng.normal(size=(64, 3))
    data_y = (data_x[:, 0] > 0).astype(int)
    make = cr.optim.Adam if optimizer == "adam" else cr.optim.SGD

    def train():
        model = nn.MLP([3, 5, 4, 2], activation="relu", output="softmax", seed=0)
        optimizer = make(model.parameters(), lr=0.01)
        cr.fit(
            model,
            "cross_entropy",
            optimizer,
            data_x,
            data_y,
            epochs=3,
            batch_size=16,
            verbose=0,
            seed=0,
        )
        return model

    chained = train()
    assert len(chain_calls) == 3 * 4
    monkeypatch.setattr(nn.MLP, "chain", lambda self, x, logits=False: None)
    recorded = train()
    assert len(chain_calls) == 3 * 4
    for a, b in zip(chained.parameters(), recorded.parameters(), strict=True):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("output,loss,target", PAIRS)
def test_checked_targets_give_the_same_bits(chain_calls, output, loss, target):
    """targets_checked=True (what fit passes) skips the pass over the targets' values,
    and changes nothing else."""
    chained, recorded = twin_models(activation="relu", output=output)
    value = nn.value_and_grad(chained, loss, targets_checked=True)(X, target, WEIGHTS)
    expected, _ = graph_value_and_grads(recorded, loss, X, target, WEIGHTS)
    assert chain_calls == [1]
    assert value == expected
    assert_same_bits(chained, recorded)


def test_checked_targets_still_have_their_shape_checked(chain_calls):
    model = nn.MLP([3, 4, 2], output="sigmoid", seed=0)
    step = nn.value_and_grad(model, "binary_cross_entropy", targets_checked=True)
    with pytest.raises(nn.LossInputError, match=r"targets shaped like the output \(7, 2\)"):
        step(X, BINARY[:, :1].repeat(3, axis=1))


def test_a_weight_penalty_is_backpropagated_before_the_chain_as_the_graph_does(chain_calls):
    """A loss with a penalty term (scikit-learn's L2 on the U's): twice in a row, so that
    the order in which each gradient is summed shows in the bits."""
    from chainrule.sklearn import _Penalized

    chained, recorded = twin_models(activation="tanh", output="softmax")
    for model in (chained, recorded):
        penalized = _Penalized(nn.get_loss("cross_entropy"), model.U, alpha=0.3)
        if model is chained:
            step = nn.value_and_grad(model, penalized)
            values = [step(X, LABELS), step(X[:4], LABELS[:4]), step(X, LABELS, grad_scale=0.3)]
        else:
            expected = [
                graph_value_and_grads(model, penalized, X, LABELS)[0],
                graph_value_and_grads(model, penalized, X[:4], LABELS[:4])[0],
                graph_value_and_grads(model, penalized, X, LABELS, gradient=0.3)[0],
            ]
    assert chain_calls == [1, 1, 1]
    assert values == expected
    assert_same_bits(chained, recorded)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_the_estimators_train_through_the_chain_to_the_graphs_weights(
    monkeypatch, chain_calls, solver
):
    import warnings

    from chainrule.sklearn import MLPClassifier

    data_x = rng.normal(size=(60, 3))
    data_y = (data_x[:, 0] + data_x[:, 1] > 0).astype(int)

    def train():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MLPClassifier((6,), solver=solver, max_iter=4, random_state=0).fit(
                data_x, data_y
            )

    chained = train()
    used = len(chain_calls)
    monkeypatch.setattr(nn.MLP, "chain", lambda self, x, logits=False: None)
    recorded = train()
    assert used > 0 and len(chain_calls) == used
    assert chained.loss_ == recorded.loss_
    ours, theirs = chained.coefs_ + chained.intercepts_, recorded.coefs_ + recorded.intercepts_
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_the_chain_writes_an_activation_gradient_over_an_upstream_it_owns(
    chain_calls, monkeypatch, activation
):
    """Each hidden activation's gradient is written over the array the next layer's vjp
    made (nothing else holds it), and the gradients are still the graph's, bit for bit."""
    from chainrule.autodiff import gates

    written_over = []
    gate = gates.GATES[f"linear_{activation}"]  # a hidden layer and its activation
    vjp = gate.vjp

    def spy(xp, g, saved, needs, out=None):
        before = g.copy()
        grads = vjp(xp, g, saved, needs, out=out)
        # asked to, and did: g now holds the activation's gradient, not the upstream
        written_over.append(out is g and not np.array_equal(g, before))
        return grads

    monkeypatch.setattr(gate, "vjp", spy)
    chain_model, graph_model = twin_models(activation=activation)
    nn.value_and_grad(chain_model, "cross_entropy")(X, LABELS)
    assert chain_calls and written_over == [True, True]  # two hidden layers
    graph_value_and_grads(graph_model, "cross_entropy", X, LABELS)
    assert_same_bits(chain_model, graph_model)


def test_an_upstream_gradient_a_parameter_also_holds_is_never_written_over(monkeypatch):
    """The add gate hands its upstream gradient to both inputs as one array: when a
    parameter keeps it as its grad, the link before must not overwrite it in place."""
    from chainrule.autodiff import elementary, fused
    from chainrule.autodiff.chain import Link

    calls = []
    original = fused.LINEAR_THEN["relu"].vjp

    def spy(xp, g, saved, needs, out=None):
        if out is not None:
            calls.append(1)
        return original(xp, g, saved, needs, out=out)

    monkeypatch.setattr(fused.LINEAR_THEN["relu"], "vjp", spy)
    x = rng.normal(size=(4, 3))
    u, b = cr.nn.Parameter(rng.normal(size=(3, 2))), cr.nn.Parameter(rng.normal(size=2))
    shift = cr.nn.Parameter(rng.normal(size=(4, 2)))
    target = cr.tensor(rng.normal(size=(4, 2)))
    links = [Link(fused.LINEAR_THEN["relu"], (u, b)), Link(elementary.ADD, (shift,))]
    loss = Link(fused.SQUARED_ERROR, (target,), {"weights": 0.25, "scale": 1.0})
    value_and_grad_of_chain(x, links, loss)
    assert not calls  # the upstream of linear_relu is shift.grad itself: not taken over
    h = np.maximum(x @ u.data + b.data, 0)
    residual = 2 * 0.25 * (h + shift.data - target.data)  # d/d(prediction) of the loss
    np.testing.assert_allclose(shift.grad, residual, rtol=1e-12)
    np.testing.assert_allclose(u.grad, x.T @ (residual * (h > 0)), rtol=1e-12)

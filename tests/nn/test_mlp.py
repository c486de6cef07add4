"""The notes' network: shapes, the whole network's gradient against central differences,
and the (y_hat - y)/N identity at the logits for each output/loss pair."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_the_notes_network_has_U1_3x5_U2_5x4_U3_4x2():
    model = nn.MLP([3, 5, 4, 2], activation="tanh", output="softmax", seed=0)
    assert [u.shape for u in model.U] == [(3, 5), (5, 4), (4, 2)]
    assert model.num_parameters() == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "layers.0.U",
        "layers.0.b",
        "layers.2.U",
        "layers.2.b",
        "layers.4.U",
        "layers.4.b",
    ]
    out = model(np.ones((1, 3)))
    assert out.shape == (1, 2)
    assert out.data.sum() == pytest.approx(1.0, rel=1e-6)  # softmax rows sum to one


def test_one_activation_per_hidden_layer_and_bad_configurations():
    model = nn.MLP([3, 5, 4, 2], activation=["relu", "sigmoid"], seed=0)
    assert model.activations == ["relu", "sigmoid"]
    assert isinstance(model.layers[1], nn.ReLU) and isinstance(model.layers[3], nn.Sigmoid)
    with pytest.raises(ValueError, match="3 activations given for 2 hidden layers"):
        nn.MLP([3, 5, 4, 2], activation=["relu"] * 3)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([3, 5, 2], activation="swish")
    with pytest.raises(ValueError, match="unknown output layer 'softmin'"):
        nn.MLP([3, 2], output="softmin")


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu"])
def test_fused_layers_give_the_values_and_gradients_of_the_layers_in_a_row(activation):
    """logits() runs each Linear and its activation as one gate; running the same
    modules one by one (two gates each) must give the same numbers."""
    rng = np.random.default_rng(4)
    model = nn.MLP([4, 6, 5, 3], activation=activation, dropout=0.0, seed=2, dtype="float64")
    X = rng.normal(size=(8, 4))
    weights = rng.normal(size=(8, 3))

    fused = model.logits(X)
    gates = [n.gate.name for n in cr.autodiff.backward.topological_order(fused)]
    assert gates == [f"linear_{activation}", f"linear_{activation}", "linear"]
    (fused * weights).sum().backward()
    fused_grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    x = X
    for layer in model.layers:
        x = layer(x)
    (x * weights).sum().backward()

    np.testing.assert_allclose(fused.data, x.data, rtol=1e-14, atol=1e-15)
    for got, want in zip(fused_grads, [p.grad for p in model.parameters()], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_the_forward_pass_reads_the_layers_parameters_at_every_call():
    """logits() keeps a plan of its steps, not of the parameters: a weight matrix that
    the user replaces is the one used next, and only the first layer checks the input."""
    model = nn.MLP([3, 4, 2], activation="relu", seed=0, dtype="float64")
    X = np.ones((2, 3))
    before = model.logits(X).data
    model.layers[2].U = nn.Parameter(np.zeros((4, 2)))
    model.layers[2].b = nn.Parameter(np.full(2, 7.0))
    np.testing.assert_array_equal(model.logits(X).data, np.full((2, 2), 7.0))
    assert not np.array_equal(before, model.logits(X).data)
    with pytest.raises(ValueError, match="expects inputs with 3 features"):
        model.logits(np.ones((2, 4)))


def test_parameters_are_parts_of_one_array_and_stay_so_through_load_state_dict():
    model = nn.MLP([4, 6, 3], seed=5)
    flat = model.parameters()[0].data.base
    assert flat is not None and flat.size == model.num_parameters()
    assert all(p.data.base is flat for p in model.parameters())
    twin = nn.MLP([4, 6, 3], seed=5)
    twin.layers[0].U.data = twin.layers[0].U.data.copy()  # unflattened: the same values
    np.testing.assert_array_equal(twin.predict(np.ones((2, 4))), model.predict(np.ones((2, 4))))
    state = {k: v + 1.0 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert all(p.data.base is flat for p in model.parameters())
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, state[name])


def test_linear_computes_x_U_plus_b():
    layer = nn.Linear(3, 2, rng=0, dtype="float64")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.U.data + layer.b.data)
    with pytest.raises(ValueError, match="expects inputs with 3 features.*\\(2, 4\\)"):
        layer(np.ones((2, 4)))


def test_float64_input_does_not_upcast_a_float32_network():
    model = nn.MLP([3, 5, 2], activation="tanh", output="softmax", seed=0)
    assert model(np.ones((4, 3), dtype=np.float64)).dtype == np.float32


PAIRS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("identity", "mse")]


def _targets(output: str, rng, n: int, width: int):
    if output == "softmax":
        return rng.integers(0, width, size=n)
    if output == "sigmoid":
        return rng.integers(0, 2, size=(n, width)).astype(float)
    return rng.normal(size=(n, width))


@pytest.mark.parametrize(("output", "loss"), PAIRS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "elu", "softplus", "gelu"])
def test_the_whole_network_passes_gradcheck_in_float64(output, loss, activation):
    rng = np.random.default_rng(3)
    model = nn.MLP([3, 5, 4, 2], activation=activation, output=output, seed=1, dtype="float64")
    X = rng.normal(size=(6, 3))
    y = _targets(output, rng, 6, 2)
    compute = nn.objective(model, loss)
    params = model.parameters()

    def loss_of(*leaves):
        # the network computed from gradcheck's float64 leaves in place of its parameters
        for layer, u, b in zip(model.linear_layers, leaves[::2], leaves[1::2], strict=True):
            layer.U, layer.b = u, b
        return compute(X, y)

    report = cr.gradcheck(loss_of, *[p.data.copy() for p in params], atol=1e-7, rtol=1e-5)
    assert report.passed, str(report)


@pytest.mark.parametrize(("output", "loss"), [*PAIRS, ("identity", "half_mse")])
def test_gradient_at_the_logits_is_y_hat_minus_y_over_N(output, loss):
    rng = np.random.default_rng(5)
    n, width = 7, 3
    z = cr.tensor(rng.normal(size=(n, width)) * 3, requires_grad=True)
    y = _targets(output, rng, n, width)
    fn = nn.get_loss(loss)
    fn(z, y).backward()
    y_hat = {"softmax": cr.softmax(z.detach()).data, "sigmoid": cr.sigmoid(z.detach()).data}.get(
        output, z.data
    )
    y_dense = np.eye(width)[y] if output == "softmax" else y
    factor = 2.0 if loss == "mse" else 1.0  # (1/N) sum ||e||^2 differentiates to 2 e / N
    np.testing.assert_allclose(z.grad, factor * (y_hat - y_dense) / n, rtol=1e-10, atol=1e-14)


def test_objective_uses_logits_before_a_matching_output_and_refuses_mismatches():
    model = nn.MLP([3, 4, 3], activation="tanh", output="softmax", seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(5, 3))
    y = np.array([0, 1, 2, 1, 0])
    fused = nn.objective(model, "cross_entropy")(X, y).item()
    explicit = -np.log(model(X).data[np.arange(5), y]).mean()
    assert fused == pytest.approx(explicit, rel=1e-12)
    with pytest.raises(nn.LossInputError, match="sigmoid output.*ends in softmax"):
        nn.objective(model, "binary_cross_entropy")
    sigmoid_model = nn.MLP([3, 4, 3], output="sigmoid", seed=0)
    with pytest.raises(nn.LossInputError, match="softmax output.*ends in sigmoid"):
        nn.objective(sigmoid_model, "cross_entropy")


def test_hidden_activations_ignore_dropout_and_keep_the_mode():
    model = nn.MLP([3, 50, 50, 2], dropout=0.5, seed=0).train()
    X = np.ones((4, 3))
    # the second hidden layer sees the first one's dropout, if any is applied
    first, second = model.hidden_activations(X)[1], model.hidden_activations(X)[1]
    np.testing.assert_array_equal(first, second)
    assert model.training


def test_hidden_activations_returns_each_hidden_layer():
    model = nn.MLP([3, 5, 4, 2], activation=["relu", "tanh"], seed=0)
    outs = model.hidden_activations(np.ones((2, 3)))
    assert [o.shape for o in outs] == [(2, 5), (2, 4)]
    assert np.all(outs[0] >= 0) and np.all(np.abs(outs[1]) <= 1)


def test_dropout_in_training_only_and_scaled():
    drop = nn.Dropout(0.5, rng=0)
    x = np.ones((1000, 10))
    out = drop(x).data
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs((out == 0).mean() - 0.5) < 0.03
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0)


def test_predict_runs_without_graph_in_eval_mode_and_restores_mode():
    model = nn.MLP([3, 8, 2], dropout=0.5, seed=0)
    model.train()
    X = np.ones((10, 3))
    a, b = model.predict(X, batch_size=3), model.predict(X)
    np.testing.assert_array_equal(a, b)  # dropout off: deterministic
    assert model.training


def test_a_replaced_output_layer_is_the_one_used_next():
    """The forward plan is made again when the output layer is replaced, as when the
    layers are: on the graph and on the chain alike."""
    model = nn.MLP([3, 4, 2], activation="tanh", output="softmax", seed=0, dtype="float64")
    X = np.ones((2, 3))
    assert np.allclose(model(X).data.sum(axis=1), 1.0)  # softmax, and a plan made
    model.output_layer = nn.layers.Identity()
    np.testing.assert_array_equal(model(X).data, model.logits(X).data)
    _, links, _ = model.chain(X)
    assert [link[0].name for link in links] == ["linear_tanh", "linear"]


def test_a_subclass_logits_is_what_forward_applies_the_output_layer_to():
    class Silenced(nn.MLP):
        def logits(self, x):
            return super().logits(x) * 0.0

    model = Silenced([3, 4, 2], output="softmax", seed=0, dtype="float64")
    np.testing.assert_allclose(model(np.ones((1, 3))).data, [[0.5, 0.5]])
    assert model.chain(np.ones((1, 3))) is None  # not the plain chain: the graph


def test_a_network_pickled_before_the_forward_plan_existed_still_predicts():
    """A network saved by an earlier version (pickled by joblib, say) has none of the
    plan's attributes: it makes its plan at the first call."""
    import pickle

    model = nn.MLP([3, 4, 2], output="softmax", seed=0, dtype="float64")
    expected = model.predict(np.ones((2, 3)))
    state = pickle.loads(pickle.dumps(model)).__dict__
    for name in ("_plans", "_plan_of", "_plan_output"):
        state.pop(name, None)
    state.update(_steps_of=(), _steps=[], _chain_steps=None)  # the old caches
    old = nn.MLP.__new__(nn.MLP)
    old.__dict__.update(state)
    np.testing.assert_array_equal(old.predict(np.ones((2, 3))), expected)

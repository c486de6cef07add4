"""Issue 16, section 1: wrong numbers found by a differential comparison with PyTorch,
each checked here against an independent oracle (a closed form or central differences)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((2, 2), (-1, 0)), ((2, 3), (-1, 0)), ((1, 3), (-1, 0)), ((2, 3, 4), (0, -1, -2))],
)
def test_transpose_with_negative_axes_gets_its_gradient_right(shape, axes):
    """The gradient of sum(W * transpose(x, axes)) is W permuted back: the vjp inverts
    the permutation of the axes as non-negative numbers."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=shape), requires_grad=True)
    weights = rng.normal(size=np.transpose(x.data, axes).shape)
    (cr.transpose(x, axes) * weights).sum().backward()
    inverse = np.argsort([axis % len(shape) for axis in axes])
    np.testing.assert_array_equal(x.grad, np.transpose(weights, inverse))
    report = cr.gradcheck(lambda t: (cr.transpose(t, axes) * weights).sum(), x.data.copy())
    assert report.passed, str(report)


def test_a_gradient_that_cannot_be_unbroadcast_to_its_input_is_refused():
    """A gate whose vjp returns a gradient of the wrong shape raises, naming the gate,
    instead of broadcasting it into a silently wrong answer."""
    from chainrule.autodiff.gates import Gate

    gate = Gate(  # not registered: the gate tables' own tests see only real gates
        "test_wrong_shape_vjp",
        lambda xp, a: (a.T.copy(), None),
        lambda xp, g, saved, needs: (g,),  # forgets to transpose back
    )
    x = cr.tensor(np.ones((1, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"test_wrong_shape_vjp.*\(3, 1\).*\(1, 3\)"):
        cr.apply(gate, x).sum().backward()


@pytest.mark.parametrize("at", [0.0, 2.0, -3.0])
def test_x_to_the_power_zero_has_gradient_zero_everywhere(at):
    x = cr.tensor(np.array([at]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0])


def test_value_and_grad_draws_dropout_masks_once_with_a_softmax_output_under_mse():
    """As the README promises, value_and_grad gives what objective(...).backward() gives,
    here where the output layer (softmax) is read by a loss on outputs (mse)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), rng.uniform(size=(6, 3))

    def model():
        return nn.MLP([4, 8, 3], "relu", "softmax", dropout=0.5, seed=3, dtype="float64")

    fast, slow = model(), model()
    value = nn.value_and_grad(fast, "mse")(x, y)
    loss = nn.objective(slow, "mse")(x, y)
    loss.backward()
    assert value == loss.item()
    for a, b in zip(fast.parameters(), slow.parameters(), strict=True):
        np.testing.assert_array_equal(a.grad, b.grad)
    assert fast.layers[2].rng.random() == slow.layers[2].rng.random()  # the same draws


def test_the_chain_walker_refuses_the_same_wrong_shape_naming_the_gate():
    from chainrule.autodiff import fused
    from chainrule.autodiff.chain import value_and_grad_of_chain
    from chainrule.autodiff.gates import Gate
    from chainrule.nn.functional import mse_link

    wrong = Gate("test_wrong_shape_vjp", lambda xp, a: (a.T.copy(), None), lambda *a: (a[1],))
    u, b = nn.Parameter(np.ones((2, 3)), dtype="float64"), nn.Parameter(np.zeros(3), "float64")
    links = [(fused.LINEAR, (u, b), {}), (wrong, (), {})]
    loss = mse_link((3, 1), np.float64, np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"test_wrong_shape_vjp.*\(3, 1\).*\(1, 3\)"):
        value_and_grad_of_chain(np.ones((1, 2)), links, loss)


def _textbook_adam(theta, grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    """Adam as Kingma and Ba write it, for one parameter and the gradients it was given
    (t counts its own updates): the oracle."""
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return theta


@pytest.mark.parametrize("optimizer", [cr.optim.Adam, cr.optim.AdamW])
@pytest.mark.parametrize("grouped", [True, False])
def test_adam_counts_each_parameters_own_updates(optimizer, grouped, monkeypatch):
    """Two parameters, lr 0.1; only p has a gradient at step 1, both have gradient 1 at
    step 2: q's first update is a first update (q = 0.9), as in PyTorch."""
    if not grouped:
        monkeypatch.setattr(cr.optim.optimizers, "GROUP_LIMIT", 0)
    p, q = nn.Parameter(np.ones(2), "float64"), nn.Parameter(np.ones(3), "float64")
    opt = optimizer([p, q], lr=0.1, weight_decay=0.0)
    p.grad = np.ones(2)
    opt.step()
    p.grad, q.grad = np.ones(2), np.ones(3)
    opt.step()
    np.testing.assert_allclose(q.data, _textbook_adam(1.0, [1.0]), rtol=1e-12)
    np.testing.assert_allclose(p.data, _textbook_adam(1.0, [1.0, 1.0]), rtol=1e-12)
    assert opt.updates == [2, 1]
    for _ in range(3):  # from now on one parameter at a time, each with its own count
        p.grad, q.grad = np.ones(2), np.ones(3)
        opt.step()
    np.testing.assert_allclose(q.data, _textbook_adam(1.0, [1.0] * 4), rtol=1e-12)
    np.testing.assert_allclose(p.data, _textbook_adam(1.0, [1.0] * 5), rtol=1e-12)


def test_the_update_counts_are_saved_and_restored_with_the_optimizer():
    p, q = nn.Parameter(np.ones(2), "float64"), nn.Parameter(np.ones(3), "float64")
    opt = cr.optim.Adam([p, q], lr=0.1)
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    assert state["updates"] == [1, 0]
    again = cr.optim.Adam([p, q], lr=0.1)
    again.load_state_dict(state)
    assert again.updates == [1, 0]
    older = {key: value for key, value in state.items() if key != "updates"}
    again.load_state_dict(older)  # a state saved before the counts: every count = steps
    assert again.updates == [1, 1]


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda p: cr.optim.Adam(p, betas=(1, 1)), "betas"),
        (lambda p: cr.optim.Adam(p, betas=(0.9, -0.1)), "betas"),
        (lambda p: cr.optim.Adam(p, eps=0.0), "eps"),
        (lambda p: cr.optim.AdamW(p, weight_decay=-1.0), "weight_decay"),
        (lambda p: cr.optim.SGD(p, lr=float("inf")), "learning rate"),
        (lambda p: cr.optim.Adam(p, lr=float("nan")), "learning rate"),
    ],
)
def test_optimizers_refuse_settings_that_fail_later_naming_the_argument(make, names):
    with pytest.raises(ValueError, match=names):
        make([nn.Parameter(np.ones(2))])


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"sizes": "32"}, "sizes"),
        ({"sizes": [3, 2.5, 2]}, "sizes"),
        ({"sizes": [3, True, 2]}, "sizes"),
        ({"sizes": [3, 4, 2], "dropout": -0.5}, "dropout"),
        ({"sizes": [3, 4, 2], "dropout": 1.0}, "dropout"),
        ({"sizes": [3, 4, 2], "dtype": "float16"}, "dtype"),
    ],
)
def test_mlp_refuses_arguments_that_build_the_wrong_network(kwargs, names):
    with pytest.raises(ValueError, match=names):
        nn.MLP(**kwargs)


def test_a_tensor_of_text_is_refused():
    with pytest.raises(TypeError, match="dtype <U3"):
        cr.tensor("abc")
    assert cr.tensor(np.array([True, False])).dtype == bool  # conditions stay tensors

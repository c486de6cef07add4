"""The chain walker (``autodiff.chain.value_and_grad_of_chain``) on random chains drawn by
hypothesis, not only through an MLP (tests/nn/test_value_and_grad.py does that).

A drawn chain is a float64 batch run through 1..5 drawn links (a linear layer, every
fused ``linear_<activation>``, the elementwise activations as links of their own, a
constant dropout-like mask, the addition of a parameter of several shapes; some
parameters frozen) and one loss link made by the ``*_link`` functions of
:mod:`chainrule.nn.functional`.  On it:

* A: the chain walker and the recorded graph give the same loss and gradients, bit for
  bit, seeded with 1 or with another number;
* B: the chain walker's gradients match central differences (an oracle outside both
  walkers);
* C: two calls add their gradients and leave the arrays a caller held untouched;
* D: a gradient that ``take_grads`` reports as owned shares memory with nothing else;
* E: frozen parameters get no gradient, and a chain with nothing to train is an error.

Explicit examples add the patterns where ownership matters, which random draws seldom
put side by side.  The last two tests hold a bug found on the way: a 0-d parameter's
gradient came out of the chain walker as a NumPy scalar, reported owned.

Every example is built twice or more from the same drawn arrays, each time on fresh
copies, so that no two runs share an array.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.autodiff import chain, elementary, fused
from chainrule.autodiff.chain import Link
from chainrule.autodiff.gates import Gate
from chainrule.autodiff.tensors import Tensor, take_grads
from chainrule.nn import functional as F


def reproducible(count: int) -> settings:
    """Hypothesis settings for ``count`` examples, reproducible in CI: the examples are
    derived from the test alone (derandomize) and no database is read or written."""
    return settings(max_examples=count, deadline=None, derandomize=True, database=None)


# --------------------------------------------------------------------------------------
# What a chain is made of
# --------------------------------------------------------------------------------------

# The elementwise activations as links of their own.
ACTIVATIONS: dict[str, Gate] = {
    "relu": elementary.RELU,
    "tanh": elementary.TANH,
    "sigmoid": elementary.SIGMOID,
    "softplus": elementary.SOFTPLUS,
    "gelu": elementary.GELU,
    "elu": elementary.ELU,
    "leaky_relu": elementary.LEAKY_RELU,
    "exp": elementary.EXP,
}

# The options an activation takes, drawn from the example's generator.
OPTIONS: dict[str, Callable[[np.random.Generator], dict[str, float]]] = {
    "leaky_relu": lambda rng: {"slope": float(rng.uniform(0.01, 0.3))},
    "elu": lambda rng: {"alpha": float(rng.uniform(0.5, 1.5))},
}

# A layer: "linear", or a layer fused with its activation, "linear_<activation>".
LAYERS: dict[str, Gate] = {
    "linear": fused.LINEAR,
    **{gate.name: gate for gate in fused.LINEAR_THEN.values()},
}

LINK_KINDS = [*LAYERS, *ACTIVATIONS, "mask", "add_whole", "add_row", "add_widen", "add_scalar"]

# Links whose output lies in [-1, 1]: an exp after one of them cannot overflow.
BOUNDING = {"tanh", "sigmoid", "linear_tanh", "linear_sigmoid"}

LOSS_KINDS = ["ce_indices", "ce_rows", "bce", "mse", "half_mse"]
NOT_ON_ONE_CLASS = ["bce", "mse", "half_mse"]

# How a link's own input is made: a trainable nn.Parameter, a trainable tensor, a frozen
# nn.Parameter (requires_grad=False), or a constant (a mask; never trainable).
ROLES = st.sampled_from(["parameter", "parameter", "tensor", "frozen"])
TRAINABLE = ("parameter", "tensor")

GRADIENT = 0.37  # a seed other than 1, as fit passes its step size


@dataclasses.dataclass(frozen=True)
class LinkSpec:
    """One drawn link: its gate, the arrays of its own inputs and how each is made (see
    ``ROLES``), its options, and whether it is passed as a ``Link`` or a plain tuple."""

    kind: str
    gate: Gate
    arrays: tuple[np.ndarray, ...] = ()
    roles: tuple[str, ...] = ()
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    as_link: bool = True
    whole_add: bool = False  # an added parameter of the carried shape: its gradient is
    # the upstream itself, which the engine must not report as owned

    def __repr__(self) -> str:
        shapes = ",".join(
            f"{role}{array.shape}" for role, array in zip(self.roles, self.arrays, strict=True)
        )
        options = ",".join(f"{k}={v:.3g}" for k, v in self.options.items())
        return f"{self.kind}[{shapes}]{{{options}}}"


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """The drawn loss: its kind (``LOSS_KINDS``), targets and sample weights (or None)."""

    kind: str
    target: np.ndarray
    sample_weight: np.ndarray | None

    def __repr__(self) -> str:
        weighted = "weighted" if self.sample_weight is not None else "unweighted"
        return f"{self.kind}({weighted})"


@dataclasses.dataclass(frozen=True)
class ChainSpec:
    """A drawn chain: the seed its values came from, the input batch, links and loss."""

    seed: int
    x: np.ndarray
    links: tuple[LinkSpec, ...]
    loss: LossSpec

    def __repr__(self) -> str:
        steps = " -> ".join(map(repr, (*self.links, self.loss)))
        return f"ChainSpec(seed={self.seed}, x{self.x.shape}: {steps})"

    def inserting(self, where: int, link: LinkSpec) -> ChainSpec:
        """The same chain with ``link`` inserted before its link ``where`` (at the end if
        ``where`` is past it)."""
        links = list(self.links)
        links.insert(where, link)
        return dataclasses.replace(self, links=tuple(links))

    def frozen(self) -> ChainSpec:
        """The same chain with every trainable input frozen."""
        links = tuple(
            dataclasses.replace(
                link, roles=tuple("frozen" if r in TRAINABLE else r for r in link.roles)
            )
            for link in self.links
        )
        return dataclasses.replace(self, links=links)


# --------------------------------------------------------------------------------------
# The strategy
# --------------------------------------------------------------------------------------


def layer_link(
    draw: st.DrawFn, rng: np.random.Generator, kind: str, width: int, out: int | None = None
) -> tuple[LinkSpec, int]:
    """A linear layer, fused with an activation or not: U (width, out), b (out,); ``out``
    drawn in 1..4 unless given."""
    out = out if out is not None else draw(st.integers(1, 4))
    weight = rng.normal(size=(width, out)) / np.sqrt(width)
    bias = rng.normal(scale=0.5, size=out)
    activation = kind.removeprefix("linear").removeprefix("_")
    options = OPTIONS[activation](rng) if activation in OPTIONS else {}
    roles = (draw(ROLES), draw(ROLES))
    return LinkSpec(kind, LAYERS[kind], (weight, bias), roles, options, draw(st.booleans())), out


def add_link(
    draw: st.DrawFn, rng: np.random.Generator, form: str, n: int, width: int
) -> tuple[LinkSpec, int]:
    """The addition of a parameter: "whole", of the carried shape (its gradient is the
    upstream itself); "row", (width,) broadcast over the batch, or "scalar", a 0-d one
    broadcast over everything (its gradient is summed); "widen", (n, w) on a one-column
    value, which it broadcasts up (the carried value's gradient is then summed)."""
    if form == "whole":
        shape: tuple[int, ...] = (n, width)
    elif form == "row":
        shape = (width,)
    elif form == "scalar":
        shape = ()
    else:
        assert width == 1, "only a one-column value is widened"
        width = draw(st.integers(2, 4))
        shape = (n, width)
    array = rng.normal(scale=0.5, size=shape)
    link = LinkSpec(
        f"add_{form}",
        elementary.ADD,
        (array,),
        (draw(ROLES),),
        as_link=draw(st.booleans()),
        whole_add=form == "whole",
    )
    return link, width


def mask_link(draw: st.DrawFn, rng: np.random.Generator, n: int, width: int) -> LinkSpec:
    """The product with a constant mask, as dropout makes: 0 or 1 / (1 - p)."""
    p = draw(st.sampled_from([0.25, 0.5]))
    mask = (rng.random((n, width)) >= p) / (1 - p)
    return LinkSpec("mask", elementary.MUL, (mask,), ("constant",), as_link=draw(st.booleans()))


def links_of_kind(
    draw: st.DrawFn, rng: np.random.Generator, kind: str, n: int, width: int, bounded: bool
) -> list[tuple[LinkSpec, int]]:
    """The links one drawn kind stands for, each with the width of the value it makes:
    an exp of a value not known to be bounded comes after a tanh, and the widening of a
    value of several columns after a layer to one column."""
    if kind in LAYERS:
        return [layer_link(draw, rng, kind, width)]
    if kind == "mask":
        return [(mask_link(draw, rng, n, width), width)]
    if kind.startswith("add_"):
        before = []
        if kind == "add_widen" and width != 1:
            before, width = [layer_link(draw, rng, "linear", width, out=1)], 1
        return [*before, add_link(draw, rng, kind.removeprefix("add_"), n, width)]
    options = OPTIONS[kind](rng) if kind in OPTIONS else {}
    link = LinkSpec(kind, ACTIVATIONS[kind], options=options, as_link=draw(st.booleans()))
    if kind == "exp" and not bounded:
        return [(LinkSpec("tanh", elementary.TANH), width), (link, width)]
    return [(link, width)]


def with_something_trainable(
    draw: st.DrawFn, rng: np.random.Generator, links: list[LinkSpec], widths: list[int], n: int
) -> list[LinkSpec]:
    """``links`` with at least one trainable input: a frozen one thawed if there is one,
    else a trainable parameter of the carried shape added somewhere in the chain."""
    if any(role in TRAINABLE for link in links for role in link.roles):
        return links
    frozen = [
        (i, k) for i, link in enumerate(links) for k, r in enumerate(link.roles) if r == "frozen"
    ]
    if frozen:
        i, k = draw(st.sampled_from(frozen))
        roles = list(links[i].roles)
        roles[k] = "parameter"
        links[i] = dataclasses.replace(links[i], roles=tuple(roles))
        return links
    where = draw(st.integers(0, len(links)))
    add, _ = add_link(draw, rng, "whole", n, widths[where])
    return [*links[:where], dataclasses.replace(add, roles=("parameter",)), *links[where:]]


def loss_spec(draw: st.DrawFn, rng: np.random.Generator, n: int, width: int) -> LossSpec:
    """A loss on the chain's (n, width) output: cross-entropy with class indices or
    probability rows (on two classes or more: on one it is 0 whatever the logits), BCE
    on logits with 0/1 targets, MSE or half MSE; weighted or not."""
    kind = draw(st.sampled_from(LOSS_KINDS if width > 1 else NOT_ON_ONE_CLASS))
    if kind == "ce_indices":
        target = rng.integers(0, width, size=n)
    elif kind == "ce_rows":
        target = rng.dirichlet(np.ones(width), size=n)
    elif kind == "bce":
        target = rng.integers(0, 2, size=(n, width))
    else:
        target = rng.normal(size=(n, width))
    weighted = draw(st.booleans())
    return LossSpec(kind, target, rng.uniform(0.2, 2.0, size=n) if weighted else None)


@st.composite
def chains(draw: st.DrawFn, max_links: int = 5) -> ChainSpec:
    """A random chain on float64 with at least one trainable input: batch size 1..6,
    input width 1..4, 1..``max_links`` drawn links, one loss.  Hypothesis draws the
    structure; the values come from a generator seeded by a drawn number, moderate so
    that central differences are meaningful."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 6))
    width = draw(st.integers(1, 4))
    x = rng.normal(size=(n, width))
    links: list[LinkSpec] = []
    widths = [width]  # widths[i]: the width of the value entering links[i]
    bounded = False
    for _ in range(draw(st.integers(1, max_links))):
        kind = draw(st.sampled_from(LINK_KINDS))
        for link, made_width in links_of_kind(draw, rng, kind, n, width, bounded):
            links.append(link)
            widths.append(made_width)
        width = widths[-1]
        bounded = kind in BOUNDING or (bounded and kind == "mask")
    links = with_something_trainable(draw, rng, links, widths, n)
    return ChainSpec(seed, x, tuple(links), loss_spec(draw, rng, n, width))


def layer_then_added_whole(
    n: int, layer: str = "linear", between: tuple[str, ...] = (), added: str = "parameter"
) -> ChainSpec:
    """A chain for the patterns where ownership matters, which random draws seldom put
    side by side: a trainable ``layer`` on a batch of ``n``, the activations ``between``
    as links of their own, then a parameter of the carried shape added, made as ``added``
    says (see ``ROLES``), and MSE.  The added parameter's gradient is the upstream
    itself: a gate before it that writes over an upstream it owns (tanh, relu, sigmoid,
    fused or not) must not write over that one, and on a batch of one the layer's bias
    gradient is a view of it, so neither may be reported as owned."""
    rng = np.random.default_rng(0)
    activation = layer.removeprefix("linear").removeprefix("_")
    options = {"leaky_relu": {"slope": 0.1}, "elu": {"alpha": 1.0}}
    arrays = (rng.normal(size=(2, 3)), rng.normal(size=3))
    links = [
        LinkSpec(layer, LAYERS[layer], arrays, ("parameter",) * 2, options.get(activation, {}))
    ]
    links += [LinkSpec(kind, ACTIVATIONS[kind], options=options.get(kind, {})) for kind in between]
    whole = (rng.normal(size=(n, 3)),)
    links.append(LinkSpec("add_whole", elementary.ADD, whole, (added,), whole_add=True))
    loss = LossSpec("mse", rng.normal(size=(n, 3)), None)
    return ChainSpec(0, rng.normal(size=(n, 2)), tuple(links), loss)


# --------------------------------------------------------------------------------------
# Building and running a drawn chain
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class BuiltChain:
    """A drawn chain made of fresh arrays: the input, the links and the loss link, the
    parameters in chain order (trainable and frozen), the parameters added whole (of the
    carried shape), and the constant arrays the links hold (masks, targets, weights)."""

    x: np.ndarray
    links: list[Link | tuple[Gate, tuple[Tensor, ...], dict[str, Any]]]
    loss: Link
    parameters: list[Tensor]
    whole_adds: list[Tensor]
    constants: list[np.ndarray]

    @property
    def trainable(self) -> list[Tensor]:
        return [p for p in self.parameters if p.requires_grad]

    @property
    def frozen(self) -> list[Tensor]:
        return [p for p in self.parameters if not p.requires_grad]


def make_input(array: np.ndarray, role: str) -> Tensor:
    """A tensor on a copy of ``array``, made as ``role`` says (see ``ROLES``)."""
    data = array.copy()
    if role == "parameter":
        return nn.Parameter(data)
    if role == "tensor":
        return cr.tensor(data, requires_grad=True)
    if role == "frozen":
        frozen = nn.Parameter(data)
        frozen.requires_grad = False
        return frozen
    return cr.tensor(data)


def loss_link(spec: LossSpec, shape: tuple[int, ...]) -> Link:
    """The loss link of ``spec`` on outputs of ``shape``, from the ``*_link`` functions."""
    target = spec.target.copy()
    weight = None if spec.sample_weight is None else spec.sample_weight.copy()
    if spec.kind in ("ce_indices", "ce_rows"):
        return F.cross_entropy_link(shape, np.float64, target, weight)
    if spec.kind == "bce":
        return F.binary_cross_entropy_with_logits_link(shape, np.float64, target, weight)
    return F.mse_link(shape, np.float64, target, spec.kind == "half_mse", weight)


def arrays_held_by(link: Any) -> list[np.ndarray]:
    """The arrays a link holds as constants: its inputs that require no gradient and the
    arrays among its options."""
    _, inputs, options = link
    held = [t.data for t in inputs if not t.requires_grad]
    return held + [v for v in options.values() if isinstance(v, np.ndarray)]


def build(spec: ChainSpec) -> BuiltChain:
    """``spec`` made of fresh copies of its arrays: no two builds share an array."""
    links: list[Any] = []
    parameters: list[Tensor] = []
    whole_adds: list[Tensor] = []
    constants: list[np.ndarray] = []
    for link in spec.links:
        inputs = tuple(map(make_input, link.arrays, link.roles))
        for tensor, role in zip(inputs, link.roles, strict=True):
            if role == "constant":
                constants.append(tensor.data)
            else:
                parameters.append(tensor)
                if link.whole_add:
                    whole_adds.append(tensor)
        options = dict(link.options)
        links.append(
            Link(link.gate, inputs, options) if link.as_link else (link.gate, inputs, options)
        )
    x = spec.x.copy()
    shape = forward_shape(x, links)
    loss = loss_link(spec.loss, shape)
    constants.extend(arrays_held_by(loss))
    return BuiltChain(x, links, loss, parameters, whole_adds, constants)


def forward_shape(x: np.ndarray, links: list[Any]) -> tuple[int, ...]:
    """The shape of the chain's last value (the loss link is made for it)."""
    with cr.no_grad():
        return chain.record(cr.tensor(x), links).shape


def run_chain(built: BuiltChain, gradient: float | None = None) -> float:
    """The chain walker on ``built``: its loss; the gradients go to the parameters."""
    if gradient is None:
        return chain.value_and_grad_of_chain(built.x, built.links, built.loss)
    return chain.value_and_grad_of_chain(built.x, built.links, built.loss, gradient=gradient)


def run_graph(built: BuiltChain, gradient: float | None = None) -> float:
    """The links and the loss link recorded on the graph, then ``backward(gradient)``."""
    loss = chain.record(chain.record(cr.tensor(built.x), built.links), [built.loss])
    loss.backward(gradient)
    return loss.item()


def forward_loss(built: BuiltChain) -> float:
    """The loss alone, with nothing recorded."""
    with cr.no_grad():
        return chain.record(chain.record(cr.tensor(built.x), built.links), [built.loss]).item()


def central_differences(built: BuiltChain, parameter: Tensor, h: float = 1e-6) -> np.ndarray:
    """d loss / d parameter by central differences, (L(p + h) - L(p - h)) / 2h per
    element: an oracle that uses neither walker's backward."""
    grad = np.empty_like(parameter.data)
    flat = parameter.data.reshape(-1)  # a view: the links see every change
    for i in range(flat.size):
        kept = flat[i]
        flat[i] = kept + h
        above = forward_loss(built)
        flat[i] = kept - h
        below = forward_loss(built)
        flat[i] = kept
        grad.flat[i] = (above - below) / (2 * h)
    return grad


# --------------------------------------------------------------------------------------
# A: the chain walker is the recorded graph, bit for bit
# --------------------------------------------------------------------------------------


@reproducible(200)
@example(spec=layer_then_added_whole(1), gradient=None)
@example(spec=layer_then_added_whole(3, between=("tanh",)), gradient=GRADIENT)
@example(spec=layer_then_added_whole(2, "linear_relu"), gradient=None)
@example(spec=layer_then_added_whole(1, "linear_sigmoid", ("relu",)), gradient=None)
@example(spec=layer_then_added_whole(1, added="frozen"), gradient=GRADIENT)
@given(spec=chains(), gradient=st.sampled_from([None, GRADIENT]))
def test_chain_walker_equals_the_recorded_graph_bit_for_bit(
    spec: ChainSpec, gradient: float | None
) -> None:
    walked, recorded = build(spec), build(spec)
    assert run_chain(walked, gradient) == run_graph(recorded, gradient)
    for ours, theirs in zip(walked.parameters, recorded.parameters, strict=True):
        if not ours.requires_grad:
            assert ours.grad is None and theirs.grad is None
            continue
        assert ours.grad is not None and theirs.grad is not None
        # (their classes may differ for a 0-d parameter: the known bug at the end)
        assert ours.grad.shape == ours.shape and ours.grad.dtype == theirs.grad.dtype
        assert np.array_equal(ours.grad, theirs.grad)


# --------------------------------------------------------------------------------------
# B: the chain walker against central differences
# --------------------------------------------------------------------------------------


@reproducible(150)
@given(spec=chains(), gradient=st.sampled_from([None, GRADIENT]))
def test_chain_walker_matches_central_differences(spec: ChainSpec, gradient: float | None) -> None:
    built = build(spec)
    value = run_chain(built, gradient)
    assert value == pytest.approx(forward_loss(built), rel=1e-12, abs=1e-12)
    scale = 1.0 if gradient is None else gradient
    for parameter in built.trainable:
        numerical = scale * central_differences(built, parameter)
        np.testing.assert_allclose(parameter.grad, numerical, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------
# C: two calls add up, into new arrays
# --------------------------------------------------------------------------------------


@reproducible(100)
@example(spec=layer_then_added_whole(1, "linear_relu"))
@given(spec=chains())
def test_two_calls_add_their_gradients_and_leave_held_arrays_alone(spec: ChainSpec) -> None:
    built, recorded = build(spec), build(spec)
    run_chain(built)
    held = [p.grad for p in built.trainable]  # read: from now on the caller's
    copies = [grad.copy() for grad in held]
    run_chain(built)
    for _ in range(2):  # the graph accumulates the same, bit for bit
        run_graph(recorded)
    for parameter, grad, copy in zip(built.trainable, held, copies, strict=True):
        assert np.array_equal(grad, copy), "a gradient the caller held was modified"
        assert not np.shares_memory(parameter.grad, grad)
        np.testing.assert_allclose(parameter.grad, 2 * copy, rtol=1e-15, atol=0)
    for ours, theirs in zip(built.trainable, recorded.trainable, strict=True):
        assert np.array_equal(ours.grad, theirs.grad)


# --------------------------------------------------------------------------------------
# D: ownership is never wrong
# --------------------------------------------------------------------------------------


@reproducible(150)
@example(spec=layer_then_added_whole(1), calls=1)
@example(spec=layer_then_added_whole(4, "linear_tanh", ("sigmoid",)), calls=1)
@given(spec=chains(), calls=st.integers(1, 2))
def test_an_owned_gradient_shares_memory_with_nothing_else(spec: ChainSpec, calls: int) -> None:
    built = build(spec)
    for _ in range(calls):
        run_chain(built)
    taken = take_grads(built.parameters)
    grads = [grad for grad, _ in taken]
    held = [built.x, *(p.data for p in built.parameters), *built.constants]
    for index, (parameter, (grad, owned)) in enumerate(zip(built.parameters, taken, strict=True)):
        if calls == 1 and any(parameter is p for p in built.whole_adds):
            assert not owned, "the gradient of a parameter added whole is the upstream itself"
        if not owned:
            continue
        others = [g for k, g in enumerate(grads) if k != index and g is not None]
        for other in [*others, *held]:
            assert not np.shares_memory(grad, other), "an owned gradient shares memory"
    watched = [grad for grad, owned in taken if grad is not None and not owned] + held
    copies = [array.copy() for array in watched]
    for grad, owned in taken:  # what an optimizer may do with a gradient it owns
        if owned:
            grad.fill(np.nan)  # (a NumPy scalar ignores it: the known bug at the end)
    for array, copy in zip(watched, copies, strict=True):
        assert np.array_equal(array, copy), "writing over an owned gradient changed another array"


# --------------------------------------------------------------------------------------
# E: frozen parameters
# --------------------------------------------------------------------------------------


@reproducible(80)
@example(spec=layer_then_added_whole(3, added="frozen"))
@given(spec=chains())
def test_frozen_parameters_get_no_gradient(spec: ChainSpec) -> None:
    built = build(spec)
    run_chain(built)
    assert all(p.grad is None for p in built.frozen)
    assert all(p.grad is not None for p in built.trainable)


@reproducible(50)
@given(spec=chains())
def test_a_chain_with_nothing_to_train_is_an_error(spec: ChainSpec) -> None:
    walked, recorded = build(spec.frozen()), build(spec.frozen())
    assert not walked.trainable
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        run_chain(walked)
    with pytest.raises(RuntimeError):
        run_graph(recorded)
    assert all(p.grad is None for p in walked.parameters + recorded.parameters)


# --------------------------------------------------------------------------------------
# A bug found: a 0-d parameter's gradient from the chain walker is a NumPy scalar
# --------------------------------------------------------------------------------------

# A trainable 0-d parameter added to the carried value: its gradient is summed over it all.
SCALAR_ADD = LinkSpec("add_scalar", elementary.ADD, (np.array(0.3),), ("parameter",))


@reproducible(10)
@given(spec=chains(), where=st.integers(0, 6))
def test_every_gradient_is_an_array_as_the_graphs(spec: ChainSpec, where: int) -> None:
    spec = spec.inserting(where, SCALAR_ADD)
    walked, recorded = build(spec), build(spec)
    run_chain(walked)
    run_graph(recorded)
    for ours, theirs in zip(walked.trainable, recorded.trainable, strict=True):
        assert type(theirs.grad) is np.ndarray
        assert type(ours.grad) is np.ndarray, f"a {type(ours.grad).__name__}, not an array"


@reproducible(10)
@given(spec=chains(), where=st.integers(0, 6))
def test_an_owned_gradient_can_be_written_over_in_place(spec: ChainSpec, where: int) -> None:
    built = build(spec.inserting(where, SCALAR_ADD))
    run_chain(built)
    for grad, owned in take_grads(built.parameters):
        if owned:  # as an optimizer reusing the gradient's array does
            np.multiply(grad, 0.5, out=grad)

"""Backpropagation through a chain of gates, without recording a graph.

A feedforward network under its loss is a chain: each gate takes the value the gate
before it made, plus inputs of its own (the layer's parameters, the loss's targets),
and the last gate makes the scalar loss.  Backpropagating through a chain needs none
of the graph's bookkeeping: no tensor per value, no topological sort, no summing of
gradients where a value is used twice (none is).  Each gate's vjp is applied in
reverse order to what its forward saved,

    downstream gradient = upstream gradient x local gradient,

and the gradient of every parameter is added to its ``grad`` as :func:`backward` adds
it.  The gates, their order, their inputs and hence every value and gradient are those
of the recorded graph, bit for bit (the tests compare the two); only the bookkeeping
goes.  On a small network that bookkeeping is most of a training step's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from .arrays import array_module
from .backward import _fit, accumulate_grad, blamed, seed
from .gates import Gate
from .tensors import Tensor, apply


class Link(NamedTuple):
    """One gate of a chain.  It is applied to the value before it, then to ``inputs``:
    tensors, the layer's parameters (their gradients are kept when they require them)
    or constants (a loss's targets, as tensors that require none), with keyword
    ``options``.  A plain ``(gate, inputs, options)`` tuple serves as well."""

    gate: Gate
    inputs: tuple[Tensor, ...] = ()
    options: Mapping[str, Any] = MappingProxyType({})


# What the walkers take for a link: a Link, or the same three things as a plain tuple,
# which the hot paths make (a tuple is cheaper to make than a NamedTuple).
AnyLink = Link | tuple[Gate, tuple[Tensor, ...], Mapping[str, Any]]


def record(x: Tensor, links: Iterable[AnyLink]) -> Tensor:
    """Run ``x`` through ``links`` on the graph: each link's gate applied with
    :func:`apply`, so that ``backward()`` can walk it.  The chain walker,
    :func:`value_and_grad_of_chain`, runs the same links without the graph."""
    for gate, inputs, options in links:
        x = apply(gate, x, *inputs, **options)
    return x


def value_and_grad_of_chain(
    x: Any,
    links: Sequence[AnyLink],
    loss: AnyLink,
    gradient: float = 1.0,
    keep: list[Any] | None = None,
) -> float:
    """Run ``x`` through ``links`` and then ``loss`` (a gate with a scalar output, made
    for the shape and dtype of the last value), backpropagate from that output, add each
    parameter's gradient to its ``grad``; return the output as a float.

    ``gradient`` is what backpropagation starts from, as ``backward(gradient)`` takes
    it (:func:`backward.seed`): each parameter then receives gradient x d output / d
    parameter.  ``keep``, a list, is given the value the loss gate took (the last
    link's output, which no vjp writes over).

    ``x`` is an array that requires no gradient.  Nothing is recorded: the result is
    what :func:`record` and ``backward()`` on the same links give, with the graph's
    bookkeeping left out.  The gradient arriving at a link is this walk's own array
    when the link after it made it (a new array, by the gates' contract), and a gate
    that can write its local gradient over it (``Gate.vjp_out``) then does.  This runs
    once per training step, so it is written for speed: no call per link beyond the
    gate's own."""
    xp = np if x.__class__ is np.ndarray else array_module(x)
    chain = (*links, loss)
    outputs = []  # each link's output: the shape and dtype of the gradient it receives
    saved = []  # what each link's forward kept for its vjp
    needs = []  # which inputs of each link want a gradient, the carried value first
    carried = False  # whether the carried value depends on a parameter that wants one
    value = x
    for gate, inputs, options in chain:
        arrays = []
        need = [carried]
        for tensor in inputs:
            arrays.append(tensor.data)
            need.append(tensor.requires_grad)
        value, kept = gate.forward(xp, value, *arrays, **options)
        outputs.append(value)
        saved.append(kept)
        needs.append(need)
        carried = True in need
    if keep is not None:
        keep.append(outputs[-2] if links else x)
    if not carried:
        raise RuntimeError(
            "no input of the chain requires a gradient (every parameter has "
            "requires_grad=False): there is nothing to backpropagate to"
        )
    if value.shape != ():  # a NumPy scalar or a 0-d array
        raise ValueError(
            f"the chain's last gate '{loss[0].name}' gave shape {value.shape}, not a scalar"
        )
    upstream = seed(value, gradient)
    owned = True  # whether `upstream` is this walk's own array
    for i in range(len(chain) - 1, -1, -1):
        output = outputs[i]
        gate, inputs, _ = chain[i]
        if (  # a gradient of the output's shape and dtype
            upstream.__class__ is not np.ndarray
            or upstream.shape != output.shape
            or upstream.dtype is not output.dtype
        ):
            fitted = _fitted(upstream, output, chain[i + 1][0])
            owned = owned if fitted is upstream else fitted.base is None
            upstream = fitted
        need = needs[i]
        write_over = owned and gate.vjp_out
        if write_over:
            grads = gate.vjp(xp, upstream, saved[i], need, upstream)  # out=upstream
        else:
            grads = gate.vjp(xp, upstream, saved[i], need)
        saved[i] = None  # freed as soon as it is used, as backward() frees a node's
        try:  # a gradient that cannot be its input's is named by its gate
            for k, tensor in enumerate(inputs, 1):
                grad = grads[k]
                if grad is not None and need[k]:
                    accumulate_grad(tensor, grad, upstream)
        except ValueError as error:
            raise blamed(gate, error) from None
        carried_grad = grads[0]
        if carried_grad is None or not need[0]:  # nothing before this link wants one
            break
        # ours when the vjp made it (not the upstream, not a view: the gates' contract),
        # or wrote it over the upstream that was ours and gave no other input a gradient
        # (which could be a view of it)
        owned = (
            carried_grad.base is None if carried_grad is not upstream else write_over and not inputs
        ) and carried_grad.__class__ is np.ndarray
        upstream = carried_grad
    return float(value)


def _fitted(grad: Any, output: Any, sender: Gate) -> Any:
    """``grad``, sent back by ``sender``'s vjp, fitted to the output it belongs to."""
    try:
        return _fit(grad, output)
    except ValueError as error:
        raise blamed(sender, error) from None

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

import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from .arrays import SOLE_REFERENCE, array_module
from .backward import _fit, _sum
from .gates import Gate
from .tensors import Tensor


class Link(NamedTuple):
    """One gate of a chain.  It is applied to the value before it, then to ``inputs``:
    tensors, the layer's parameters (their gradients are kept when they require them)
    or constants (a loss's targets, as tensors that require none), with keyword
    ``options``."""

    gate: Gate
    inputs: tuple[Tensor, ...] = ()
    options: Mapping[str, Any] = MappingProxyType({})


def value_and_grad_of_chain(x: Any, links: Sequence[Link], loss: Link, seed: float = 1.0) -> float:
    """Run ``x`` through ``links`` and then ``loss`` (a gate with a scalar output, made
    for the shape and dtype of the last value), backpropagate from that output, add each
    parameter's gradient to its ``grad``; return the output as a float.

    ``seed`` is the gradient backpropagation starts from, as ``backward(gradient=seed)``
    takes it: each parameter then receives seed x d output / d parameter.

    ``x`` is an array that requires no gradient.  Nothing is recorded: the result is
    what ``backward()`` on the same gates gives, with the graph's bookkeeping left out.
    This runs once per training step, so it is written for speed: no call per link
    beyond the gate's own."""
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
    if not carried:
        raise RuntimeError(
            "no input of the chain requires a gradient (every parameter has "
            "requires_grad=False): there is nothing to backpropagate to"
        )
    if value.shape != ():  # a NumPy scalar or a 0-d array
        raise ValueError(
            f"the chain's last gate '{loss[0].name}' gave shape {value.shape}, not a scalar"
        )
    upstream = xp.array(seed, dtype=value.dtype)  # as backward(gradient=seed) seeds it
    for i in range(len(chain) - 1, -1, -1):
        output = outputs[i]
        if i < len(links) and (  # a gradient of the output's shape and dtype (the loss
            upstream.__class__ is not np.ndarray  # gets the seed as it is)
            or upstream.shape != output.shape
            or upstream.dtype is not output.dtype
        ):
            upstream = _fit(upstream, output)
        need = needs[i]
        gate, inputs, _ = chain[i]
        into = gate.vjp_into
        if (
            into is not None
            and upstream.__class__ is np.ndarray
            and upstream.base is None  # not a view: nothing else sees its memory
            and sys.getrefcount(upstream) == SOLE_REFERENCE  # and only `upstream` holds it
            and upstream.flags.writeable
        ):  # the gradient the link after this one made for it: this link may write over it
            grads = into(xp, upstream, saved[i], need)
        else:
            grads = gate.vjp(xp, upstream, saved[i], need)
        saved[i] = None  # freed as soon as it is used, as backward() frees a node's
        for k, tensor in enumerate(inputs, 1):
            grad = grads[k]
            if grad is None or not need[k]:
                continue
            data = tensor.data
            if (
                grad.__class__ is not np.ndarray
                or grad.shape != data.shape
                or grad.dtype is not data.dtype
            ):
                grad = _fit(grad, data)
            previous = tensor.grad  # accumulated across calls, never in place
            tensor.grad = grad if previous is None else _sum(previous, grad)
        upstream = grads[0]
        grads = None  # `upstream` is now the tuple's only reference left, when it was ours
        if upstream is None or not need[0]:  # nothing before this link wants a gradient
            break
    return float(value)

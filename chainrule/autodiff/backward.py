"""Backpropagation: walk the recorded graph backwards, applying the chain rule at each gate.

For every node, in reverse topological order (each node after all the nodes that use it):

    downstream gradient = upstream gradient x local gradient      (the gate's vjp)

and where a value feeds several gates, their gradients add (the notes' copy gate).

This module also holds what both walkers (this graph walker and the chain walker of
:mod:`.chain`) share: where backpropagation starts (:func:`seed`), the one way a
gradient reaches a tensor's ``grad`` (:func:`accumulate_grad`, which also records whether
the tensor owns that array), and the engine's one treatment of broadcasting
(:func:`unbroadcast`).
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .arrays import array_module
from .mode import check_finite, state

ndarray = np.ndarray

# Marks a node whose saved values were freed by an earlier backward.
RELEASED = object()

Hook = Callable[[Any, Any, tuple[Any, ...]], None]


# The gate nodes (non-leaf tensors) whose gradient backward keeps in ``grad``, as a leaf's
# (see :func:`retain_grad`): id -> a weak reference whose callback forgets the id when the
# node is gone.  By id, as tensors compare elementwise.  Empty, as it is unless a user
# asked, it costs backward one test per call.
_retaining: dict[int, weakref.ref] = {}


def _forget(key: int) -> Callable[[Any], None]:
    return lambda _ref: _retaining.pop(key, None)


def retain_grad(tensor: Any) -> None:
    """Make backward keep the gradient of the gate node ``tensor`` in its ``grad``, as
    PyTorch's ``Tensor.retain_grad()``: d(output)/d(tensor), the sum over all the
    gates that use it, added to ``grad`` (accumulating across backward calls, as a
    leaf's).  A leaf already keeps its gradient: no-op.  A tensor that does not require
    gradients has none to keep: RuntimeError."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "retain_grad() on a tensor that does not require grad: no gradient reaches it "
            "(no input of its computation had requires_grad=True, or it ran under no_grad())"
        )
    key = id(tensor)
    if tensor._gate is not None and key not in _retaining:
        _retaining[key] = weakref.ref(tensor, _forget(key))


def retains_grad(tensor: Any) -> bool:
    """Whether backward keeps ``tensor``'s gradient though it is a gate node."""
    return tensor._gate is not None and id(tensor) in _retaining


class GraphReleasedError(RuntimeError):
    """backward() reached a part of the graph whose saved values were already freed."""


def topological_order(root: Any) -> list[Any]:
    """The gate nodes (non-leaf tensors) that ``root`` depends on through tensors that
    require gradients, each after all the gate nodes it uses (root last).

    A node is always created after its inputs, so sorting the reachable nodes by their
    creation number gives a topological order: no recursion (graphs of any depth), the
    same order on every run, and one cheap sweep instead of a two-pass depth-first
    search.  Leaves are not listed: backward hands them their gradient directly."""
    if root._gate is None:
        return []
    nodes = [root]
    seen = {root}  # tensors hash by identity
    for node in nodes:  # the list grows while it is swept
        for parent in node._parents:
            if parent._gate is not None and parent not in seen:
                seen.add(parent)
                nodes.append(parent)
    nodes.sort(key=_creation_number)
    return nodes


_creation_number = operator.attrgetter("_seq")


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so that it takes
    the input's ``shape``: an input used at many positions gets the sum of their
    gradients (the copy gate again)."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def seed(output: Any, gradient: Any = None) -> Any:
    """The gradient backpropagation starts from at ``output`` (an array): d output /
    d output = 1, times ``gradient``.  ``gradient`` may be None (1) or a number for a
    single-element output, else an array (or tensor) of the output's shape; the seed is
    a new array of the output's shape and dtype (the caller's array stays theirs).
    Both walkers, the graph's and the chain's, start from it."""
    xp = np if output.__class__ is np.ndarray else array_module(output)
    if gradient.__class__ is float:  # the usual case: a number, as fit's step size
        start = xp.array(gradient, dtype=output.dtype)
        return start if start.shape == output.shape else _number_seed(start, output)
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a single-element output; this one "
                f"has shape {output.shape}. Pass backward(gradient) with an array of that "
                "shape (or reduce the output to a scalar first)."
            )
        gradient = 1
    elif hasattr(gradient, "data") and not hasattr(gradient, "__array_namespace__"):
        gradient = gradient.data  # a Tensor
    start = xp.array(gradient, dtype=output.dtype)
    return start if start.shape == output.shape else _number_seed(start, output)


def _number_seed(start: Any, output: Any) -> Any:
    """A 0-d seed given for a one-element output, reshaped to it; else the error."""
    if start.ndim == 0 and output.size == 1:
        return start.reshape(output.shape)
    if start.ndim == 0:
        raise ValueError(
            f"backward() from a number needs a single-element output; this one has shape "
            f"{output.shape}. Reduce it to a scalar first (a loss is a mean), or pass "
            "backward(gradient) an array of that shape."
        )
    raise ValueError(
        f"backward(gradient): the gradient has shape {start.shape} but the output "
        f"has shape {output.shape}"
    )


def accumulate_grad(tensor: Any, grad: Any, upstream: Any = None) -> None:
    """Add ``grad`` to ``tensor.grad``: the one way the engine delivers a gradient.

    ``grad`` is first fitted to the tensor: summed over the axes broadcasting added
    (:func:`unbroadcast`) and converted to its dtype.  Gradients accumulate across
    calls, always into a new array, never in place: a ``grad`` array may be one the user
    holds.  ``upstream`` is given by a walker for a ``grad`` that a vjp returned from
    that upstream gradient.  When the vjp made it (it is neither the upstream nor a
    view: by the gates' contract, see :mod:`.gates`, nothing else refers to it), or
    when fitting or summing made a new array, the tensor owns its gradient, and
    ``take_grads`` tells an optimizer that it may write over it, until somebody reads
    ``tensor.grad``."""
    data = tensor.data
    new = upstream is not None and grad is not upstream and grad.base is None
    if grad.__class__ is not ndarray or grad.shape != data.shape or grad.dtype is not data.dtype:
        fitted = _fit(grad, data)
        new = new or (upstream is not None and fitted is not grad and fitted.base is None)
        grad = fitted
    previous = tensor._grad
    if previous is not None:
        grad = _sum(previous, grad)
        new = True
    tensor._grad = grad
    tensor._grad_owned = new


def backward(
    root: Any, gradient: Any = None, retain_graph: bool = False, hook: Hook | None = None
) -> None:
    """Backpropagate from ``root`` into the ``grad`` of every leaf that requires it.

    ``hook(node, upstream, downstream)``, if given, is called for every gate node with
    the gradient arriving at it and the gradients it sends to its inputs (after
    unbroadcasting; None for an input that needs none).  Leaves are not nodes of the
    walk: they receive their gradients into ``grad`` as the gates send them.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the "
            "computation had requires_grad=True (or it ran under no_grad())"
        )
    data = root.data
    xp = np if data.__class__ is np.ndarray else array_module(data)
    start = seed(data, gradient)
    if root._gate is None:
        accumulate_grad(root, start)
        return
    order = topological_order(root)
    root._acc = start
    try:
        _walk(order, xp, retain_graph, hook, _retaining if _retaining else None)
    except BaseException:
        for node in order:  # leave no half-summed gradient behind
            node._acc = None
        raise


def _walk(
    order: list[Any],
    xp: Any,
    retain_graph: bool,
    hook: Hook | None,
    retaining: dict[int, weakref.ref] | None = None,
) -> None:
    """The backward sweep.  Each gate node collects the gradient arriving at it in its
    ``_acc`` slot (the sum over its consumers: the copy gate), passes upstream x local
    to its inputs through its gate's vjp, and, unless ``retain_graph``, frees what the
    gate saved.  Leaves receive theirs through :func:`accumulate_grad`, and so do the
    nodes in ``retaining`` (None when no node anywhere retains: one test per node).
    This loop runs once per gate of every training step: it is kept lean."""
    owned: set[int] = set()  # nodes whose _acc is a sum this walk made: added to in place
    anomaly = state.detect_anomaly
    for node in reversed(order):
        upstream = node._acc
        if upstream is None:  # a gate sent nothing to this node (a zero gradient)
            continue
        node._acc = None
        if retaining is not None and id(node) in retaining:
            accumulate_grad(node, upstream)  # complete: every consumer has sent its share
        gate = node._gate
        saved = node._saved
        if saved is RELEASED:
            raise GraphReleasedError(
                f"backward through gate '{gate.name}' a second time: its saved values "
                "were freed by the first backward(). Pass backward(retain_graph=True) "
                "to the first call if you need to backpropagate twice."
            )
        parents = node._parents
        needs = node._needs
        downstream = gate.vjp(xp, upstream, saved, needs)
        if hook is not None:
            downstream = tuple(
                None if g is None or not need else _fit(g, p.data)
                for g, p, need in zip(downstream, parents, needs, strict=True)
            )
            hook(node, upstream, downstream)
        made_from = upstream if hook is None else None  # a hook may keep what it is shown
        # plain zip: apply() made parents and needs together, and a vjp returning too
        # few gradients fails the gate tests; strict=True would be checked every node
        try:  # a gradient that cannot be its input's is named by its gate
            for parent, grad, need in zip(parents, downstream, needs):  # noqa: B905
                if grad is None or not need:
                    continue
                leaf = parent._gate is None
                if not leaf or anomaly:  # (accumulate_grad fits a leaf's gradient itself)
                    data = parent.data
                    if (
                        grad.__class__ is not ndarray
                        or grad.shape != data.shape
                        or grad.dtype is not data.dtype
                    ):
                        grad = _fit(grad, data)
                    if anomaly:
                        check_finite(grad, gate, "backward", [p.data for p in parents])
                if leaf:
                    accumulate_grad(parent, grad, made_from)
                    continue
                previous = parent._acc
                if previous is None:
                    parent._acc = grad
                elif id(parent) in owned:
                    previous += grad
                else:
                    parent._acc = _sum(previous, grad)
                    owned.add(id(parent))
        except ValueError as error:
            raise blamed(gate, error) from None
        if not retain_graph:
            node._saved = RELEASED
            node._parents = ()


def _fit(grad: Any, data: Any) -> Any:
    """Make a gate's gradient an array of the input's shape and dtype (NumPy turns a
    sum over every axis into a scalar: it is made an array again, last).  A gradient
    has the shape the input was broadcast to; one of any other shape is a gate's bug,
    refused here rather than summed or broadcast into a wrong answer."""
    if grad.shape != data.shape:
        reduced = unbroadcast(grad, data.shape)
        if reduced.shape != data.shape:  # summing the broadcast axes did not give it
            raise ValueError(
                f"a gradient of shape {grad.shape} cannot belong to an input of shape "
                f"{data.shape} (it is not that shape broadcast)"
            )
        grad = reduced
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    if isinstance(grad, np.generic):
        grad = np.asarray(grad)
    return grad


def blamed(gate: Any, error: ValueError) -> ValueError:
    """``error``, met delivering the gradients ``gate``'s vjp returned, naming the gate."""
    return ValueError(f"gate '{gate.name}': {error}")


def _sum(a: Any, b: Any) -> Any:
    """a + b as a new array (NumPy turns 0-d results into scalars; undo that)."""
    total = a + b
    return np.asarray(total) if isinstance(total, np.generic) else total

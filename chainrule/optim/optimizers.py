"""Optimizers: the notes' gradient descent theta(t+1) = theta(t) - eps(t) dLoss/dtheta,
and its refinements.  Updates are made in place on each parameter's array, with
buffers kept per parameter, so a step allocates nothing on the fast paths.

``step(release_grads=True)`` also drops the gradients, and then works in each gradient's
own array when nothing else can see it: that array is hot in the cache, a separate work
buffer is not, and on a large layer the difference is a pass through memory per step.

Small networks are the other regime: there the cost of a step is the number of NumPy
calls, not the data.  When all the parameters hold at most ``GROUP_LIMIT`` numbers, a
step updates them as one flat vector (as PyTorch's "foreach" optimizers do): a dozen
calls for Adam whatever the number of layers, instead of a dozen per parameter.  The
optimizer's buffers are then views of flat arrays; ``state_dict`` is the same either way.

The step size eps(t) is the optimizer's ``lr`` attribute; a schedule changes it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autodiff import Tensor, take_grads, zero_grad

# Parameters with at most this many numbers in all are updated as one flat vector.
GROUP_LIMIT = 1 << 15


class _Group:
    """The parameters laid end to end: each one's slice of a flat vector.  When their
    arrays already are consecutive parts of one array (``Module.flatten_parameters``),
    that array is the vector; otherwise values are copied in and out around a step."""

    def __init__(self, params: list[Tensor]) -> None:
        self.arrays = [p.data for p in params]
        self.shapes = [a.shape for a in self.arrays]
        self.dtype = self.arrays[0].dtype
        bounds = [0, *itertools.accumulate(a.size for a in self.arrays)]
        self.slices = [slice(a, b) for a, b in itertools.pairwise(bounds)]
        shared = _shared_base(self.arrays, bounds)
        self.shared = shared is not None
        self.theta = shared if shared is not None else np.empty(bounds[-1], dtype=self.dtype)
        self.theta_parts = self.parts(self.theta)
        self.work: np.ndarray | None = None
        self.grad: np.ndarray | None = None
        self.grad_parts: list[np.ndarray] = []
        self.buffers: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}

    def fits(self, params: list[Tensor]) -> bool:
        """Whether the parameters still hold the arrays this group was made from."""
        if len(params) != len(self.arrays):
            return False
        # a plain loop: all() over a generator costs more, and this runs once per step
        for p, array in zip(params, self.arrays):  # noqa: B905, SIM110 - lengths compared
            if p.data is not array:
                return False
        return True

    def parts(self, flat: np.ndarray) -> list[np.ndarray]:
        """Each parameter's part of ``flat``, as views of its shape."""
        return [flat[s].reshape(shape) for s, shape in zip(self.slices, self.shapes, strict=True)]


def _same_layout(buffer: np.ndarray | None, like: np.ndarray) -> bool:
    """Whether a kept buffer can serve for ``like``: it exists, with its shape and dtype."""
    return buffer is not None and buffer.shape == like.shape and buffer.dtype == like.dtype


def _shared_base(arrays: list[np.ndarray], bounds: list[int]) -> np.ndarray | None:
    """The 1-D array whose consecutive parts ``arrays`` are, exactly covering it, if any."""
    base = arrays[0].base
    if base is None or base.__class__ is not np.ndarray or base.ndim != 1:
        return None
    if base.size != bounds[-1] or not base.flags.c_contiguous:
        return None
    start, itemsize = base.ctypes.data, base.itemsize
    for array, offset in zip(arrays, bounds, strict=False):
        if array.base is not base or not array.flags.c_contiguous:
            return None
        if array.ctypes.data != start + offset * itemsize:
            return None
    return base


class Optimizer:
    """Base class: holds the parameters, the step size ``lr`` and per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list")
        if not 0 < lr < math.inf:
            raise ValueError(f"the learning rate must be positive and finite, got {lr}")
        self.lr = float(lr)
        self.initial_lr = self.lr
        self.steps = 0
        # how many steps skipped each parameter (it had no gradient): its own count of
        # updates is steps - skipped, which Adam's bias correction uses (as PyTorch does)
        self._skipped: list[int] = [0] * len(self.params)
        self.scratch: list[np.ndarray | None] = [None] * len(self.params)
        self._group: _Group | None = None
        # set when the parameters were found too many numbers (or of mixed dtypes) to
        # update as one vector: decided once, as their sizes do not change in training
        self._per_parameter = False
        self._uneven = False  # whether the update counts differ: len(set(_skipped)) > 1

    def zero_grad(self) -> None:
        zero_grad(self.params)

    # Whether _update may be given the gradient's own array as its work buffer.
    reuses_gradient = False

    def _groups(self) -> bool:
        """Whether the update costs enough NumPy calls per parameter to be worth copying
        small parameters into one flat vector and back (two calls each), when they are
        not one array already."""
        return True

    def step(self, release_grads: bool = False, prescaled: bool = False) -> None:
        """Update every parameter that has a gradient.

        ``release_grads=True`` also sets every ``p.grad`` to None, as :meth:`zero_grad`
        does, taking the gradients with ``take_grads``: the update then works in
        the gradient's own array when backpropagation made it for that parameter alone
        and nobody has read ``p.grad`` since.

        ``prescaled=True`` says that each ``grad`` already holds c g, with c this step's
        :meth:`plain_step_size` (backpropagation was seeded with c): the update is then
        theta -= grad, one pass through each gradient fewer than theta -= c g."""
        if prescaled:
            self._step_prescaled(release_grads)
            return
        self.steps += 1
        grads = self._group_grads()
        if grads is not None:
            self._step_group(grads, release_grads)
            return
        update = self._update
        scratch = self.scratch
        reuse = release_grads and self.reuses_gradient
        plain_lr = self.plain_step_size()
        params = self.params
        taken = take_grads(params, release_grads)
        for index, (p, (grad, owned)) in enumerate(zip(params, taken)):  # noqa: B905
            if grad is None:
                self._skip(index)
                continue
            theta = p.data
            if (
                reuse
                and owned  # made by backpropagation for p alone, seen by no one since
                and grad.dtype is theta.dtype
                and grad.shape == theta.shape
            ):
                if plain_lr is not None:  # theta -= lr g, in the gradient's own array
                    grad *= plain_lr
                    theta -= grad
                    continue
                work = grad
            else:
                work = scratch[index]
                if not _same_layout(work, theta):
                    work = scratch[index] = np.empty_like(theta)
            update(index, theta, grad, work)

    @property
    def updates(self) -> list[int]:
        """How many updates each parameter has had (a step without its gradient is not
        one of them)."""
        return [self.steps - skipped for skipped in self._skipped]

    def _skip(self, index: int) -> None:
        """Parameter ``index`` had no gradient in this step: its count falls behind."""
        self._skipped[index] += 1
        self._uneven = len(set(self._skipped)) > 1

    def plain_step_size(self) -> float | None:
        """The step size c when this step is the notes' theta -= c g and nothing more
        (SGD without momentum or weight decay), else None.

        A gradient is then only ever used multiplied by c, so a training loop may have
        backpropagation deliver c g directly (``value_and_grad``'s ``grad_scale=c``) and
        call ``step(prescaled=True)``; :meth:`step` also applies it inline, without a
        call per parameter."""
        return None

    def _step_prescaled(self, release_grads: bool) -> None:
        """theta -= grad for every parameter with a gradient, each grad holding c g."""
        if self.plain_step_size() is None:
            raise ValueError(
                f"step(prescaled=True): {self!r} does not update theta -= c g, so its "
                "gradients cannot arrive scaled (plain_step_size() is None)"
            )
        self.steps += 1
        params = self.params
        taken = take_grads(params, release_grads)
        for index, (p, (grad, _)) in enumerate(zip(params, taken)):  # noqa: B905
            if grad is None:
                self._skip(index)
            else:
                p.data -= grad

    def _group_grads(self) -> list[np.ndarray] | None:
        """The gradients, when this step updates all the parameters as one flat vector:
        there are several, all with a gradient, sharing a dtype and holding GROUP_LIMIT
        numbers at most; and the update is worth copying them, or they are one array."""
        params = self.params
        if self._per_parameter or len(params) < 2:
            return None
        group = self._group
        if group is None or not group.fits(params):
            dtype = params[0].data.dtype
            if sum(p.data.size for p in params) > GROUP_LIMIT or any(
                p.data.dtype != dtype for p in params
            ):
                self._per_parameter = True
                return None
            group = self._group = _Group(params)
        if not (group.shared or self._groups()):
            return None
        grads = []
        dtype = group.dtype
        for p, shape in zip(params, group.shapes):  # noqa: B905 - fits() compared lengths
            grad = p.grad  # read, to be copied into the flat vector
            if grad is None or grad.shape != shape or grad.dtype is not dtype:
                return None
            grads.append(grad)
        return grads

    def _step_group(self, grads: list[np.ndarray], release_grads: bool) -> None:
        group = self._group
        if group.grad is None:  # the gradients end to end: ours alone, so also work space
            group.grad = np.empty_like(group.theta)
            group.grad_parts = group.parts(group.grad)
        grad = group.grad
        for part, g in zip(group.grad_parts, grads):  # noqa: B905 - one per parameter
            part[...] = g  # cheaper than np.concatenate on small arrays
        if release_grads:
            take_grads(self.params)
        if not group.shared:
            for part, p in zip(group.theta_parts, self.params, strict=True):
                part[...] = p.data
        work = grad
        if not self.reuses_gradient:
            if group.work is None:
                group.work = np.empty_like(group.theta)
            work = group.work
        self._update(None, group.theta, grad, work)
        if not group.shared:
            for part, p in zip(group.theta_parts, self.params, strict=True):
                p.data[...] = part

    def _buffer(self, name: str, index: int | None, like: np.ndarray) -> np.ndarray:
        """The state array ``name`` (a list attribute, one entry per parameter) for
        parameter ``index``, zeros at first; for ``index=None`` (the grouped update)
        one flat array whose parts are the entries, kept in the list as views."""
        entries = getattr(self, name)
        if index is not None:
            buffer = entries[index]
            if not _same_layout(buffer, like):
                buffer = entries[index] = np.zeros_like(like)
            return buffer
        group = self._group
        flat, parts = group.buffers.get(name, (None, None))
        if parts is None or any(e is not v for e, v in zip(entries, parts, strict=True)):
            flat = np.zeros_like(group.theta)  # (re)built from the entries, e.g. after a load
            parts = group.parts(flat)
            for i, (entry, part) in enumerate(zip(entries, parts, strict=True)):
                if entry is not None:
                    part[...] = entry
                entries[i] = part
            group.buffers[name] = (flat, parts)
        return flat

    def _update(
        self, index: int | None, theta: np.ndarray, grad: np.ndarray, work: np.ndarray
    ) -> None:
        """Update ``theta`` in place from ``grad``; ``work`` is an array of theta's shape
        for intermediate values, which may be ``grad`` itself when the subclass sets
        ``reuses_gradient`` (then grad must be read before work is written).  ``index``
        is the parameter's, or None when theta is all the parameters end to end; state
        arrays come from :meth:`_buffer`, which handles both."""
        raise NotImplementedError

    # State -------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def buffers(self) -> dict[str, list[np.ndarray | None]]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, step count and buffers (copies), as plain data and arrays."""
        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "updates": list(self.updates),
            "hyperparameters": self.hyperparameters(),
            "buffers": {
                k: [None if b is None else b.copy() for b in v] for k, v in self.buffers().items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"state of a {state.get('type')} given to a {type(self).__name__}")
        self.steps = int(state["steps"])
        updates = state.get("updates", [self.steps] * len(self.params))  # older states
        if len(updates) != len(self.params):
            raise ValueError("optimizer update counts do not fit these parameters")
        self._skipped = [self.steps - int(count) for count in updates]
        self._uneven = len(set(self._skipped)) > 1
        for name, value in state["hyperparameters"].items():
            setattr(self, name, value)
        own = self.buffers()
        for name, arrays in state["buffers"].items():
            if name not in own or len(arrays) != len(self.params):
                raise ValueError(f"optimizer buffer '{name}' does not fit these parameters")
            for i, array in enumerate(arrays):
                own[name][i] = (
                    None if array is None else np.array(array, dtype=self.params[i].dtype)
                )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional momentum, Nesterov momentum and L2 weight decay:

        g = dL/dtheta + weight_decay theta
        v = momentum v + g                                  (v = g on the first step)
        theta -= lr (g + momentum v)   if nesterov, else   theta -= lr v

    With momentum 0 this is exactly the notes' update theta -= eps(t) g.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def buffers(self):
        return {"velocity": self.velocity}

    reuses_gradient = True

    def _groups(self) -> bool:
        # plain and heavy-ball updates take 2 to 4 calls, no more than the copies
        return self.nesterov or bool(self.weight_decay)

    def plain_step_size(self) -> float | None:
        return None if self.momentum or self.weight_decay else self.lr

    def _update(self, index, theta, grad, work):
        lr = self.lr  # a Python float: the parameter's dtype is kept
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        if not self.momentum:  # on a gradient step() owns, step() does this inline
            np.multiply(grad, lr, out=work)
            theta -= work
            return
        v = self._buffer("velocity", index, theta)  # zeros at first, so v = g on step 1
        v *= self.momentum
        v += grad
        if self.nesterov:  # theta -= lr g + lr momentum v, g read before work is written
            np.multiply(grad, lr, out=work)
            theta -= work
            np.multiply(v, lr * self.momentum, out=work)
        else:
            np.multiply(v, lr, out=work)
        theta -= work


class Adam(Optimizer):
    """Adam (Kingma and Ba): running means of the gradient and its square, bias-corrected:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    The state kept is the discounted sums M = m / (1 - b1) and V = v / (1 - b2)
    (``grad_sum`` and ``square_sum``), which need no scaling of g:

        M = b1 M + g,   V = b2 V + g^2,   theta -= c M / (sqrt(V) + e)
        with s = sqrt((1 - b2) / (1 - b2^t)),  c = lr (1 - b1) / ((1 - b1^t) s),  e = eps / s

    That is two passes through memory per parameter fewer than the textbook form, and
    state_dict gives the sums as they are, so a resumed run continues bit for bit.  t
    counts the parameter's own updates: one that had no gradient in a step keeps its
    count (as in PyTorch), so its bias correction is that of its first update.

    ``weight_decay`` adds an L2 term to g (for decoupled decay use AdamW).
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        if not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ValueError(f"Adam's betas must each be in [0, 1), got {betas}")
        if not 0.0 < self.eps < math.inf:
            raise ValueError(f"Adam's eps must be positive and finite, got {eps}")
        if not 0.0 <= self.weight_decay < math.inf:
            raise ValueError(f"weight_decay must be >= 0 and finite, got {weight_decay}")
        self.grad_sum: list[np.ndarray | None] = [None] * len(self.params)
        self.square_sum: list[np.ndarray | None] = [None] * len(self.params)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def buffers(self):
        return {"grad_sum": self.grad_sum, "square_sum": self.square_sum}

    reuses_gradient = True

    def _update(self, index, theta, grad, work):
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                theta *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * theta
        grad_sum = self._buffer("grad_sum", index, theta)  # zeros at first
        square_sum = self._buffer("square_sum", index, theta)
        grad_sum *= b1  # M = b1 M + g
        grad_sum += grad
        np.multiply(grad, grad, out=work)  # the last read of grad, which work may be
        square_sum *= b2  # V = b2 V + g^2
        square_sum += work
        np.sqrt(square_sum, out=work)
        if index is None and self._uneven:  # one vector of parameters with their own t
            group = self._group
            parts = zip(group.parts(work), group.parts(grad_sum), self.updates, strict=True)
            for work_part, grad_sum_part, t in parts:
                self._corrected_step(work_part, grad_sum_part, t)
        else:
            t = self.steps - self._skipped[0 if index is None else index]
            self._corrected_step(work, grad_sum, t)
        theta -= work

    def _corrected_step(self, work: np.ndarray, grad_sum: np.ndarray, t: int) -> None:
        """work = c M / (sqrt(V) + e) from work = sqrt(V), for a parameter's t updates."""
        b1, b2 = self.betas
        s = math.sqrt((1.0 - b2) / (1.0 - b2**t))
        work += self.eps / s
        np.divide(grad_sum, work, out=work)
        work *= self.lr * (1.0 - b1) / ((1.0 - b1**t) * s)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): theta *= 1 - lr wd
    before the Adam step, instead of adding wd theta to the gradient."""

    decoupled = True

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of its recent values:

    s = alpha s + (1 - alpha) g^2,   theta -= lr g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.square_avg: list[np.ndarray | None] = [None] * len(self.params)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def buffers(self):
        return {"square_avg": self.square_avg}

    def _update(self, index, theta, grad, work):
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        s = self._buffer("square_avg", index, theta)
        tmp = work
        s *= self.alpha
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - self.alpha
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(grad, tmp, out=tmp)
        tmp *= self.lr
        theta -= tmp

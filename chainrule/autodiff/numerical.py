"""Numerical differentiation, the notes' second way to get a gradient, and ``gradcheck``,
which compares it with the engine's.

Central differences: df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), whose error
is O(eps^2) against the one-sided formula's O(eps).  Slow (two evaluations of f per
element) and approximate, but independent of the engine: a good oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .mode import no_grad
from .tensors import Tensor


def _float64_leaves(inputs: Sequence[Any]) -> list[Tensor]:
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    return [Tensor(a, requires_grad=True) for a in arrays]


def _scalar(output: Any, direction: np.ndarray | None) -> float:
    value = np.asarray(output.data if isinstance(output, Tensor) else output, dtype=np.float64)
    if direction is not None:
        return float((value * direction).sum())
    if value.size != 1:
        raise ValueError(
            f"the function returns shape {value.shape}; numerical_grad needs a scalar "
            "output or a grad_output of that shape"
        )
    return float(value.reshape(()))


def numerical_grad(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    grad_output: Any = None,
) -> list[np.ndarray]:
    """Central-difference gradient of ``f`` at ``inputs``, in float64, one array per input.

    ``f`` takes tensors and returns a tensor.  For a non-scalar output pass
    ``grad_output``: the result is then the gradient of sum(f * grad_output).
    """
    leaves = _float64_leaves(inputs)
    direction = None if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    grads = []
    with no_grad():
        for leaf in leaves:
            grad = np.zeros_like(leaf.data)
            flat = leaf.data.reshape(-1)
            for i in range(flat.size):
                original = flat[i]
                flat[i] = original + eps
                above = _scalar(f(*leaves), direction)
                flat[i] = original - eps
                below = _scalar(f(*leaves), direction)
                flat[i] = original
                grad.reshape(-1)[i] = (above - below) / (2 * eps)
            grads.append(grad)
    return grads


@dataclass(frozen=True)
class InputCheck:
    """How one input's autodiff gradient compares with its numerical gradient."""

    index: int
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """The outcome of :func:`gradcheck`, one :class:`InputCheck` per input."""

    inputs: tuple[InputCheck, ...]
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.inputs)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"gradcheck (atol={self.atol:g}, rtol={self.rtol:g})"]
        lines.append(f"{'input':>5}  {'shape':<14}{'max abs err':>12}{'max rel err':>12}  result")
        for c in self.inputs:
            lines.append(
                f"{c.index:>5}  {c.shape!s:<14}{c.max_abs_error:>12.3e}"
                f"{c.max_rel_error:>12.3e}  {'ok' if c.passed else 'FAILED'}"
            )
        return "\n".join(lines)


class GradcheckError(AssertionError):
    """Autodiff and numerical gradients disagree; the message holds the report."""


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    eps: float = 1e-6,
    raise_on_failure: bool = False,
    seed: int = 0,
) -> GradcheckReport:
    """Compare the engine's gradient of ``f`` with central differences, in float64.

    Every input becomes a float64 leaf requiring a gradient (pass non-differentiable
    arguments through a closure).  A non-scalar output is projected on a fixed random
    direction v (seeded), and the gradient of sum(f * v) is compared, as HIPS autograd's
    ``check_grads`` does.  An element passes when |auto - numeric| <= atol + rtol |numeric|.
    """
    leaves = _float64_leaves(inputs)
    output = f(*leaves)
    direction = None
    if output.data.size != 1:
        direction = np.random.default_rng(seed).standard_normal(output.shape)
    output.backward(None if direction is None else direction)
    numeric = numerical_grad(f, *leaves, eps=eps, grad_output=direction)
    checks = []
    for i, (leaf, expected) in enumerate(zip(leaves, numeric, strict=True)):
        actual = np.zeros_like(expected) if leaf.grad is None else leaf.grad
        error = np.abs(actual - expected)
        relative = error / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
        ok = bool(np.all(error <= atol + rtol * np.abs(expected)))
        checks.append(
            InputCheck(
                index=i,
                shape=tuple(leaf.shape),
                max_abs_error=float(error.max(initial=0.0)),
                max_rel_error=float(relative.max(initial=0.0)),
                passed=ok,
            )
        )
    report = GradcheckReport(tuple(checks), atol, rtol)
    if raise_on_failure and not report.passed:
        raise GradcheckError(str(report))
    return report

"""Optimizers: the notes' gradient descent theta(t+1) = theta(t) - eps(t) dLoss/dtheta,
and its refinements.  Updates are made in place on each parameter's array, with
buffers kept per parameter, so a step allocates nothing on the fast paths.

The step size eps(t) is the optimizer's ``lr`` attribute; a schedule changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autodiff import Tensor


class Optimizer:
    """Base class: holds the parameters, the step size ``lr`` and per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.initial_lr = self.lr
        self.steps = 0
        self.scratch: list[np.ndarray | None] = [None] * len(self.params)

    def _scratch(self, index: int, theta: np.ndarray) -> np.ndarray:
        """A per-parameter work array, reused by every step (no allocation per step)."""
        buffer = self.scratch[index]
        if buffer is None or buffer.shape != theta.shape or buffer.dtype != theta.dtype:
            buffer = self.scratch[index] = np.empty_like(theta)
        return buffer

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        self.steps += 1
        update = self._update
        for index, p in enumerate(self.params):
            grad = p.grad
            if grad is not None:
                update(index, p.data, grad)

    def _update(self, index: int, theta: np.ndarray, grad: np.ndarray) -> None:
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
            "hyperparameters": self.hyperparameters(),
            "buffers": {
                k: [None if b is None else b.copy() for b in v] for k, v in self.buffers().items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"state of a {state.get('type')} given to a {type(self).__name__}")
        self.steps = int(state["steps"])
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

    def _update(self, index, theta, grad):
        lr = self.lr  # a Python float: the parameter's dtype is kept
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        buffer = self._scratch(index, theta)
        if not self.momentum:
            np.multiply(grad, lr, out=buffer)
            theta -= buffer
            return
        v = self.velocity[index]
        if v is None:
            v = self.velocity[index] = np.array(grad, dtype=theta.dtype)
        else:
            v *= self.momentum
            v += grad
        if self.nesterov:
            np.multiply(v, self.momentum, out=buffer)
            buffer += grad
            buffer *= lr
        else:
            np.multiply(v, lr, out=buffer)
        theta -= buffer


class Adam(Optimizer):
    """Adam (Kingma and Ba): running means of the gradient and its square, bias-corrected:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

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
        self.m: list[np.ndarray | None] = [None] * len(self.params)
        self.v: list[np.ndarray | None] = [None] * len(self.params)

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def buffers(self):
        return {"m": self.m, "v": self.v}

    def _update(self, index, theta, grad):
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                theta *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * theta
        m, v = self.m[index], self.v[index]
        if m is None:
            m = self.m[index] = np.zeros_like(theta)
            v = self.v[index] = np.zeros_like(theta)
        tmp = self._scratch(index, theta)
        t = self.steps
        # m = b1 m + (1 - b1) g
        m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m += tmp
        # v = b2 v + (1 - b2) g^2
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), written as
        # lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps sqrt(1 - b2^t)): one pass fewer
        root = np.sqrt(1.0 - b2**t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * root
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * root / (1.0 - b1**t)
        theta -= tmp


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

    def _update(self, index, theta, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        s = self.square_avg[index]
        if s is None:
            s = self.square_avg[index] = np.zeros_like(theta)
        tmp = self._scratch(index, theta)
        s *= self.alpha
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - self.alpha
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(grad, tmp, out=tmp)
        tmp *= self.lr
        theta -= tmp

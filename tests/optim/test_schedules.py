"""The learning-rate schedules eps(t)."""

import math

import numpy as np
import pytest

from chainrule import nn, optim


def optimizer(lr=1.0):
    return optim.SGD([nn.Parameter(np.zeros(1))], lr=lr)


def lrs(schedule, epochs=6, metrics=None):
    out = []
    for t in range(epochs):
        schedule.step(None if metrics is None else metrics[t])
        out.append(schedule.optimizer.lr)
    return out


def test_constant_inverse_step_exponential_cosine():
    assert lrs(optim.ConstantLR(optimizer(0.3))) == [0.3] * 6
    assert lrs(optim.InverseScalingLR(optimizer(1.0), power_t=0.5), 3) == pytest.approx(
        [1 / math.sqrt(2), 1 / math.sqrt(3), 1 / 2]
    )
    assert lrs(optim.StepLR(optimizer(1.0), step_size=2, gamma=0.5)) == pytest.approx(
        [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    )
    assert lrs(optim.ExponentialLR(optimizer(1.0), gamma=0.9), 3) == pytest.approx(
        [0.9, 0.81, 0.729]
    )
    cosine = lrs(optim.CosineLR(optimizer(1.0), T_max=4, eta_min=0.1), 6)
    assert cosine[1] == pytest.approx(0.1 + 0.9 * 0.5)  # halfway
    assert cosine[3:] == pytest.approx([0.1, 0.1, 0.1])


def test_reduce_on_plateau():
    schedule = optim.ReduceLROnPlateau(
        optimizer(1.0), factor=0.5, patience=2, min_delta=0.0, min_lr=0.2
    )
    values = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    got = lrs(schedule, len(values), values)
    assert got == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    tail = lrs(schedule, 3, [4.0] * 3)
    assert tail[-1] == 0.2  # never below min_lr
    with pytest.raises(ValueError, match="monitored value"):
        schedule.step()
